#!/usr/bin/env bash
# The unit tests against the lowest and the newest dependency sets pyproject.toml's ranges allow
# (`make test-deps`; scripts/test.sh runs it on a full run, so CI does). Proves the declared
# ranges: a bot pinned to the oldest OpenTelemetry release we claim, or to the newest, gets a
# package that works.
#
# The two sets are committed, fully pinned, in scripts/constraints/{lowest,newest}.txt, made by
# `uv pip compile` (uv from PyPI, pinned, installed on demand into .venv-deps/uv) with
# --resolution lowest-direct and highest. Each set gets its own venv in .venv-deps/<set>, made by
# uv (seconds, not pip's minute) and rebuilt only when the hash of its constraint file and
# pyproject.toml changes (like ensure_venv in lib.sh). Both sets' tests run
# at once: the unit tests mostly wait on timers, so two runs take little longer than one.
#
#   scripts/test-deps.sh              install (if changed) and run tests/unit in both sets
#                                     (except the promtool ones, which test no Python package)
#   scripts/test-deps.sh --compile    re-resolve both constraint files from pyproject.toml
#
# A normal run also re-resolves into a temporary file and warns when PyPI now serves a
# different set (a new OpenTelemetry release, a changed range): run --compile and commit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

SETS=(lowest newest)
CONSTRAINTS="$REPO_ROOT/scripts/constraints"
DEPS_ROOT="${TAROT_DEPS_VENVS:-$REPO_ROOT/.venv-deps}"
UV_VERSION="0.13.9"
# The oldest Python pyproject.toml allows: the lowest set must install there.
PYTHON_VERSION="3.11"
python="${PYTHON:-python3}"

resolution() {
    case "$1" in
        lowest) echo lowest-direct ;;
        newest) echo highest ;;
    esac
}

# ensure_uv: uv from PyPI in its own small venv, pinned, installed once.
ensure_uv() {
    local dir="$DEPS_ROOT/uv"
    if [ "$("$dir/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
        rm -rf "$dir"
        "$python" -m venv "$dir" >&2 || return 1
        "$dir/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" >&2 || return 1
    fi
    echo "$dir/bin/uv"
}

# compile SET OUT: resolve pyproject.toml's [dev] closure for SET into OUT. Into a new file:
# uv prefers the versions an existing output file already pins, which would keep old ones.
compile() {
    local uv="$1" set="$2" out="$3" fresh
    fresh="$(mktemp -d)/$set.txt"
    "$uv" pip compile -q pyproject.toml --extra dev --python-version "$PYTHON_VERSION" \
        --resolution "$(resolution "$set")" --custom-compile-command "scripts/test-deps.sh --compile" \
        -o "$fresh" && mv "$fresh" "$out"
}

if [ "${1:-}" = "--compile" ]; then
    uv="$(ensure_uv)" || die "could not install uv==$UV_VERSION from PyPI"
    mkdir -p "$CONSTRAINTS"
    for set in "${SETS[@]}"; do
        compile "$uv" "$set" "$CONSTRAINTS/$set.txt" || die "uv pip compile ($set) failed"
        log "$set: $(grep -E '^opentelemetry-(sdk|instrumentation)==' "$CONSTRAINTS/$set.txt" | tr '\n' ' ')"
    done
    exit 0
fi

uv="$(ensure_uv)" || die "could not install uv==$UV_VERSION from PyPI"

# Warn (never fail: PyPI moves without us) when the committed sets are no longer what resolves.
tmp="$(mktemp -d)"
for set in "${SETS[@]}"; do
    if compile "$uv" "$set" "$tmp/$set.txt" 2>/dev/null; then
        if ! diff -q <(grep -v '^#' "$CONSTRAINTS/$set.txt") <(grep -v '^#' "$tmp/$set.txt") >/dev/null; then
            log "WARNING: scripts/constraints/$set.txt is not what resolves today;" \
                "run scripts/test-deps.sh --compile and commit:"
            diff <(grep -E '^[a-z]' "$CONSTRAINTS/$set.txt") <(grep -E '^[a-z]' "$tmp/$set.txt") \
                | grep '^[<>]' | head -20 >&2 || true
        fi
    else
        log "WARNING: could not re-resolve the $set set (offline?); testing the committed one"
    fi
done
rm -rf "$tmp"

# ensure_set_venv SET: .venv-deps/SET with exactly the pinned set and the package (editable).
ensure_set_venv() {
    local set="$1" dir="$DEPS_ROOT/$1" want
    want="$(cat "$CONSTRAINTS/$set.txt" pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$dir/.tarot-deps" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "$set: creating $dir"
    rm -rf "$dir"
    "$uv" venv -q --python "$python" "$dir" || die "could not create $dir with $python"
    # The constraints pin every package; the resolver still checks them against pyproject.toml's
    # ranges and fails on a conflict (a raised lower bound not yet compiled in).
    VIRTUAL_ENV="$dir" "$uv" pip install -q -c "$CONSTRAINTS/$set.txt" -e "$REPO_ROOT[dev]" \
        || die "$set: uv pip install -c scripts/constraints/$set.txt -e '.[dev]' failed"
    echo "$want" >"$dir/.tarot-deps"
}

for set in "${SETS[@]}"; do
    ensure_set_venv "$set"
done

log "tests/unit against ${SETS[*]} (at once)"
start=$SECONDS
declare -A pids
logs="$(mktemp -d)"
for set in "${SETS[@]}"; do
    versions="$(VIRTUAL_ENV="$DEPS_ROOT/$set" "$uv" pip freeze 2>/dev/null \
        | grep -E '^opentelemetry-(sdk|instrumentation)==' | tr '\n' ' ')"
    log "$set: $versions"
    # -p no:cacheprovider: two runs at once must not share .pytest_cache. Bounded like test.sh's.
    # -k "not promtool": those run the promtool binary on generated YAML, the same whatever the
    # Python set, and take half the unit tests' time; the main run has them.
    timeout -s INT -k 60 "${TAROT_PYTEST_TIMEOUT_S:-1200}" "$DEPS_ROOT/$set/bin/python" -m pytest \
        tests/unit -q -p no:cacheprovider -o faulthandler_timeout=300 -k "not promtool" \
        >"$logs/$set.log" 2>&1 &
    pids[$set]=$!
done
failed=()
for set in "${SETS[@]}"; do
    if wait "${pids[$set]}"; then
        log "$set: $(grep -E '^[0-9]+ passed' "$logs/$set.log" | tail -n 1)"
    else
        cat "$logs/$set.log" >&2
        failed+=("$set")
    fi
done
rm -rf "$logs"
log "both sets took $((SECONDS - start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
    die "tests/unit failed with the ${failed[*]} dependency set(s)"
fi
