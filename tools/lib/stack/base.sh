# shellcheck shell=bash
# tools/lib/stack/base.sh - what every part of the stack shares: the state
# layout, the names of programs and files, and small helpers.  Sourced by
# tools/stack after tools/lib/common.sh; the parts (postgres.sh,
# patroni.sh, database.sh, pgbouncer.sh, fcgi.sh, httpd.sh, sender.sh,
# demo.sh) each define part_<name>_up, and those that run a process
# part_<name>_down and part_<name>_status.

STATE=$(realpath -m "${STEPUP_STATE_DIR:-$ROOT/var}")
PG_PORT=${STEPUP_PG_PORT:-55432}
HTTP_PORT=${STEPUP_HTTP_PORT:-8080}
BUILD=$(realpath -m "$STEPUP_BUILD_DIR")
FCGI_BIN=$BUILD/src/fcgi/stepup-fcgi
CTL=$BUILD/src/ctl/stepupctl
SENDER_BIN=$BUILD/src/sender/stepup-sender
PGDATA=$STATE/pg
RUN=$STATE/run
LOGDIR=$STATE/log
CONF=$STATE/stepup.conf
URL=http://127.0.0.1:$HTTP_PORT
# The web server in front of stepup-fcgi (httpd.sh): lighttpd (starts
# stepup-fcgi itself), apache-fcgid (Apache's mod_fcgid starts it) or
# apache-proxy (mod_proxy_fcgi to a stand-alone stepup-fcgi, fcgi.sh).
HTTPD=${STEPUP_HTTPD:-lighttpd}
case $HTTPD in
    lighttpd|apache-fcgid|apache-proxy) ;;
    *) die "STEPUP_HTTPD must be lighttpd, apache-fcgid or apache-proxy, not '$HTTPD'" ;;
esac
# apache-proxy: stepup-fcgi's loopback TCP address for mod_authnz_fcgi.
AUTHORIZER_PORT=${STEPUP_AUTHORIZER_PORT:-$((HTTP_PORT + 1))}
# $RUN holds a directory per user, as /run/stepup would in production:
# each daemon writes its own pid file and sockets and no other user can
# put a file there (the web server may enter stepup-fcgi's, to connect).
FCGI_RUN=$RUN/fcgi
HTTPD_RUN=$RUN/httpd
SENDER_RUN=$RUN/sender
PG_RUN=$RUN/pg
FCGI_SOCKET=$FCGI_RUN/stepup-fcgi.sock
FCGI_PID=$FCGI_RUN/stepup-fcgi.pid
PY=/usr/bin/python3
# The database roles of the stack: the cluster's bootstrap superuser
# (tools/stack only: it makes the database and the owner), the owner of
# the schema (not a superuser: migrations, and psql for the tests), the
# operator (stepupctl).
PG_SUPERUSER=postgres
PG_OWNER=stepup
PG_OPERATOR=stepup_operator
# STEPUP_PG_HA=patroni: PostgreSQL is not the one cluster of the postgres
# part but two nodes under Patroni (patroni.sh), a primary and its
# synchronous standby, on $PG_PORT and $PG_PORT2.  Everything of the stack
# then reaches the primary through both addresses, as libpq's multi-host
# connection strings do: whichever accepts writes (target_session_attrs
# read-write), so a failover needs no change anywhere.
PG_HA=${STEPUP_PG_HA:-}
case $PG_HA in
    ""|patroni) ;;
    *) die "STEPUP_PG_HA must be empty or patroni, not '$PG_HA'" ;;
esac
PG_PORT2=${STEPUP_PG_PORT2:-$((PG_PORT + 1))}
if [ "$PG_HA" = patroni ]; then
    PG_HOSTS=127.0.0.1,127.0.0.1
    PG_PORTS=$PG_PORT,$PG_PORT2
    PG_TARGET=read-write
else
    PG_HOSTS=127.0.0.1
    PG_PORTS=$PG_PORT
    PG_TARGET=any
fi

# The host, port (and, under Patroni, target_session_attrs) part of a
# libpq connection string that reaches the stack's primary directly.
pg_conninfo_hosts() {
    if [ "$PG_HA" = patroni ]; then
        echo "host=$PG_HOSTS port=$PG_PORTS target_session_attrs=$PG_TARGET"
    else
        echo "host=$PG_HOSTS port=$PG_PORTS"
    fi
}

# The last lines of a log file, indented, on stderr.
show_tail() {
    local f=$1 n=${2:-30}
    if [ -f "$f" ]; then
        echo "--- last lines of $f:" >&2
        tail -n "$n" "$f" | sed 's/^/    /' >&2
    fi
}

# The pid in a pid file when that process is alive, else nothing.
live_pid() {
    local f=$1 pid
    [ -f "$f" ] || return 1
    pid=$(head -n 1 "$f" 2>/dev/null | tr -dc '0-9')
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# live_pid, and the process is called comm.
live_pid_of() {
    local f=$1 comm=$2 pid
    pid=$(live_pid "$f") || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
    printf '%s\n' "$pid"
}

# Wait until no process of the list is alive (at most $1 seconds).
wait_gone() {
    local secs=$1 pid alive
    shift
    local deadline=$((SECONDS + secs))
    while :; do
        alive=0
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive -eq 0 ] && return 0
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}

# Stop a process with SIGTERM (SIGKILL after secs), and the other pids given.
stop_pids() {
    local name=$1 secs=$2
    shift 2
    kill -TERM "$@" 2>/dev/null || true
    if ! wait_gone "$secs" "$@"; then
        say "$name did not exit within $secs s: killing"
        kill -KILL "$@" 2>/dev/null || true
        wait_gone 5 "$@" || die "could not stop $name (pid $*)"
    fi
}

# Paths end up in configuration files and command lines unquoted.
check_path() {
    case $2 in
        *[[:space:]\"\'\\\|\&\$\`]*) die "$1 must not contain spaces, quotes or | & \$ \\: '$2'" ;;
    esac
}

# JSON field of the document on stdin.
json_field() {
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Run a command with the stack's database in PG*: as the bootstrap
# superuser, the owner, or the operator.
as_superuser() {
    env PGHOST=$PG_HOSTS PGPORT="$PG_PORTS" PGTARGETSESSIONATTRS=$PG_TARGET \
        PGUSER=$PG_SUPERUSER PGDATABASE=postgres "$@"
}
as_owner() {
    env PGHOST=$PG_HOSTS PGPORT="$PG_PORTS" PGTARGETSESSIONATTRS=$PG_TARGET \
        PGUSER=$PG_OWNER PGDATABASE=stepup "$@"
}
as_operator() {
    env PGHOST=$PG_HOSTS PGPORT="$PG_PORTS" PGTARGETSESSIONATTRS=$PG_TARGET \
        PGUSER=$PG_OPERATOR PGDATABASE=stepup "$@"
}

# The user stepup-fcgi runs as: its own, except under mod_fcgid, where
# Apache starts it as Apache's user (README, "Running in production", says
# what that mode gives up).
fcgi_user() {
    if [ "$HTTPD" = apache-fcgid ]; then echo "$STEPUP_WEB_USER"; else echo "$STEPUP_FCGI_USER"; fi
}

# give_to USER FILE [MODE]: USER's file (when root), mode 0600 unless given.
give_to() {
    chmod "${3:-0600}" "$2"
    if is_root; then chown "$1:" "$2"; fi
}

# own_dir USER MODE DIR [GROUP]: DIR exists, with that mode, owned by USER
# (and GROUP) when root.
own_dir() {
    mkdir -p "$3"
    if is_root; then
        chmod "$2" "$3"
        chown "$1:${4:-}" "$3"
    else
        chmod 0700 "$3"  # one user runs everything: nobody else enters
    fi
}

# own_log USER FILE: a log file that USER's daemon opens itself.
own_log() {
    touch "$2"
    give_to "$1" "$2" 0640
}

# The state directory and its parts: the top and log/ are root's (when
# root), searchable by all; each part's own directory is its user's.
prepare_state() {
    check_path STEPUP_STATE_DIR "$STATE"
    check_path STEPUP_BUILD_DIR "$BUILD"
    # Unix socket paths are limited to 107 bytes.
    local longest="$HTTPD_RUN/apache-cgid.sock.1234567"
    [ ${#longest} -le 100 ] || die "STEPUP_STATE_DIR is too deep for unix socket paths: $STATE"
    stack_users_setup
    local me
    me=$(id -un)
    own_dir "$me" 0711 "$STATE"
    own_dir "$me" 0711 "$RUN"
    own_dir "$me" 0755 "$LOGDIR"
    own_dir "$STEPUP_DB_USER" 0700 "$PGDATA"
    own_dir "$STEPUP_DB_USER" 0700 "$PG_RUN"
    # setgid: the socket's group is the web server's, so it may connect
    own_dir "$STEPUP_FCGI_USER" 2750 "$FCGI_RUN" "$STEPUP_WEB_USER"
    own_dir "$STEPUP_SENDER_USER" 0700 "$SENDER_RUN"
    own_dir "$STEPUP_WEB_USER" 0700 "$HTTPD_RUN"
    own_dir "$STEPUP_WEB_USER" 0700 "$STATE/www"
    own_dir "$STEPUP_WEB_USER" 0700 "$STATE/tmp"
    # STEPUP_FCGI_WRAPPER=valgrind ... --log-file=@STATE_DIR@/log/valgrind/...
    own_dir "$(fcgi_user)" 0750 "$LOGDIR/valgrind"
    ensure_traversable "$BUILD" "$STATE"
}

# $STATE/stack.env: what a shell (or a test) sources to talk to the stack.
write_stack_env() {
    local f=$STATE/stack.env
    {
        echo "# Written by tools/stack up; source it:  . $f"
        echo "# PGUSER is the operator's role, which every stepupctl command but migrate"
        echo "# needs; STEPUP_PG_OWNER is the owner of the schema (migrate, psql on tables)."
        printf 'export STEPUP_URL=%q\n' "$URL"
        printf 'export STEPUP_HTTPD=%q\n' "$HTTPD"
        printf 'export PGHOST=%q\n' "$PG_HOSTS"
        printf 'export PGPORT=%q\n' "$PG_PORTS"
        if [ "$PG_HA" = patroni ]; then
            echo "# Two nodes under Patroni: libpq takes whichever is the primary."
            printf 'export PGTARGETSESSIONATTRS=%q\n' "$PG_TARGET"
        fi
        if [ "$PGBOUNCER" = 1 ]; then
            echo "# stepup-fcgi reaches the database through PgBouncer, on this port;"
            echo "# PG* are PostgreSQL's own (the sender and stepupctl connect directly)."
            printf 'export STEPUP_PGBOUNCER_PORT=%q\n' "$PGBOUNCER_PORT"
        fi
        printf 'export PGUSER=%q\n' "$PG_OPERATOR"
        printf 'export PGDATABASE=%q\n' stepup
        printf 'export STEPUP_PG_OWNER=%q\n' "$PG_OWNER"
        echo "# The cluster's bootstrap superuser: only for what no role of stepup may do."
        printf 'export STEPUP_PG_SUPERUSER=%q\n' "$PG_SUPERUSER"
        printf 'export STEPUPCTL=%q\n' "$CTL"
        printf 'export STEPUP_STATE_DIR=%q\n' "$STATE"
        printf 'export STEPUP_CONFIG=%q\n' "$CONF"
        echo "# The public half of the audit log's sealing key: PGUSER=stepup_auditor \$STEPUPCTL audit verify"
        printf 'export STEPUP_AUDIT_PUBLIC_KEY=%q\n' "$STATE/audit-key.pub.pem"
    } >"$f.tmp"
    mv "$f.tmp" "$f"
    chmod 0644 "$f"
}
