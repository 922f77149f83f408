#!/usr/bin/env bash
# Fetches the CRDs of Argo CD (Application), Flux (GitRepository, HelmRelease,
# Kustomization) and Flagger (Canary) from their Go modules, at pinned versions, into the Go
# module cache (once per machine), so the GitOps and canary examples can be checked against
# the real schemas by a real API server. Prints one CRD file per line.
set -euo pipefail
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-gitops-crds: Go is needed to fetch the Argo CD and Flux CRDs (apt-get install golang, or go.dev)" >&2
  exit 1
fi
# module@version, then the CRD files inside it.
sources=(
  "github.com/argoproj/argo-cd/v3@v3.2.0 manifests/crds/application-crd.yaml"
  "github.com/fluxcd/source-controller@v1.7.0 config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml"
  "github.com/fluxcd/helm-controller@v1.4.0 config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml"
  "github.com/fluxcd/kustomize-controller@v1.6.0 config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml"
  "github.com/fluxcd/flagger@v1.36.1 artifacts/flagger/crd.yaml"
)
cd "${TMPDIR:-/tmp}"
for source in "${sources[@]}"; do
  read -r module file <<<"$source"
  dir="$(GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$dir" ] || [ ! -f "$dir/$file" ]; then
    echo "ensure-gitops-crds: could not fetch $module ($file)" >&2
    exit 1
  fi
  echo "$dir/$file"
done
