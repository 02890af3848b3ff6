# shellcheck shell=bash
# tools/lib/stack/pgbouncer.sh - part "pgbouncer" (STEPUP_PGBOUNCER=1 only):
# PgBouncer between stepup-fcgi and PostgreSQL, in transaction pooling
# mode, on 127.0.0.1:$PGBOUNCER_PORT, run as $STEPUP_DB_USER.  Its
# configuration, auth file and pid file are under $STATE, written by this
# part at every up; its log is $LOGDIR/pgbouncer.log.
#
# Only stepup-fcgi goes through it (the fcgi part then writes its
# db_conninfo for PgBouncer and db_prepared_statements = 0).  The sender
# connects to PostgreSQL directly: it LISTENs, which needs a session of
# its own, and holds one connection per process anyway, so pooling it
# would save nothing.  stepupctl connects directly too (migrate keeps
# functions in pg_temp for its session); stack.env's PG* are
# PostgreSQL's.
#
# `down` and `status` go by the pid file, whether or not STEPUP_PGBOUNCER
# is set.

PGBOUNCER=${STEPUP_PGBOUNCER:-0}
case $PGBOUNCER in
    0|1) ;;
    *) die "STEPUP_PGBOUNCER must be 0 or 1, not '$PGBOUNCER'" ;;
esac
PGBOUNCER_PORT=${STEPUP_PGBOUNCER_PORT:-$((PG_PORT + 10))}
PGBOUNCER_DIR=$STATE/pgbouncer
PGBOUNCER_INI=$PGBOUNCER_DIR/pgbouncer.ini
PGBOUNCER_USERS=$PGBOUNCER_DIR/userlist.txt
PGBOUNCER_RUN=$RUN/pgbouncer
PGBOUNCER_PID=$PGBOUNCER_RUN/pgbouncer.pid
PGBOUNCER_LOG=$LOGDIR/pgbouncer.log
# Server connections per (database, user) pool: by default fewer than
# stepup-fcgi's workers (4, and the authorizer's 4 under apache-proxy), so
# that clients really share server connections, as in production, where
# hundreds of workers on many hosts share a few dozen.  tools/bench sets
# as many as the workers, to measure PgBouncer's hop rather than a pool
# smaller than the direct row's connections.
PGBOUNCER_POOL_SIZE=${STEPUP_PGBOUNCER_POOL_SIZE:-2}
case $PGBOUNCER_POOL_SIZE in
    ''|*[!0-9]*|0) die "STEPUP_PGBOUNCER_POOL_SIZE must be a positive number, not '$PGBOUNCER_POOL_SIZE'" ;;
esac

pgbouncer_pid() {
    live_pid_of "$PGBOUNCER_PID" pgbouncer
}

# The configuration, written afresh at every up (nothing in it is edited
# by hand: change this function).
write_pgbouncer_config() {
    own_dir "$STEPUP_DB_USER" 0700 "$PGBOUNCER_DIR"
    own_dir "$STEPUP_DB_USER" 0700 "$PGBOUNCER_RUN"
    own_log "$STEPUP_DB_USER" "$PGBOUNCER_LOG"
    cat >"$PGBOUNCER_INI.tmp" <<INI
; Written by tools/stack up (tools/lib/stack/pgbouncer.sh): edit that instead.
; PgBouncer between stepup-fcgi and PostgreSQL; README, "Beyond one machine".

[databases]
; The one database, on the stack's PostgreSQL; each client's user is used
; for its server connections (stepup_app).
stepup = host=127.0.0.1 port=$PG_PORT dbname=stepup

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
; No unix socket: clients come over loopback TCP, as across a network.
unix_socket_dir =

; A server connection goes back to the pool at the end of each transaction,
; and serves another client next.  Every call of stepup-fcgi is one
; transaction (a stepup.api_* function) and leaves nothing in the session
; when db_prepared_statements = 0: no named prepared statements (PgBouncer
; 1.18 does not carry them from one server connection to another), no
; session-level SET, no LISTEN; its advisory locks are transaction-scoped.
pool_mode = transaction
; At most this many server connections to PostgreSQL (see the part's
; PGBOUNCER_POOL_SIZE), and no reserve beyond them.
default_pool_size = $PGBOUNCER_POOL_SIZE
reserve_pool_size = 0
max_client_conn = 200
; Not used in transaction pooling (server_reset_query_always = 0): there is
; nothing to reset between clients.
server_reset_query = DISCARD ALL

; The development stack trusts loopback, as its PostgreSQL does.  In
; production: auth_type = scram-sha-256 with SCRAM secrets in auth_file (or
; auth_query), and the same for PgBouncer's own logins to PostgreSQL.
auth_type = trust
; trust still needs each user listed: stepup_app, and the cluster's
; superuser for the console's SHOW commands (stats_users).
auth_file = $PGBOUNCER_USERS
stats_users = $PG_SUPERUSER

; A database that restarts, or is briefly unreachable, is tried again after
; a second (the default, 15 s, would hold every request 503 that long after
; it is back; stepup-fcgi's own db_retry_seconds is 1).
server_login_retry = 1
; As stepup's connect_timeout.
server_connect_timeout = 3
; A client waits at most this long for a free server connection; stepup-fcgi
; cancels a call past db_statement_timeout_ms (5 s) first, which PgBouncer
; passes on.
query_wait_timeout = 30

logfile = $PGBOUNCER_LOG
pidfile = $PGBOUNCER_PID
INI
    printf '"%s" ""\n"%s" ""\n' stepup_app "$PG_SUPERUSER" >"$PGBOUNCER_USERS.tmp"
    mv "$PGBOUNCER_INI.tmp" "$PGBOUNCER_INI"
    mv "$PGBOUNCER_USERS.tmp" "$PGBOUNCER_USERS"
    give_to "$STEPUP_DB_USER" "$PGBOUNCER_INI"
    give_to "$STEPUP_DB_USER" "$PGBOUNCER_USERS"
}

# The port a running PgBouncer listens on (its configuration's).
pgbouncer_running_port() {
    sed -n 's/^listen_port = //p' "$PGBOUNCER_INI" 2>/dev/null
}

part_pgbouncer_up() {
    local pid
    [ "$PGBOUNCER" = 1 ] || return 0
    [ "$PG_HA" != patroni ] ||
        die "STEPUP_PGBOUNCER=1 and STEPUP_PG_HA=patroni do not go together here: PgBouncer 1.18 cannot follow a failover (README, \"Beyond one machine\")"
    [ -x /usr/sbin/pgbouncer ] || die "pgbouncer is not installed (apt-get install pgbouncer)"
    if pid=$(pgbouncer_pid); then
        [ "$(pgbouncer_running_port)" = "$PGBOUNCER_PORT" ] ||
            die "PgBouncer of $STATE already runs on port $(pgbouncer_running_port), not $PGBOUNCER_PORT: run tools/stack down first"
        say "PgBouncer already running (pid $pid, port $PGBOUNCER_PORT)"
        return 0
    fi
    write_pgbouncer_config
    say "starting PgBouncer on 127.0.0.1:$PGBOUNCER_PORT (transaction pooling, $PGBOUNCER_POOL_SIZE server connections)"
    # -d: detach once listening, having written the pid file.
    if ! as_user "$STEPUP_DB_USER" /usr/sbin/pgbouncer -d "$PGBOUNCER_INI" </dev/null \
            >>"$PGBOUNCER_LOG" 2>&1; then
        show_tail "$PGBOUNCER_LOG"
        die "PgBouncer did not start"
    fi
    local deadline=$((SECONDS + 10))
    until pgbouncer_pid >/dev/null; do
        [ $SECONDS -lt $deadline ] || { show_tail "$PGBOUNCER_LOG"; die "PgBouncer did not start"; }
        sleep 0.1
    done
    # Through PgBouncer the session's search_path pin of stepup-fcgi is
    # gone (db_prepared_statements = 0): the role's own default gives it
    # back at every server connection's start, with nothing kept in a
    # session.  Every name stepup sends is schema-qualified anyway.
    as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -c "ALTER ROLE stepup_app IN DATABASE stepup SET search_path = ''" >/dev/null ||
        die "cannot set stepup_app's search_path"
}

part_pgbouncer_down() {
    local pid
    pid=$(pgbouncer_pid) || return 1
    say "stopping PgBouncer (pid $pid)"
    stop_pids PgBouncer 30 "$pid"
    rm -f "$PGBOUNCER_PID"
}

part_pgbouncer_status() {
    local pid
    if pid=$(pgbouncer_pid); then
        printf '%-13s up    pid %-8s 127.0.0.1:%s (transaction pooling, %s server connections)\n' \
            pgbouncer "$pid" "$(pgbouncer_running_port)" \
            "$(sed -n 's/^default_pool_size = //p' "$PGBOUNCER_INI")"
    elif [ "$PGBOUNCER" = 1 ]; then
        printf '%-13s down\n' pgbouncer
        return 3
    fi
    return 0
}
