#!/usr/bin/env bash
# Installs mcp-oidc-proxy as a systemd service (the seed's install.sh, made repeatable):
#   sudo ./install.sh path/to/mcp-oidc-proxy [path/to/config.yaml]
# ROOT=/some/dir installs into a staging tree instead of / (no users, no systemctl): used by
# the tests and by image builders.
set -euo pipefail

binary="${1:?usage: install.sh BINARY [CONFIG]}"
config="${2:-$(dirname "$0")/../../configs/config.example.yaml}"
root="${ROOT:-}"
here="$(cd "$(dirname "$0")" && pwd)"

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system"
install -m 0755 "$binary" "$root/usr/local/bin/mcp-oidc-proxy"

# Configuration: kept if already there (an upgrade must not overwrite it).
install -d -m 0750 "$root/etc/mcp-proxy"
if [ ! -e "$root/etc/mcp-proxy/config.yaml" ]; then
  install -m 0640 "$config" "$root/etc/mcp-proxy/config.yaml"
fi
# Secrets go here (OIDC_CLIENT_SECRET=..., SESSION_SECRET=...), readable by root only.
if [ ! -e "$root/etc/mcp-proxy/environment" ]; then
  install -m 0600 /dev/null "$root/etc/mcp-proxy/environment"
fi
install -d -m 0750 "$root/var/lib/mcp-proxy"
install -m 0644 "$here/mcp-oidc-proxy.service" "$root/etc/systemd/system/mcp-oidc-proxy.service"

if [ -n "$root" ]; then
  echo "installed into $root (user, ownership and systemctl skipped)"
  exit 0
fi

if ! id -u mcp-proxy >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin mcp-proxy
fi
chown -R root:mcp-proxy /etc/mcp-proxy
chown mcp-proxy:mcp-proxy /var/lib/mcp-proxy

systemctl daemon-reload
systemctl enable mcp-oidc-proxy
systemctl restart mcp-oidc-proxy
echo "mcp-oidc-proxy installed; logs: journalctl -u mcp-oidc-proxy -f"
