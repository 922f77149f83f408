#!/usr/bin/env bash
# Installs mcp-oidc-proxy as a systemd service (the seed's install.sh, made repeatable):
#   sudo ./install.sh path/to/mcp-oidc-proxy [path/to/config.yaml]
# The service is enabled, and started (or restarted, on an upgrade) only when its
# configuration passes --config-test with the secrets file: the example configuration has no
# OpenID provider, and a service started with it would exit at once, again every 5 s.
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
# The unit's LogsDirectory (the audit trail's file); systemd makes it at start, made here too
# so --config-test below finds a configured audit file's directory writable.
install -d -m 0750 "$root/var/log/mcp-proxy"
install -m 0644 "$here/mcp-oidc-proxy.service" "$root/etc/systemd/system/mcp-oidc-proxy.service"

if [ -z "$root" ]; then
  if ! id -u mcp-proxy >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin mcp-proxy
  fi
  chown -R root:mcp-proxy /etc/mcp-proxy
  chown mcp-proxy:mcp-proxy /var/lib/mcp-proxy /var/log/mcp-proxy
fi

# The installed binary checks the installed configuration with the secrets file's variables
# (KEY=value lines, read here as the unit's EnvironmentFile= reads them), as the service user
# where there is one, so a file it cannot read fails here too.
config_test() {
  (
    set -a
    # shellcheck source=/dev/null
    . "$root/etc/mcp-proxy/environment"
    set +a
    run=()
    if [ -z "$root" ]; then run=(setpriv --reuid=mcp-proxy --regid=mcp-proxy --clear-groups); fi
    exec "${run[@]}" "$root/usr/local/bin/mcp-oidc-proxy" --config "$root/etc/mcp-proxy/config.yaml" --config-test
  )
}

state="installed into $root"
if [ -z "$root" ]; then
  systemctl daemon-reload
  systemctl enable mcp-oidc-proxy
  state="installed and enabled"
else
  echo "installed into $root (user, ownership and systemctl skipped)"
fi

if ! problems="$(config_test 2>&1)"; then
  cat <<MESSAGE
mcp-oidc-proxy is $state, but not started: its configuration does not pass
--config-test yet.
$problems

Fill in /etc/mcp-proxy/config.yaml (settings; configs/config.example.yaml documents each)
and /etc/mcp-proxy/environment (secrets, one KEY=value a line), e.g.
  OIDC_DISCOVERY_URL=https://login.example.com/realms/company
  OIDC_CLIENT_ID=mcp-proxy
  OIDC_CLIENT_SECRET=...
  SESSION_SECRET=...   (32+ random characters: openssl rand -hex 32)
then run this script again, which starts the service once the check passes.
MESSAGE
  exit 0
fi

if [ -n "$root" ]; then
  echo "configuration OK: the service would be started"
  exit 0
fi
systemctl restart mcp-oidc-proxy
echo "mcp-oidc-proxy started; logs: journalctl -u mcp-oidc-proxy -f"
