#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian machine of our kind:
# ClickHouse (Debian's package), ZooKeeper (Debian's package, for the
# cluster tests of internal/clustercheck), the pinned npm packages of e2e/
# (from the lock file), Debian's Chromium for the browser tests and gdb,
# which reads the stack of a crashed clickhouse-server from its core file.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-clickhouse.sh
scripts/install-zookeeper.sh
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v gdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium gdb
fi
if [ -f e2e/package-lock.json ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
