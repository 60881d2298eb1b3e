#!/usr/bin/env bash
# Build our collector distribution (otelcol-tarot) with the official OpenTelemetry Collector
# Builder (ocb) and print the binary's path on stdout (nothing else goes to stdout).
#
# The binary is cached OUTSIDE the repository, keyed by the sha256 of builder-config.yaml:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/otelcol/<sha256>/otelcol-tarot
# so CI and later sessions on the same machine reuse it, and any manifest change rebuilds.
# A cold build takes minutes (see README.md); a cache hit takes milliseconds.
#
#   otel-collector/build.sh            build if needed, print the path
#   otel-collector/build.sh --check    print the path if cached, exit 1 otherwise (never builds)
set -euo pipefail

OCB_VERSION="v0.161.0" # keep equal to the collector module versions in builder-config.yaml
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/builder-config.yaml"
cache="${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}"
hash="$(sha256sum "$manifest" | cut -c1-64)"
out_dir="$cache/otelcol/$hash"
binary="$out_dir/otelcol-tarot"

log() { printf 'otel-collector/build.sh: %s\n' "$*" >&2; }

if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  log "no cached build for manifest $hash"
  exit 1
fi

command -v go >/dev/null || { log "go is not on PATH; install Go >= 1.24 (https://go.dev/dl/)"; exit 1; }
mkdir -p "$cache/otelcol" "$cache/tools"

# One build at a time per machine: a second caller waits, then finds the cached binary.
exec 9>"$cache/otelcol/.build.lock"
flock 9
if [[ -x "$binary" ]]; then
  echo "$binary"
  exit 0
fi

builder="$cache/tools/builder-$OCB_VERSION/builder"
if [[ ! -x "$builder" ]]; then
  log "installing ocb $OCB_VERSION into $(dirname "$builder")"
  GOBIN="$(dirname "$builder")" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION" >&2
fi

# Build in a scratch directory next to the final one and move it into place at the end, so an
# interrupted build never leaves a half-written binary at the cached path.
work="$(mktemp -d "$cache/otelcol/.build-$hash.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$manifest" "$work/builder-config.yaml"
log "building otelcol-tarot for manifest $hash (cold builds take minutes)"
start=$(date +%s)
# nice: the machine is shared and a cold build keeps every core busy.
(cd "$work" && nice -n 10 "$builder" --config builder-config.yaml) >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  log "build failed; full log above (last 40 lines)"
  exit 1
}
elapsed=$(($(date +%s) - start))
size=$(stat -c %s "$work/_build/otelcol-tarot")

mkdir -p "$work/out"
mv "$work/_build/otelcol-tarot" "$work/out/otelcol-tarot"
cp "$manifest" "$work/out/builder-config.yaml"
cp "$work/build.log" "$work/out/build.log"
printf 'built_at=%s\nseconds=%s\nbytes=%s\nocb=%s\ngo=%s\n' \
  "$(date -u +%FT%TZ)" "$elapsed" "$size" "$OCB_VERSION" "$(go env GOVERSION)" >"$work/out/build-info.txt"
rm -rf "$out_dir"
mv "$work/out" "$out_dir"
log "built in ${elapsed}s, $((size / 1024 / 1024)) MiB"
echo "$binary"
