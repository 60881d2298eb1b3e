#!/usr/bin/env bash
# The README's demo command (`make demo`): the embedded demo needs no services, only the package.
# Arguments go to `tarot-monitor demo`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_venv all,cli
exec "$VENV/bin/tarot-monitor" demo "$@"
