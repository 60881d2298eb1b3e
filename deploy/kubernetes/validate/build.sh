#!/usr/bin/env bash
# Build k8s-strict-validate (main.go beside this script) and print the binary's path on stdout.
#
# It decodes every object `helm template` renders strictly against the API's own Go types
# (k8s.io/api, the Prometheus Operator's pkg/apis/monitoring), see main.go. Cached outside the
# repository, keyed by the sha256 of main.go, go.mod and go.sum, so any change rebuilds:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/k8s-strict-validate/<sha256>/k8s-strict-validate
#
#   deploy/kubernetes/validate/build.sh           build if needed, print the path
#   deploy/kubernetes/validate/build.sh --check   print the path if cached, exit 1 otherwise
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}"
hash="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-64)"
out_dir="$cache/k8s-strict-validate/$hash"
binary="$out_dir/k8s-strict-validate"

log() { printf 'deploy/kubernetes/validate/build.sh: %s\n' "$*" >&2; }

if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  log "no cached build for $hash"
  exit 1
fi

command -v go >/dev/null || { log "go is not on PATH; install Go >= 1.26 (https://go.dev/dl/)"; exit 1; }
mkdir -p "$cache/k8s-strict-validate"
exec 9>"$cache/k8s-strict-validate/.build.lock"
flock 9
if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

work="$(mktemp -d "$cache/k8s-strict-validate/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building k8s-strict-validate (k8s.io/api, prometheus-operator types; a minute or two cold)"
start=$(date +%s)
mkdir -p "$work/out"
# -mod=readonly: go.sum is complete and checked in; a missing entry is an error, not a download.
nice -n 10 go build -C "$here" -mod=readonly -trimpath -ldflags="-s -w" \
  -o "$work/out/k8s-strict-validate" . >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  log "go build failed (last 40 lines above)"
  exit 1
}
elapsed=$(($(date +%s) - start))
printf 'built_at=%s\nseconds=%s\ngo=%s\n' "$(date -u +%FT%TZ)" "$elapsed" "$(go env GOVERSION)" >"$work/out/build-info.txt"
rm -rf "$out_dir"
mv "$work/out" "$out_dir"
log "built in ${elapsed}s"
echo "$binary"
