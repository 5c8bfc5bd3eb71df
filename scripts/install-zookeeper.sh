#!/usr/bin/env bash
# Installs Debian's zookeeper (and its Java runtime) when missing: the
# cluster tests and make bench-cluster start a private ZooKeeper process
# from its jars (internal/chserver/zookeeper.go); the system service is
# never used.
set -euo pipefail
if [ -f /usr/share/java/zookeeper.jar ] && [ -f /usr/share/java/slf4j-simple.jar ] && command -v java >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q zookeeper
