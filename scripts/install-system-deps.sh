#!/usr/bin/env bash
# Installs the Debian packages the platform and its tests need, only those that are missing.
#   scripts/install-system-deps.sh run    # what `make run` needs
#   scripts/install-system-deps.sh test   # what `make test` needs
set -euo pipefail
purpose="${1:-test}"

need=()
have() { command -v "$1" >/dev/null 2>&1; }
# RabbitMQ: `make run` starts a local node if none is reachable; tests always start their own.
have rabbitmq-server || need+=(rabbitmq-server)
if [ "$purpose" = "test" ]; then
  # PostgreSQL: tests use the one on 127.0.0.1:5432 if it answers, else a throwaway cluster.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  have pg_isready || need+=(postgresql-client)
  # Browser tests: Debian's chromium driven by Playwright (no browser download), Thai fonts.
  [ -x /usr/bin/chromium ] || need+=(chromium)
  dpkg -s fonts-thai-tlwg >/dev/null 2>&1 || need+=(fonts-thai-tlwg)
  # Debian's prometheus package: promtool checks the config and unit-tests the alert rules; an
  # integration test runs the server itself against a throwaway broker. Installing the package does not start a Prometheus server in a container
  # without systemd; on a machine with systemd, `systemctl disable --now prometheus` if unwanted.
  have promtool || need+=(prometheus)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
