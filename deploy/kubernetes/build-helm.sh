#!/usr/bin/env bash
# Build helm from its Go module and print the binary's path on stdout (nothing else goes there).
#
# No chart repository and no release download is reachable from these machines; the Go module
# proxy is, and `go install helm.sh/helm/v3/cmd/helm@<version>` builds it (about a minute warm,
# a few cold). tests/unit/test_helm_chart.py lints and renders deploy/kubernetes/tarot-monitoring
# with it. Cached outside the repository by version:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/helm/<version>/helm
#
#   deploy/kubernetes/build-helm.sh           build if needed, print the path
#   deploy/kubernetes/build-helm.sh --check   print the path if cached, exit 1 otherwise
set -euo pipefail

HELM_VERSION="v3.22.0"
cache="${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}"
out_dir="$cache/helm/$HELM_VERSION"
binary="$out_dir/helm"

log() { printf 'deploy/kubernetes/build-helm.sh: %s\n' "$*" >&2; }

if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  log "no cached helm $HELM_VERSION"
  exit 1
fi

command -v go >/dev/null || { log "go is not on PATH; install Go >= 1.25 (https://go.dev/dl/)"; exit 1; }
mkdir -p "$cache/helm"
# One build at a time per machine: a second caller waits, then finds the cached binary.
exec 9>"$cache/helm/.build.lock"
flock 9
if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

# Build into a scratch directory and move it into place at the end, so an interrupted build
# never leaves a half-written binary at the cached path.
work="$(mktemp -d "$cache/helm/.build-$HELM_VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building helm $HELM_VERSION from Go modules (about a minute warm, minutes cold)"
start=$(date +%s)
mkdir -p "$work/out"
GOFLAGS=-mod=mod go mod download "helm.sh/helm/v3@$HELM_VERSION" >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  log "go mod download helm.sh/helm/v3@$HELM_VERSION failed (last 40 lines above)"
  exit 1
}
src_mod="$(GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
# -ldflags: what helm's Makefile stamps. Without the Kubernetes version (client-go v0.X.Y is
# Kubernetes 1.X), `helm template` assumes Kubernetes 1.20 and refuses charts needing newer.
k8s_minor="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$src_mod/go.mod")"
[[ -n "$k8s_minor" ]] || { log "could not read the k8s.io/client-go version from $src_mod/go.mod"; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
GOBIN="$work/out" nice -n 10 go install -trimpath -ldflags="$ldflags" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >>"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  log "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed (last 40 lines above)"
  exit 1
}
elapsed=$(($(date +%s) - start))
size=$(stat -c %s "$work/out/helm")
printf 'built_at=%s\nseconds=%s\nbytes=%s\ngo=%s\n' \
  "$(date -u +%FT%TZ)" "$elapsed" "$size" "$(go env GOVERSION)" >"$work/out/build-info.txt"
rm -rf "$out_dir"
mv "$work/out" "$out_dir"
log "built in ${elapsed}s, $((size / 1024 / 1024)) MiB"
echo "$binary"
