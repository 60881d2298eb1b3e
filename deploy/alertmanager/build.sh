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
# `go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.35.0` fails: ui/web.go
# embeds ui/app/dist, which upstream builds with npm (Elm + Vite) for its release tarballs and
# which is not in the Go module zip ("pattern app/dist: no matching files found"). The Elm
# compiler downloads from GitHub, out of reach here, so we build from the module source with a
# one-page placeholder UI. The HTTP API (v2), amtool, routing and notifications are unchanged.
GOFLAGS=-mod=mod go mod download "github.com/prometheus/alertmanager@$AM_VERSION" >&2
src_mod="$(GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/alertmanager@$AM_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src_mod" ]] || { log "could not locate the alertmanager $AM_VERSION module source"; exit 1; }
cp -r "$src_mod" "$work/src"
chmod -R u+w "$work/src"
for ui in elm mantine; do
  mkdir -p "$work/src/ui/app/dist/$ui"
  printf '<!doctype html><title>Alertmanager</title><p>Alertmanager %s built from Go modules without its web UI; use the API (/api/v2) or amtool.</p>\n' \
    "$AM_VERSION" >"$work/src/ui/app/dist/$ui/index.html"
done
mkdir -p "$work/bin"
(cd "$work/src" && nice -n 10 go build -trimpath -ldflags="-s -w -X github.com/prometheus/common/version.Version=${AM_VERSION#v}" \
  -o "$work/bin/" ./cmd/alertmanager ./cmd/amtool) >&2
elapsed=$(($(date +%s) - start))
printf 'built_at=%s\nseconds=%s\nalertmanager_bytes=%s\namtool_bytes=%s\ngo=%s\n' \
  "$(date -u +%FT%TZ)" "$elapsed" "$(stat -c %s "$work/bin/alertmanager")" "$(stat -c %s "$work/bin/amtool")" \
  "$(go env GOVERSION)" >"$work/bin/build-info.txt"
rm -rf "$out_dir"
mv "$work/bin" "$out_dir"
log "built in ${elapsed}s"
echo "$out_dir"
