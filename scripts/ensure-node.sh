#!/usr/bin/env bash
# Make sure a Node.js 24 LTS binary is available. If the machine's node is older,
# install the official build from the npm registry (package node-<platform>-<arch>)
# into .tools/node24 and print the directory to prepend to PATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want_major=24
local_bin="$root/.tools/node24/node_modules/node-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')/bin"

if [ -x "$local_bin/node" ]; then
  echo "$local_bin"
  exit 0
fi
if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -ge "$want_major" ]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi
pkg="node-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"
echo "ensure-node: installing $pkg@$want_major into .tools/node24" >&2
mkdir -p "$root/.tools/node24"
npm install --silent --no-save --no-package-lock --prefix "$root/.tools/node24" "$pkg@$want_major" >&2
"$local_bin/node" --version >&2
echo "$local_bin"
