#!/usr/bin/env bash
# Build promtool of the Prometheus release docker-compose.yml ships, from Go modules, and print
# the binary's path on stdout (nothing else goes to stdout).
#
# Debian's promtool is 2.42; compose runs Prometheus 3, whose range selectors are left-open and
# whose staleness differs, so the generated rule tests (deploy/prometheus/tests) are run with both.
# Cached outside the repository by version:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/promtool/<version>/promtool
#
#   deploy/prometheus/build-promtool.sh           build if needed, print the path
#   deploy/prometheus/build-promtool.sh --check   print the path if cached, exit 1 otherwise
set -euo pipefail

PROMETHEUS_VERSION="v3.14.0" # keep equal to the image tag in docker-compose.yml (tests/unit/test_rules.py)
# Prometheus 3 publishes its Go module as v0.<major*100+minor>.<patch>: v3.14.0 is v0.314.0.
IFS=. read -r major minor patch <<<"${PROMETHEUS_VERSION#v}"
MODULE_VERSION="v0.$((major * 100 + minor)).$patch"
cache="${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}"
out_dir="$cache/promtool/$PROMETHEUS_VERSION"
binary="$out_dir/promtool"

log() { printf 'deploy/prometheus/build-promtool.sh: %s\n' "$*" >&2; }

if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  log "no cached promtool $PROMETHEUS_VERSION"
  exit 1
fi

command -v go >/dev/null || { log "go is not on PATH; install Go >= 1.24 (https://go.dev/dl/)"; exit 1; }
mkdir -p "$cache/promtool"
# One build at a time per machine: a second caller waits, then finds the cached binary.
exec 9>"$cache/promtool/.build.lock"
flock 9
if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

# Build in a scratch directory and move it into place at the end, so an interrupted build never
# leaves a half-written binary at the cached path.
work="$(mktemp -d "$cache/promtool/.build-$PROMETHEUS_VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building promtool $PROMETHEUS_VERSION (module $MODULE_VERSION; cold builds take minutes)"
start=$(date +%s)
mkdir -p "$work/out"
# `go install github.com/prometheus/prometheus/cmd/promtool@$MODULE_VERSION` is refused: Prometheus'
# go.mod has a replace directive (cloud.google.com/go), which `go install pkg@version` rejects.
# So we build from the module's source, as its own main module, where the replace applies.
GOFLAGS=-mod=mod go mod download "github.com/prometheus/prometheus@$MODULE_VERSION" >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  log "go mod download github.com/prometheus/prometheus@$MODULE_VERSION failed (last 40 lines above)"
  exit 1
}
src_mod="$(GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/prometheus@$MODULE_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src_mod" ]] || { log "could not locate the prometheus $MODULE_VERSION module source"; exit 1; }
# nice: the machine is shared and a cold build keeps every core busy. -mod=readonly: the module
# cache is read-only and the module's go.sum is complete. GOWORK=off: the module zip ships a
# go.work naming modules the zip lacks.
GOWORK=off nice -n 10 go build -C "$src_mod" -mod=readonly -trimpath \
  -ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}" \
  -o "$work/out/promtool" ./cmd/promtool >>"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  log "go build ./cmd/promtool of prometheus $MODULE_VERSION failed (last 40 lines above)"
  exit 1
}
elapsed=$(($(date +%s) - start))
size=$(stat -c %s "$work/out/promtool")
printf 'built_at=%s\nseconds=%s\nbytes=%s\nmodule=%s\ngo=%s\n' \
  "$(date -u +%FT%TZ)" "$elapsed" "$size" "$MODULE_VERSION" "$(go env GOVERSION)" >"$work/out/build-info.txt"
rm -rf "$out_dir"
mv "$work/out" "$out_dir"
log "built in ${elapsed}s, $((size / 1024 / 1024)) MiB"
echo "$binary"
