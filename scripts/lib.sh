# Shared helpers for the scripts in this directory; sourced, not run.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TAROT_VENV:-$REPO_ROOT/.venv}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run as root directly, through sudo otherwise (CI runs as root; a developer may not).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root for: $* (run as root or install sudo)"
    fi
}

# ensure_venv EXTRAS: create the venv if missing and install the package editable with EXTRAS.
# A stamp keyed by pyproject.toml's hash and the extras skips pip when nothing changed.
ensure_venv() {
    local extras="$1" python="${PYTHON:-python3}"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        if ! "$python" -m venv "$VENV"; then
            # Debian's python3 ships without ensurepip; python3-venv brings it.
            rm -rf "$VENV"
            log "python3 -m venv failed; installing python3-venv"
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null \
                || { as_root apt-get update -q >/dev/null \
                     && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; } \
                || die "could not install python3-venv"
            "$python" -m venv "$VENV" || die "could not create $VENV with $python"
        fi
    fi
    # pip 23.2 (bundled with Python 3.11.7) cannot resolve the OpenTelemetry beta ranges in
    # pyproject.toml (ResolutionImpossible); a current pip resolves them.
    if ! "$VENV/bin/python" -c 'import sys, pip; sys.exit(int(pip.__version__.split(".")[0]) < 26)' 2>/dev/null; then
        log "upgrading pip in $VENV (the bundled one cannot resolve our dependency ranges)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U 'pip>=26' \
            || die "could not upgrade pip in $VENV"
    fi
    local stamp="$VENV/.tarot-install-$extras" want
    want="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "pip install -e '.[$extras]'"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO_ROOT[$extras]" \
            || die "pip install -e '.[$extras]' failed"
        echo "$want" >"$stamp"
    fi
}
