#!/usr/bin/env bash
# Build Alertmanager and amtool from Go modules and print the directory holding both binaries.
#
# Debian's Alertmanager is 0.25, which predates `bot_token_file` for the Telegram receiver
# (added in 0.26), so we build a current release. Cached outside the repository by version:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/alertmanager/<version>/{alertmanager,amtool}
#
#   deploy/alertmanager/build.sh           build if needed, print the directory
#   deploy/alertmanager/build.sh --check   print the directory if cached, exit 1 otherwise
set -euo pipefail

AM_VERSION="v0.35.0" # keep equal to the image tag in docker-compose.yml
cache="${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}"
out_dir="$cache/alertmanager/$AM_VERSION"

log() { printf 'deploy/alertmanager/build.sh: %s\n' "$*" >&2; }

if [[ -x "$out_dir/alertmanager" && -x "$out_dir/amtool" ]]; then
  echo "$out_dir"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  log "no cached Alertmanager $AM_VERSION"
  exit 1
fi

command -v go >/dev/null || { log "go is not on PATH; install Go >= 1.24 (https://go.dev/dl/)"; exit 1; }
mkdir -p "$cache/alertmanager"
exec 9>"$cache/alertmanager/.build.lock"
flock 9
if [[ -x "$out_dir/alertmanager" && -x "$out_dir/amtool" ]]; then
  echo "$out_dir"
  exit 0
fi

work="$(mktemp -d "$cache/alertmanager/.build-$AM_VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building alertmanager and amtool $AM_VERSION (cold builds take minutes)"
start=$(date +%s)
GOBIN="$work" nice -n 10 go install -trimpath -ldflags="-s -w" \
  "github.com/prometheus/alertmanager/cmd/alertmanager@$AM_VERSION" \
  "github.com/prometheus/alertmanager/cmd/amtool@$AM_VERSION" >&2
elapsed=$(($(date +%s) - start))
printf 'built_at=%s\nseconds=%s\nalertmanager_bytes=%s\namtool_bytes=%s\ngo=%s\n' \
  "$(date -u +%FT%TZ)" "$elapsed" "$(stat -c %s "$work/alertmanager")" "$(stat -c %s "$work/amtool")" \
  "$(go env GOVERSION)" >"$work/build-info.txt"
rm -rf "$out_dir"
mv "$work" "$out_dir"
trap - EXIT
log "built in ${elapsed}s"
echo "$out_dir"
