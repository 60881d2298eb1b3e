# The skeleton every Go build script of the repository shares; sourced, not run:
# otel-collector/build.sh, deploy/alertmanager/build.sh, deploy/thanos/build.sh,
# deploy/prometheus/build-promtool.sh, deploy/kubernetes/build-helm.sh,
# deploy/kubernetes/validate/build.sh. Each of them keeps only what is its own (module, version,
# tags, toolchain, wrapper module); the cache, the lock, --check, the atomic install and the
# logging are here, once.
# shellcheck shell=bash
#
# The contract scripts/test.sh, the tests and the native stack rely on: stdout carries ONE path
# (the binary, or the directory of several) and nothing else; logs go to stderr; exit 0 with the
# path, exit 1 with the reason on stderr. `script --check` never builds: the path if cached,
# exit 1 otherwise.
#
# Results are cached OUTSIDE the repository, so CI and later sessions on the machine reuse them:
#   ${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}/<name>/<key>/<artifact>...
# <key> is a version or a hash of the inputs, so any change rebuilds. Warm caches on other
# machines hold these exact paths: never change how a script spells its <name> or <key>.
#
# A build script calls, in this order:
#   go_build_target NAME KEY DESCRIPTION ARTIFACT...  where the result lives (sets $cache, $out_dir)
#   go_build_begin MIN_GO "$@"    cached: print the path, exit 0; --check: exit 1; otherwise take
#                                 the lock and make the scratch directory ($work, $out = $work/out)
#   go_build_run WHAT CMD...      one build step, its output into the build log, loud on failure
#   go_module_path FIELD MOD@V    download a module, print its "Dir" (source) or "GoMod" path
#   go_build_install [K=V...]     build-info.txt, move $out into place atomically, print the path

# The script as the repository names it (otel-collector/build.sh), for the log lines.
GO_BUILD_SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
GO_BUILD_SCRIPT="${GO_BUILD_SCRIPT#"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/"}"

log() { printf '%s: %s\n' "$GO_BUILD_SCRIPT" "$*" >&2; }

# go_build_target NAME KEY DESCRIPTION ARTIFACT...: the result is $cache/NAME/KEY holding every
# ARTIFACT (executables). The path printed is the artifact's when there is one, the directory's
# when there are several. DESCRIPTION completes "no cached ..." for --check.
go_build_target() {
    GO_BUILD_NAME="$1" GO_BUILD_KEY="$2" GO_BUILD_DESCRIPTION="$3"
    shift 3
    GO_BUILD_ARTIFACTS=("$@")
    cache="${TAROT_CACHE_DIR:-$HOME/.cache/tarot-monitoring}"
    out_dir="$cache/$GO_BUILD_NAME/$GO_BUILD_KEY"
    if [[ $# -eq 1 ]]; then GO_BUILD_RESULT="$out_dir/$1"; else GO_BUILD_RESULT="$out_dir"; fi
}

_go_build_cached() {
    local artifact
    for artifact in "${GO_BUILD_ARTIFACTS[@]}"; do
        [[ -x "$out_dir/$artifact" ]] || return 1
    done
}

# go_build_begin MIN_GO "$@": return only when a build is due, holding the tool's lock, with an
# empty scratch directory $work (removed on exit) and $out, the directory that becomes $out_dir.
go_build_begin() {
    local min_go="$1"
    shift
    if _go_build_cached; then
        echo "$GO_BUILD_RESULT"
        exit 0
    fi
    if [[ "${1:-}" == "--check" ]]; then
        log "no cached $GO_BUILD_DESCRIPTION"
        exit 1
    fi
    command -v go >/dev/null || { log "go is not on PATH; install Go >= $min_go (https://go.dev/dl/)"; exit 1; }
    mkdir -p "$cache/$GO_BUILD_NAME"
    # One build at a time per tool and machine: a second caller waits, then finds the cached result.
    exec 9>"$cache/$GO_BUILD_NAME/.build.lock"
    flock 9
    if _go_build_cached; then
        echo "$GO_BUILD_RESULT"
        exit 0
    fi
    # Build in a scratch directory next to the final one and move it into place at the end, so an
    # interrupted build never leaves a half-written binary at the cached path.
    work="$(mktemp -d "$cache/$GO_BUILD_NAME/.build-$GO_BUILD_KEY.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    out="$work/out"
    mkdir -p "$out"
    GO_BUILD_START=$(date +%s)
}

# go_build_run WHAT CMD...: run CMD with its output appended to $work/build.log; on failure show
# the log's last 40 lines and exit 1. Build commands run under `nice -n 10` by the caller: the
# machine is shared and a cold build keeps every core busy.
go_build_run() {
    local what="$1"
    shift
    "$@" >>"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        log "$what failed (last 40 lines above)"
        exit 1
    }
}

# go_module_path FIELD MODULE@VERSION: download the module into the module cache and print the
# path `go mod download -json` gives as FIELD: Dir (its source, read-only) or GoMod (its go.mod).
go_module_path() {
    local field="$1" module="$2" json path
    json="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$module" 2>>"$work/build.log")" || {
        printf '%s\n' "$json" >>"$work/build.log"
        tail -n 40 "$work/build.log" >&2
        log "go mod download $module failed (last 40 lines above)"
        exit 1
    }
    path="$(sed -n "s/^[[:space:]]*\"$field\": \"\(.*\)\",\$/\1/p" <<<"$json")"
    [[ -e "$path" ]] || { log "go mod download -json $module gave no $field path"; exit 1; }
    printf '%s\n' "$path"
}

# go_build_install [KEY=VALUE...]: write $out/build-info.txt (when, how long, which Go, sizes, the
# KEY=VALUE lines given), keep the build log, move $out to $out_dir and print the result's path.
# shellcheck disable=SC2120 # the KEY=VALUE lines are optional
go_build_install() {
    local elapsed=$(($(date +%s) - GO_BUILD_START)) artifact size total=0
    {
        printf 'built_at=%s\nseconds=%s\ngo=%s\n' "$(date -u +%FT%TZ)" "$elapsed" "$(go env GOVERSION)"
        for artifact in "${GO_BUILD_ARTIFACTS[@]}"; do
            [[ -x "$out/$artifact" ]] || { log "the build left no executable $artifact"; exit 1; }
            size=$(stat -c %s "$out/$artifact")
            total=$((total + size))
            if [[ ${#GO_BUILD_ARTIFACTS[@]} -eq 1 ]]; then echo "bytes=$size"; else echo "${artifact}_bytes=$size"; fi
        done
        if [[ $# -gt 0 ]]; then printf '%s\n' "$@"; fi
    } >"$out/build-info.txt"
    if [[ -f "$work/build.log" ]]; then cp "$work/build.log" "$out/build.log"; fi
    rm -rf "$out_dir"
    mv "$out" "$out_dir"
    log "built in ${elapsed}s, $((total / 1024 / 1024)) MiB"
    echo "$GO_BUILD_RESULT"
}
