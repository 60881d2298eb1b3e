#!/usr/bin/env bash
# Build Alertmanager and amtool from Go modules and print the directory holding both binaries.
#
# Debian's Alertmanager is 0.25, which predates `bot_token_file` for the Telegram receiver
# (added in 0.26), so we build a current release. Cached outside the repository by version
# (the cache, lock, --check and install are scripts/go-build.sh's):
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/alertmanager/<version>/{alertmanager,amtool}
#
#   deploy/alertmanager/build.sh           build if needed, print the directory
#   deploy/alertmanager/build.sh --check   print the directory if cached, exit 1 otherwise
set -euo pipefail
# shellcheck source=scripts/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/go-build.sh"

AM_VERSION="v0.35.0" # keep equal to the image tag in docker-compose.yml
go_build_target alertmanager "$AM_VERSION" "Alertmanager $AM_VERSION" alertmanager amtool
go_build_begin 1.24 "$@"

log "building alertmanager and amtool $AM_VERSION (cold builds take minutes)"
# `go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.35.0` fails: ui/web.go
# embeds ui/app/dist, which upstream builds with npm (Elm + Vite) for its release tarballs and
# which is not in the Go module zip ("pattern app/dist: no matching files found"). The Elm
# compiler downloads from GitHub, out of reach here, so we build from the module source with a
# one-page placeholder UI. The HTTP API (v2), amtool, routing and notifications are unchanged.
src_mod="$(go_module_path Dir "github.com/prometheus/alertmanager@$AM_VERSION")"
cp -r "$src_mod" "$work/src"
chmod -R u+w "$work/src"
for ui in elm mantine; do
  mkdir -p "$work/src/ui/app/dist/$ui"
  printf '<!doctype html><title>Alertmanager</title><p>Alertmanager %s built from Go modules without its web UI; use the API (/api/v2) or amtool.</p>\n' \
    "$AM_VERSION" >"$work/src/ui/app/dist/$ui/index.html"
done
go_build_run "go build ./cmd/alertmanager ./cmd/amtool" \
  nice -n 10 go build -C "$work/src" -trimpath \
  -ldflags="-s -w -X github.com/prometheus/common/version.Version=${AM_VERSION#v}" \
  -o "$out/" ./cmd/alertmanager ./cmd/amtool
go_build_install
