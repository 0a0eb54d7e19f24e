#!/usr/bin/env bash
# Stop the local RabbitMQ node under var/rabbitmq/ -- only if scripts/ensure-rabbitmq.sh started it
# (marker file var/rabbitmq/started-by-ensure-rabbitmq). Data is kept for the next start.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE_REL="var/rabbitmq"
MARKER="$REPO/$BASE_REL/started-by-ensure-rabbitmq"

if [ ! -f "$MARKER" ]; then
    echo "stop-rabbitmq: no local node started by ensure-rabbitmq.sh; nothing to stop"
    exit 0
fi

PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
cd "$REPO"
"$PY" -m tests.support.rabbitmq stop --base "$BASE_REL"
rm -f "$MARKER"
