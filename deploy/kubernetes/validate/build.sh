#!/usr/bin/env bash
# Build k8s-strict-validate (main.go beside this script) and print the binary's path on stdout.
#
# It decodes every object `helm template` renders strictly against the API's own Go types
# (k8s.io/api, the Prometheus Operator's pkg/apis/monitoring), see main.go. Cached outside the
# repository, keyed by the sha256 of main.go, go.mod and go.sum, so any change rebuilds (the
# cache, lock, --check and install are scripts/go-build.sh's):
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/k8s-strict-validate/<sha256>/k8s-strict-validate
#
#   deploy/kubernetes/validate/build.sh           build if needed, print the path
#   deploy/kubernetes/validate/build.sh --check   print the path if cached, exit 1 otherwise
set -euo pipefail
# shellcheck source=scripts/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/go-build.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
hash="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-64)"
go_build_target k8s-strict-validate "$hash" "build for $hash" k8s-strict-validate
go_build_begin 1.26 "$@"

log "building k8s-strict-validate (k8s.io/api, prometheus-operator types; a minute or two cold)"
# -mod=readonly: go.sum is complete and checked in; a missing entry is an error, not a download.
go_build_run "go build" \
  nice -n 10 go build -C "$here" -mod=readonly -trimpath -ldflags="-s -w" -o "$out/k8s-strict-validate" .
go_build_install
