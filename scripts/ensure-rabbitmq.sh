#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers at $AMQP_URI (default amqp://guest:guest@127.0.0.1:5672/).
#
# * reachable            -> exit 0, print nothing
# * not reachable, local -> install the Debian package if needed, then start a node whose data,
#                           logs and pid live under var/rabbitmq/ (marker file records that we
#                           started it, so scripts/stop-rabbitmq.sh only stops our own node)
#
# The node-isolating environment (nodename, ports, config/cookie/data paths, ...) is defined once,
# in tests/support/rabbitmq.py (RabbitNode.isolation_env); this script drives it via its CLI.
# Never touches the system node rabbit@localhost.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AMQP_URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
BASE_REL="var/rabbitmq"
BASE="$REPO/$BASE_REL"
MARKER="$BASE/started-by-ensure-rabbitmq"
START_TIMEOUT=120

# --- host and port out of scheme://[user[:pass]@]host[:port][/vhost]
rest="${AMQP_URI#*://}"
rest="${rest%%/*}"
rest="${rest##*@}"
if [[ "$rest" == \[* ]]; then            # [ipv6]:port
    host="${rest%%]*}"; host="${host#[}"
    port="${rest##*]}"; port="${port#:}"
else
    host="${rest%%:*}"; port=""
    [[ "$rest" == *:* ]] && port="${rest##*:}"
fi
host="${host:-127.0.0.1}"
port="${port:-5672}"

tcp_ok() { timeout 3 bash -c ": > /dev/tcp/$1/$2" 2>/dev/null; }

if tcp_ok "$host" "$port"; then
    exit 0
fi

case "$host" in
    127.0.0.1|localhost) ;;
    *) echo "ensure-rabbitmq: $host:$port is not reachable and is not a local address; start that broker yourself" >&2
       exit 1 ;;
esac

# --- install the server if missing
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    echo "ensure-rabbitmq: rabbitmq-server not installed; installing it with apt-get..." >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >&2
    $SUDO apt-get install -y -q --no-install-recommends rabbitmq-server >&2
    # The package may have started its own service (rabbit@<host> on 5672): give it a moment.
    if pgrep -u rabbitmq -f beam.smp >/dev/null 2>&1; then
        for _ in $(seq 1 60); do
            if tcp_ok "$host" "$port"; then
                echo "ensure-rabbitmq: installed rabbitmq-server; its system service is answering on $host:$port"
                exit 0
            fi
            sleep 1
        done
    fi
fi

# --- start our own node under var/rabbitmq
PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
mkdir -p "$BASE"
cd "$REPO"
if ! nodename="$("$PY" -m tests.support.rabbitmq start --base "$BASE_REL" --port "$port" --timeout "$START_TIMEOUT")"; then
    echo "ensure-rabbitmq: could not start a local RabbitMQ node on port $port (logs: $BASE_REL/log/)" >&2
    tail -n 30 "$BASE/log/rabbit.log" 2>/dev/null >&2 || true
    exit 1
fi
printf '%s\nstarted %s\n' "$nodename" "$(date -Is)" > "$MARKER"
echo "started local RabbitMQ node $nodename (data in $BASE_REL)"
