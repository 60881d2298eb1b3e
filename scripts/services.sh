#!/usr/bin/env bash
# Install, start, stop and describe the real services the end-to-end tests use:
# PostgreSQL 15 on 127.0.0.1:55432, Redis on 127.0.0.1:56379 and prometheus-postgres-exporter on
# 127.0.0.1:59187 (reading that PostgreSQL with otel-collector/config/postgres-queries.yaml), started
# by hand (no systemd), with their data in a state directory outside the repository. Every command
# is idempotent.
#
#   scripts/services.sh install   apt-get install what is missing (postgres, redis, prometheus + promtool, exporters, busybox)
#   scripts/services.sh start     start PostgreSQL and Redis unless already up, wait until ready
#   scripts/services.sh stop      stop both (a no-op when they are not running)
#   scripts/services.sh status    say what is running; exit 1 if something is down
#   scripts/services.sh env       print `export TAROT_TEST_...` lines: eval "$(scripts/services.sh env)"
#
# Settings (environment): TAROT_SERVICES_DIR (default /var/tmp/tarot-monitoring), TAROT_PG_PORT (55432),
# TAROT_REDIS_PORT (56379), TAROT_PG_EXPORTER_PORT (59187), TAROT_PG_PASSWORD, TAROT_SERVICE_TIMEOUT
# (seconds to wait for readiness, 60).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE_DIR="${TAROT_SERVICES_DIR:-/var/tmp/tarot-monitoring}"
PG_BIN="${TAROT_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${TAROT_PG_PORT:-55432}"
PG_USER=tarot
PG_DB=tarot
PG_PASSWORD="${TAROT_PG_PASSWORD:-tarot-test-password}"
PG_DATA="$STATE_DIR/postgres/data"
PG_SOCKET_DIR="$STATE_DIR/postgres/run"
PG_LOG="$STATE_DIR/postgres/postgres.log"
REDIS_PORT="${TAROT_REDIS_PORT:-56379}"
REDIS_DIR="$STATE_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
PG_EXPORTER_PORT="${TAROT_PG_EXPORTER_PORT:-59187}"
PG_EXPORTER_DIR="$STATE_DIR/postgres-exporter"
PG_EXPORTER_PIDFILE="$PG_EXPORTER_DIR/exporter.pid"
PG_EXPORTER_LOG="$PG_EXPORTER_DIR/exporter.log"
PG_EXPORTER_QUERIES="$REPO_ROOT/otel-collector/config/postgres-queries.yaml"
TIMEOUT="${TAROT_SERVICE_TIMEOUT:-60}"
HOST=127.0.0.1

# busybox: its wget and grep run compose's healthchecks as the images do (tests/e2e/test_compose_auth_e2e.py).
PACKAGES=(postgresql redis-server prometheus prometheus-postgres-exporter prometheus-redis-exporter busybox)

# --- install -----------------------------------------------------------------------------------

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

cmd_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "all packages present: ${PACKAGES[*]}"
        return 0
    fi
    command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
    log "installing: ${missing[*]}"
    as_root apt-get update -q
    # The packages' scripts would start the stock daemons (PostgreSQL on 5432, Redis on 6379,
    # Prometheus on 0.0.0.0:9090, ...). We start our own, so deny starts during the install the
    # standard Debian way, unless the machine already has a policy.
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, from tarot-monitoring scripts/services.sh install\nexit 101\n' \
            | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || rc=$?
    [ -z "$added_policy" ] || as_root rm -f "$policy"
    [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed (exit $rc)"
    for p in "${missing[@]}"; do installed "$p" || die "package $p did not install"; done
}

need() {
    local what
    for what in "$@"; do
        [ -x "$what" ] || command -v "$what" >/dev/null 2>&1 \
            || die "$what not found; run: scripts/services.sh install"
    done
}

# run_as USER CMD...: the daemons refuse to (PostgreSQL) or should not (Redis) run as root.
run_as() {
    local user="$1"; shift
    if [ "$(id -un)" = "$user" ]; then "$@"
    elif [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"
    else sudo -u "$user" -- "$@"
    fi
}

# wait_until DESCRIPTION LOGFILE CMD...: poll CMD every 0.2 s for at most $TIMEOUT seconds.
wait_until() {
    local what="$1" logfile="$2"; shift 2
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "last lines of $logfile:"
            tail -n 20 "$logfile" >&2 2>/dev/null || true
            die "$what not ready after ${TIMEOUT}s (TAROT_SERVICE_TIMEOUT); see $logfile"
        fi
        sleep 0.2
    done
}

# --- PostgreSQL --------------------------------------------------------------------------------

pg_running() { [ -f "$PG_DATA/PG_VERSION" ] && run_as postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -d postgres; }
psql_admin() { run_as postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres "$@"; }

pg_init() {
    [ -f "$PG_DATA/PG_VERSION" ] && return 0
    log "initdb $PG_DATA"
    install -d -o postgres -g postgres -m 700 "$PG_DATA"
    # Superuser over the local socket only (trust); TCP needs a password (scram-sha-256).
    run_as postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- tarot-monitoring test cluster (scripts/services.sh) ---
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
# Throwaway test data: durability is not needed, speed on a busy machine is.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

pg_start() {
    need "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/pg_isready" "$PG_BIN/psql"
    install -d -o postgres -g postgres -m 755 "$STATE_DIR/postgres"
    install -d -o postgres -g postgres -m 755 "$PG_SOCKET_DIR"
    pg_init
    if pg_running; then
        log "PostgreSQL already running on $HOST:$PG_PORT"
    else
        log "starting PostgreSQL on $HOST:$PG_PORT"
        # 9>&-: the daemon must not inherit (and so hold) the services.lock descriptor.
        run_as postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" start >/dev/null 9>&- \
            || { tail -n 20 "$PG_LOG" >&2 || true; die "PostgreSQL did not start; see $PG_LOG"; }
    fi
    wait_until "PostgreSQL on $HOST:$PG_PORT" "$PG_LOG" pg_ready
    local password_sql="${PG_PASSWORD//\'/\'\'}"
    # Role and database, re-asserted every start so a changed TAROT_PG_PASSWORD takes effect.
    psql_admin -d postgres <<EOF
SELECT format('CREATE ROLE %I LOGIN CREATEDB', '$PG_USER')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') \gexec
ALTER ROLE "$PG_USER" WITH LOGIN CREATEDB PASSWORD '$password_sql';
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_USER')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
EOF
}

pg_stop() {
    if pg_running; then
        log "stopping PostgreSQL"
        run_as postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$TIMEOUT" stop >/dev/null
    else
        log "PostgreSQL not running"
    fi
}

# --- Redis -------------------------------------------------------------------------------------

redis_user() { if id redis >/dev/null 2>&1; then echo redis; else id -un; fi; }
redis_pid() { [ -s "$REDIS_PIDFILE" ] && cat "$REDIS_PIDFILE"; }
redis_running() { local pid; pid="$(redis_pid)" && kill -0 "$pid" 2>/dev/null; }
redis_ready() { [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_start() {
    need redis-server redis-cli
    local user; user="$(redis_user)"
    install -d -o "$user" -m 750 "$REDIS_DIR"
    if redis_running; then
        log "Redis already running on $HOST:$REDIS_PORT"
    else
        rm -f "$REDIS_PIDFILE"
        log "starting Redis on $HOST:$REDIS_PORT"
        # No persistence: the tests' keys are disposable.
        run_as "$user" redis-server --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
            --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$REDIS_DIR" \
            --save '' --appendonly no 9>&- \
            || die "Redis did not start; see $REDIS_LOG"
    fi
    wait_until "Redis on $HOST:$REDIS_PORT" "$REDIS_LOG" redis_ready
}

redis_stop() {
    if redis_running; then
        local pid; pid="$(redis_pid)"
        log "stopping Redis"
        redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + TIMEOUT))
        while kill -0 "$pid" 2>/dev/null; do
            [ "$SECONDS" -lt "$deadline" ] || die "Redis (pid $pid) did not stop within ${TIMEOUT}s"
            sleep 0.2
        done
        rm -f "$REDIS_PIDFILE"
    else
        log "Redis not running"
    fi
}

# --- prometheus-postgres-exporter --------------------------------------------------------------
# The collector's datastores-postgres.yaml overlay scrapes it (tests/e2e/test_datastores_e2e.py).
# The password reaches it as a file (DATA_SOURCE_PASS_FILE, mode 600), never in argv or a DSN; the
# queries file is copied into the state directory, and a changed one restarts the exporter.

pg_exporter_pid() { [ -s "$PG_EXPORTER_PIDFILE" ] && cat "$PG_EXPORTER_PIDFILE"; }
pg_exporter_running() {
    local pid; pid="$(pg_exporter_pid)" && kill -0 "$pid" 2>/dev/null \
        && grep -qa prometheus-postgres-exporter "/proc/$pid/cmdline" 2>/dev/null
}
pg_exporter_ready() { curl -fsS -o /dev/null --max-time 2 "http://$HOST:$PG_EXPORTER_PORT/metrics"; }

pg_exporter_stop() {
    if pg_exporter_running; then
        local pid; pid="$(pg_exporter_pid)"
        log "stopping prometheus-postgres-exporter"
        kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + TIMEOUT))
        while kill -0 "$pid" 2>/dev/null; do
            [ "$SECONDS" -lt "$deadline" ] || die "prometheus-postgres-exporter (pid $pid) did not stop"
            sleep 0.2
        done
    else
        log "prometheus-postgres-exporter not running"
    fi
    rm -f "$PG_EXPORTER_PIDFILE"
}

pg_exporter_start() {
    need prometheus-postgres-exporter curl
    install -d -m 700 "$PG_EXPORTER_DIR"
    if pg_exporter_running && cmp -s "$PG_EXPORTER_QUERIES" "$PG_EXPORTER_DIR/queries.yaml"; then
        log "prometheus-postgres-exporter already running on $HOST:$PG_EXPORTER_PORT"
    else
        pg_exporter_running && pg_exporter_stop  # the queries changed
        ( umask 077 && printf '%s' "$PG_PASSWORD" >"$PG_EXPORTER_DIR/password" )
        cp "$PG_EXPORTER_QUERIES" "$PG_EXPORTER_DIR/queries.yaml"
        log "starting prometheus-postgres-exporter on $HOST:$PG_EXPORTER_PORT"
        # setsid + nohup: a daemon of its own, not held by this shell or the services.lock descriptor.
        DATA_SOURCE_URI="$HOST:$PG_PORT/$PG_DB?sslmode=disable" DATA_SOURCE_USER="$PG_USER" \
            DATA_SOURCE_PASS_FILE="$PG_EXPORTER_DIR/password" \
            setsid nohup prometheus-postgres-exporter --web.listen-address="$HOST:$PG_EXPORTER_PORT" \
            --extend.query-path="$PG_EXPORTER_DIR/queries.yaml" --log.level=warn \
            >>"$PG_EXPORTER_LOG" 2>&1 </dev/null 9>&- &
        echo $! >"$PG_EXPORTER_PIDFILE"
    fi
    wait_until "prometheus-postgres-exporter on $HOST:$PG_EXPORTER_PORT" "$PG_EXPORTER_LOG" pg_exporter_ready
}

# --- commands ----------------------------------------------------------------------------------

# One start/stop at a time: several test runs may share this machine.
locked() {
    install -d -m 755 "$STATE_DIR"
    exec 9>"$STATE_DIR/services.lock"
    flock -w "$((TIMEOUT * 2))" 9 || die "another scripts/services.sh holds $STATE_DIR/services.lock"
    "$@"
}

cmd_start() {
    pg_start; redis_start; pg_exporter_start
    log "ready: PostgreSQL $HOST:$PG_PORT, Redis $HOST:$REDIS_PORT, postgres exporter $HOST:$PG_EXPORTER_PORT"
}
cmd_stop() { pg_exporter_stop; redis_stop; pg_stop; }

cmd_status() {
    local rc=0
    if pg_running && pg_ready; then echo "postgres: running on $HOST:$PG_PORT (data $PG_DATA)"
    else echo "postgres: not running"; rc=1; fi
    if redis_running && redis_ready; then echo "redis: running on $HOST:$REDIS_PORT (pid $(redis_pid))"
    else echo "redis: not running"; rc=1; fi
    if pg_exporter_running && pg_exporter_ready; then
        echo "postgres-exporter: running on $HOST:$PG_EXPORTER_PORT (pid $(pg_exporter_pid))"
    else echo "postgres-exporter: not running"; rc=1; fi
    return "$rc"
}

cmd_env() {
    local password
    password="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PG_PASSWORD")"
    echo "export TAROT_TEST_POSTGRES_DSN='postgresql://$PG_USER:$password@$HOST:$PG_PORT/$PG_DB'"
    echo "export TAROT_TEST_REDIS_URL='redis://$HOST:$REDIS_PORT/0'"
    echo "export TAROT_TEST_POSTGRES_EXPORTER_ADDR='$HOST:$PG_EXPORTER_PORT'"
}

case "${1:-}" in
    install) locked cmd_install ;;
    start) locked cmd_start ;;
    stop) locked cmd_stop ;;
    restart) locked cmd_stop && locked cmd_start ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 install|start|stop|restart|status|env" >&2; exit 2 ;;
esac
