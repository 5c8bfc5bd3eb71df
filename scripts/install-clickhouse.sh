#!/usr/bin/env bash
# Installs Debian's clickhouse-server and clickhouse-client when missing.
# remarket never uses the system service: tests and `make run` start their
# own server process with a generated config (internal/chserver).
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q clickhouse-server clickhouse-client
