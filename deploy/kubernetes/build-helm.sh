#!/usr/bin/env bash
# Build helm from its Go module and print the binary's path on stdout (nothing else goes there).
#
# No chart repository and no release download is reachable from these machines; the Go module
# proxy is, and `go install helm.sh/helm/v3/cmd/helm@<version>` builds it (about a minute warm,
# a few cold). tests/unit/test_helm_chart.py lints and renders deploy/kubernetes/tarot-monitoring
# with it. Cached outside the repository by version (the cache, lock, --check and install are
# scripts/go-build.sh's):
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/helm/<version>/helm
#
#   deploy/kubernetes/build-helm.sh           build if needed, print the path
#   deploy/kubernetes/build-helm.sh --check   print the path if cached, exit 1 otherwise
set -euo pipefail
# shellcheck source=scripts/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/go-build.sh"

HELM_VERSION="v3.22.0"
go_build_target helm "$HELM_VERSION" "helm $HELM_VERSION" helm
go_build_begin 1.25 "$@"

log "building helm $HELM_VERSION from Go modules (about a minute warm, minutes cold)"
src_mod="$(go_module_path Dir "helm.sh/helm/v3@$HELM_VERSION")"
# -ldflags: what helm's Makefile stamps. Without the Kubernetes version (client-go v0.X.Y is
# Kubernetes 1.X), `helm template` assumes Kubernetes 1.20 and refuses charts needing newer.
k8s_minor="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$src_mod/go.mod")"
[[ -n "$k8s_minor" ]] || { log "could not read the k8s.io/client-go version from $src_mod/go.mod"; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
go_build_run "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  env GOBIN="$out" nice -n 10 go install -trimpath -ldflags="$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
go_build_install
