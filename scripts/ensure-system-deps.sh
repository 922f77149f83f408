#!/usr/bin/env bash
# System packages the tests start for real: redis-server (Debian). Installed when missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing: install it (Debian/Ubuntu: apt-get install redis-server)" >&2
  exit 1
fi
echo "ensure-system-deps: installing redis-server" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The package starts a system-wide instance; tests start their own on free ports.
(systemctl disable --now redis-server 2>/dev/null || service redis-server stop 2>/dev/null || true) >/dev/null
