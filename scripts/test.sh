#!/usr/bin/env bash
# The project's test command (README: `make test`; CI: .ci/run). Sets up .venv, installs and starts
# the real services, builds the collector, then runs ruff, mypy and pytest. Extra arguments go to
# pytest: scripts/test.sh tests/unit -k fakes. A full run (no arguments, as CI) then runs the unit
# tests against the lowest and newest dependency sets too (scripts/test-deps.sh; TAROT_TEST_DEPS=0
# skips it, =1 forces it).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_venv dev
scripts/services.sh install
scripts/services.sh start
# Build (or find cached) the binaries the e2e tests run, once, up front; each script prints its
# result on stdout and the native stack (src/tarot_monitoring/stack/launcher.py) reads these variables.
if [ -x otel-collector/build.sh ]; then
    log "otel-collector/build.sh"
    TAROT_OTELCOL_BIN="$(otel-collector/build.sh)" || die "otel-collector/build.sh failed"
    export TAROT_OTELCOL_BIN
fi
if [ -x deploy/alertmanager/build.sh ]; then
    log "deploy/alertmanager/build.sh"
    alertmanager_dir="$(deploy/alertmanager/build.sh)" || die "deploy/alertmanager/build.sh failed"
    export TAROT_ALERTMANAGER_BIN="$alertmanager_dir/alertmanager"
fi
if [ -x deploy/thanos/build.sh ]; then
    log "deploy/thanos/build.sh"
    TAROT_THANOS_BIN="$(deploy/thanos/build.sh)" || die "deploy/thanos/build.sh failed"
    export TAROT_THANOS_BIN
fi
if [ -x deploy/prometheus/build-promtool.sh ]; then
    log "deploy/prometheus/build-promtool.sh"
    TAROT_PROMTOOL3_BIN="$(deploy/prometheus/build-promtool.sh)" || die "deploy/prometheus/build-promtool.sh failed"
    export TAROT_PROMTOOL3_BIN
fi
if [ -x deploy/kubernetes/build-helm.sh ]; then
    log "deploy/kubernetes/build-helm.sh and deploy/kubernetes/validate/build.sh"
    TAROT_HELM_BIN="$(deploy/kubernetes/build-helm.sh)" || die "deploy/kubernetes/build-helm.sh failed"
    TAROT_K8S_VALIDATE_BIN="$(deploy/kubernetes/validate/build.sh)" || die "deploy/kubernetes/validate/build.sh failed"
    export TAROT_HELM_BIN TAROT_K8S_VALIDATE_BIN
fi
eval "$(scripts/services.sh env)"
export TAROT_TEST_POSTGRES_DSN TAROT_TEST_REDIS_URL
export PATH="$VENV/bin:$PATH"

# Run every check even after one fails, so a single run shows all problems.
failed=()
lint_paths=()
for d in src tests bench examples; do [ -e "$d" ] && lint_paths+=("$d"); done
log "ruff check ${lint_paths[*]}"
ruff check "${lint_paths[@]}" || failed+=("ruff")
log "mypy (strict, from pyproject.toml)"
mypy || failed+=("mypy")
# A hung test must not hang CI: a test running longer than TAROT_TEST_STACK_DUMP_S gets every
# thread's traceback printed (the run goes on); after TAROT_PYTEST_TIMEOUT_S the whole run gets
# SIGINT, so pytest still tears its fixtures (and the processes they started) down, then SIGKILL.
# --durations=30: the log says which tests the run's time went to.
stack_dump_s="${TAROT_TEST_STACK_DUMP_S:-300}"
pytest_timeout_s="${TAROT_PYTEST_TIMEOUT_S:-3000}"
log "pytest $*"
rc=0
timeout -s INT -k 60 "$pytest_timeout_s" \
    python -m pytest -o "faulthandler_timeout=$stack_dump_s" --durations=30 "$@" || rc=$?
case "$rc" in
    0) ;;
    5) log "pytest collected no tests: that is a failure, not a pass"; failed+=("pytest (no tests collected)") ;;
    124 | 137) failed+=("pytest (timed out after ${pytest_timeout_s}s, TAROT_PYTEST_TIMEOUT_S)") ;;
    *) failed+=("pytest (exit $rc)") ;;
esac

if [ "${TAROT_TEST_DEPS:-$([ "$#" -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    log "scripts/test-deps.sh (lowest and newest dependency sets)"
    scripts/test-deps.sh || failed+=("test-deps")
fi

if [ "${#failed[@]}" -gt 0 ]; then
    die "failed: ${failed[*]}"
fi
log "all checks passed"
