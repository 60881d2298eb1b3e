#!/usr/bin/env bash
# Build our collector distribution (otelcol-tarot) with the official OpenTelemetry Collector
# Builder (ocb) and print the binary's path on stdout (nothing else goes to stdout).
#
# The binary is cached OUTSIDE the repository, keyed by the sha256 of builder-config.yaml:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/otelcol/<sha256>/otelcol-tarot
# so CI and later sessions on the same machine reuse it, and any manifest change rebuilds.
# A cold build takes minutes (see README.md); a cache hit takes milliseconds. The cache, lock,
# --check and install are scripts/go-build.sh's.
#
#   otel-collector/build.sh            build if needed, print the path
#   otel-collector/build.sh --check    print the path if cached, exit 1 otherwise (never builds)
set -euo pipefail
# shellcheck source=scripts/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/go-build.sh"

OCB_VERSION="v0.161.0" # keep equal to the collector module versions in builder-config.yaml
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/builder-config.yaml"
hash="$(sha256sum "$manifest" | cut -c1-64)"
go_build_target otelcol "$hash" "build for manifest $hash" otelcol-tarot
go_build_begin 1.24 "$@"

builder="$cache/tools/builder-$OCB_VERSION/builder"
if [[ ! -x "$builder" ]]; then
  log "installing ocb $OCB_VERSION into $(dirname "$builder")"
  mkdir -p "$cache/tools"
  go_build_run "go install ocb $OCB_VERSION" \
    env GOBIN="$(dirname "$builder")" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
fi

cp "$manifest" "$work/builder-config.yaml"
log "building otelcol-tarot for manifest $hash (cold builds take minutes)"
go_build_run "ocb --config builder-config.yaml" \
  env -C "$work" nice -n 10 "$builder" --config builder-config.yaml
mv "$work/_build/otelcol-tarot" "$out/otelcol-tarot"
cp "$manifest" "$out/builder-config.yaml"
go_build_install "ocb=$OCB_VERSION"
