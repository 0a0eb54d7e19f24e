#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432; if not, install the Debian package if needed and
# start the packaged cluster (pg_ctlcluster <ver> main start). Exit 0 once it is reachable.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
WAIT_SECONDS=60

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT"
    else
        timeout 3 bash -c ": > /dev/tcp/$HOST/$PORT" 2>/dev/null
    fi
}

if pg_ready; then
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "ensure-postgres: PostgreSQL server not installed; installing it with apt-get..." >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >&2
    $SUDO apt-get install -y -q --no-install-recommends postgresql >&2
fi

ver="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$ver main"; then
    echo "ensure-postgres: creating cluster $ver/main on port $PORT" >&2
    $SUDO pg_createcluster "$ver" main --port "$PORT" >&2
fi

if ! pg_ready; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
    if pg_ready; then
        if ! PGCONNECT_TIMEOUT=3 psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
            echo "ensure-postgres: note: $HOST:$PORT is up but user postgres can't log in without a password" \
                 "(pg_hba.conf); tests will fall back to a throwaway cluster" >&2
        fi
        echo "started PostgreSQL cluster $ver/main on $HOST:$PORT"
        exit 0
    fi
    sleep 1
done

echo "ensure-postgres: PostgreSQL $ver/main did not become ready on $HOST:$PORT within ${WAIT_SECONDS}s" >&2
pg_lsclusters >&2 || true
tail -n 30 "/var/log/postgresql/postgresql-$ver-main.log" >&2 2>/dev/null || true
exit 1
