#!/usr/bin/env bash
# Builds the real kube-apiserver, etcd and kubectl the operator tests run, from the pinned Go
# module in e2e/kube-binaries, once per machine: the binaries are cached outside the repo,
# keyed by the module's versions and by how they are built (a change to the commands or
# flags below builds them again; Go's build cache keeps that to relinking). kube-apiserver
# and kubectl carry their real version (Helm checks a chart's kubeVersion against it).
# Concurrent callers wait for one build. Prints the directory that holds them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
module="$root/e2e/kube-binaries"
kube_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$module/go.mod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' "$module/go.mod")"
IFS=. read -r major minor _ <<<"${kube_version#v}"
version_flags=""
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $package.gitVersion=$kube_version -X $package.gitMajor=$major -X $package.gitMinor=$minor"
  version_flags+=" -X $package.gitTreeState=clean"
done
# name=import path of each command, built with these flags.
commands=(
  "etcd=go.etcd.io/etcd/server/v3"
  "kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver"
  "kubectl=k8s.io/kubernetes/cmd/kubectl"
)
ldflags="-s -w$version_flags"
recipe="$(printf '%s\n' "${commands[@]}" "$ldflags" | cat - "$module/go.sum" | sha256sum | cut -c1-8)"
cache="${KUBE_BINARIES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oidc-proxy/kube-${kube_version}-etcd-${etcd_version}-${recipe}}"

built() {
  for command in "${commands[@]}"; do [ -x "$cache/${command%%=*}" ] || return 1; done
}
if built; then
  echo "$cache"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kube-binaries: Go is needed to build kube-apiserver, etcd and kubectl (apt-get install golang, or go.dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if built; then
  echo "$cache"
  exit 0
fi
echo "ensure-kube-binaries: building kube-apiserver and kubectl $kube_version, etcd $etcd_version (first run only; several minutes)" >&2
staging="$(mktemp -d "$cache.tmp.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
cd "$module"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
for command in "${commands[@]}"; do
  go build -trimpath -ldflags "$ldflags" -o "$staging/${command%%=*}" "${command#*=}"
done
rm -rf "$cache"
mv "$staging" "$cache"
echo "$cache"
