#!/usr/bin/env bash
# Build promtool of the Prometheus release docker-compose.yml ships, from Go modules, and print
# the binary's path on stdout (nothing else goes to stdout).
#
# Debian's promtool is 2.42; compose runs Prometheus 3, whose range selectors are left-open and
# whose staleness differs, so the generated rule tests (deploy/prometheus/tests) are run with both.
# Cached outside the repository by version (the cache, lock, --check and install are
# scripts/go-build.sh's):
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/promtool/<version>/promtool
#
#   deploy/prometheus/build-promtool.sh           build if needed, print the path
#   deploy/prometheus/build-promtool.sh --check   print the path if cached, exit 1 otherwise
set -euo pipefail
# shellcheck source=scripts/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/go-build.sh"

PROMETHEUS_VERSION="v3.14.0" # keep equal to the image tag in docker-compose.yml (tests/unit/test_rules.py)
# Prometheus 3 publishes its Go module as v0.<major*100+minor>.<patch>: v3.14.0 is v0.314.0.
IFS=. read -r major minor patch <<<"${PROMETHEUS_VERSION#v}"
MODULE_VERSION="v0.$((major * 100 + minor)).$patch"
go_build_target promtool "$PROMETHEUS_VERSION" "promtool $PROMETHEUS_VERSION" promtool
go_build_begin 1.24 "$@"

log "building promtool $PROMETHEUS_VERSION (module $MODULE_VERSION; cold builds take minutes)"
# `go install github.com/prometheus/prometheus/cmd/promtool@$MODULE_VERSION` is refused: Prometheus'
# go.mod has a replace directive (cloud.google.com/go), which `go install pkg@version` rejects.
# So we build from the module's source, as its own main module, where the replace applies.
src_mod="$(go_module_path Dir "github.com/prometheus/prometheus@$MODULE_VERSION")"
# -mod=readonly: the module cache is read-only and the module's go.sum is complete. GOWORK=off:
# the module zip ships a go.work naming modules the zip lacks.
go_build_run "go build ./cmd/promtool of prometheus $MODULE_VERSION" \
  env GOWORK=off nice -n 10 go build -C "$src_mod" -mod=readonly -trimpath \
  -ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}" \
  -o "$out/promtool" ./cmd/promtool
go_build_install "module=$MODULE_VERSION"
