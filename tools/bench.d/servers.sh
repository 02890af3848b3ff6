# shellcheck shell=bash
# tools/bench.d/servers.sh - the servers of tools/bench: its stacks (made
# by tools/stack's parts), the lighttpd and responders of the baselines,
# the loopback SMS gateways, the senders; and the teardown that stops
# exactly what was started, by pid, whatever ends the run.
#
# Sourced by tools/bench, which sets ROOT, BUILD, BENCH_DIR, PORT_BASE,
# PG_OPTIONS and RUN_DIR first.  Every server binds to 127.0.0.1, on
# ports PORT_BASE+1.. (see bench_port).

# The ports of everything the benchmark starts.
bench_port() {
    case $1 in
        main-pg) echo $((PORT_BASE + 1)) ;;
        growth-pg) echo $((PORT_BASE + 2)) ;;
        main-http) echo $((PORT_BASE + 10)) ;;    # and +11: stepup-fcgi's gate for Apache (TCP)
        growth-http) echo $((PORT_BASE + 12)) ;;  # and +13
        apache-http) echo $((PORT_BASE + 14)) ;;
        pgbouncer-pg) echo $((PORT_BASE + 1)) ;;  # the pgbouncer stack uses the main database
        pgbouncer-http) echo $((PORT_BASE + 15)) ;;
        pgbouncer) echo $((PORT_BASE + 16)) ;;    # PgBouncer itself
        noop-http) echo $((PORT_BASE + 20)) ;;
        reference-http) echo $((PORT_BASE + 21)) ;;
        gateway-instant) echo $((PORT_BASE + 30)) ;;
        gateway-slow) echo $((PORT_BASE + 31)) ;;
        *) die "bug: no port for $1" ;;
    esac
}

# What was started, for the teardown.
STACKS_UP=()        # names of stacks (main, growth) brought up
BASELINES_UP=()     # names of baselines (noop, reference) brought up
SENDER_PIDFILES=()  # pid files of the senders started
GATEWAY_UP=0
APACHE_UP=0
CHILD=              # the pid of the load generator (wrk, pgbench, curl) running now
KEEP_STACK=0        # --keep: leave the main stack running

# Progress on standard error, with the time since the start.
progress() {
    printf '[%4ds] %s\n' $((SECONDS - BENCH_STARTED)) "$*" >&2
}

# Run a command in the background and wait for it, so that the teardown
# can stop it by its pid when the run is interrupted.
run_child() {
    local rc=0
    "$@" &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=
    return $rc
}

# own_file USER FILE MODE: FILE is USER's (when root), with MODE.
own_file() {
    chmod "$3" "$2"
    if is_root; then chown "$1:" "$2"; fi
}

# wait_ports PORT...: wait (at most 2 minutes) until no socket of this
# machine has one of these ports as its local port.  They are in the range
# the kernel hands out to outgoing connections too (32768-60999), and a
# connection of other work that used one blocks a server's bind() until
# it has left TIME_WAIT (a minute).  A port some server listens on
# already (a part of this stack that runs) is not waited for.
wait_ports() {
    local port deadline=$((SECONDS + 120)) said=0 busy
    while :; do
        busy=
        for port in "$@"; do
            local sockets
            sockets=$(ss -Htan "sport = :$port" 2>/dev/null || true)
            if [ -n "$sockets" ] && ! grep -q '^LISTEN' <<<"$sockets"; then
                busy=$port
                break
            fi
        done
        [ -n "$busy" ] || return 0
        [ $SECONDS -lt $deadline ] || return 0 # bind() will say what is wrong
        if [ $said = 0 ]; then
            say "port $busy is held by another program's connection (ss -tan 'sport = :$busy'): waiting for it to close"
            said=1
        fi
        sleep 2
    done
}

# --- the stacks (tools/stack) -----------------------------------------------

# stack_env NAME: the environment tools/stack needs for stack NAME (main,
# growth, or pgbouncer: a second stepup-fcgi and lighttpd, reaching the
# main stack's database through PgBouncer) behind web server HTTPD, as
# NAME=VALUE words.
stack_env() {
    local name=$1 httpd=${2:-lighttpd}
    echo "STEPUP_STATE_DIR=$BENCH_DIR/$name STEPUP_PG_PORT=$(bench_port "$name-pg")" \
         "STEPUP_HTTP_PORT=$(bench_port "$name-http") STEPUP_HTTPD=$httpd STEPUP_SENDER=0" \
         "STEPUP_DEMO=0 STEPUP_BUILD_DIR=$BUILD"
    [ "$name" != pgbouncer ] ||
        echo "STEPUP_PGBOUNCER=1 STEPUP_PGBOUNCER_PORT=$(bench_port pgbouncer)" \
             "STEPUP_PGBOUNCER_POOL_SIZE=$WORKERS"
}

# stack NAME HTTPD up|down|status [PART...]: tools/stack on a stack of the
# benchmark, durable (PG_OPTIONS), without its sender (tools/bench starts
# its own) or demo; its messages go to the run's log.
stack() {
    local name=$1 httpd=$2 try mark
    shift 2
    # The ports are in the range the kernel also hands out to outgoing
    # connections, and other work on the machine may hold one for a
    # moment: a server that finds its port taken is started again.
    for try in 1 2 3 4 5 6; do
        [ "${1:-}" != up ] ||
            wait_ports "$(bench_port "$name-pg")" "$(bench_port "$name-http")" $(( $(bench_port "$name-http") + 1 ))
        mark=$(wc -l <"$RUN_DIR/stack.log" 2>/dev/null || echo 0)
        # shellcheck disable=SC2046 # stack_env's words are NAME=VALUE pairs
        env $(stack_env "$name" "$httpd") STEPUP_PG_OPTIONS="$PG_OPTIONS" \
            "$ROOT/tools/stack" "$@" >>"$RUN_DIR/stack.log" 2>&1 && return 0
        tail -n +$((mark + 1)) "$RUN_DIR/stack.log" | grep -q -i 'address already in use' || break
        say "a port of the $name stack is taken: trying again in 5 s"
        sleep 5
    done
    tail -n 20 "$RUN_DIR/stack.log" >&2
    die "tools/stack $* failed for the $name stack (log: $RUN_DIR/stack.log)"
}

# use_stack NAME: point the helpers below (psql, stepupctl, the URL) at it,
# and take its programmes, keys and password (bench_db keeps them in its
# bench.env).
use_stack() {
    CUR=$1
    CUR_STATE=$BENCH_DIR/$1
    CUR_PG_PORT=$(bench_port "$1-pg")
    CUR_URL=http://127.0.0.1:$(bench_port "$1-http")
    # shellcheck disable=SC1091
    if [ -f "$CUR_STATE/bench.env" ]; then . "$CUR_STATE/bench.env"; fi
}

stack_up() { # NAME HTTPD [PART...]
    local name=$1 httpd=$2
    shift 2
    case " ${STACKS_UP[*]} " in *" $name "*) ;; *) STACKS_UP+=("$name") ;; esac
    stack "$name" "$httpd" up "$@"
}

stack_down() { # NAME [PART...]
    stack "$1" lighttpd down "${@:2}"
}

# psql on the current stack's database: as the owner of the schema (sql),
# the bootstrap superuser (sql_super) or stepup_app (the API's role).
sql() {
    env PGHOST=127.0.0.1 PGPORT="$CUR_PG_PORT" PGUSER=stepup PGDATABASE=stepup \
        "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"
}
sql_super() {
    env PGHOST=127.0.0.1 PGPORT="$CUR_PG_PORT" PGUSER=postgres PGDATABASE=stepup \
        "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"
}
# stepupctl as the operator.
ctl() {
    env PGHOST=127.0.0.1 PGPORT="$CUR_PG_PORT" PGUSER=stepup_operator PGDATABASE=stepup \
        "$BUILD/src/ctl/stepupctl" "$@"
}
json_get() { # FIELD: the field of the JSON document on stdin
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# The stand-alone stepup-fcgi of the current stack.
fcgi_pid() {
    local pid
    pid=$(head -n 1 "$CUR_STATE/run/fcgi/stepup-fcgi.pid" 2>/dev/null | tr -dc 0-9)
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = stepup-fcgi ] && echo "$pid"
}

# --- the baselines' lighttpd and responders ----------------------------------

# baseline_httpd up|down NAME SOCKET: lighttpd from the same template as
# stepup's (httpd-conf/lighttpd.conf.in, through tools/stack's httpd part),
# on the baseline's own port and state directory, passing every request
# to SOCKET instead of stepup-fcgi's.
baseline_httpd() {
    local action=$1 name=$2 socket=$3
    (
        export STEPUP_STATE_DIR=$BENCH_DIR/$name STEPUP_HTTP_PORT=$(bench_port "$name-http")
        export STEPUP_HTTPD=lighttpd STEPUP_BUILD_DIR=$BUILD
        PROG="bench ($name)"
        # shellcheck source=tools/lib/stack/base.sh
        . "$ROOT/tools/lib/stack/base.sh"
        # shellcheck source=tools/lib/stack/httpd.sh
        . "$ROOT/tools/lib/stack/httpd.sh"
        FCGI_SOCKET=$socket
        case $action in
            up) lighttpd_up && wait_healthy ;;
            down) part_httpd_down || true ;;
        esac
    ) >>"$RUN_DIR/stack.log" 2>&1
}

# The state directory of a baseline, made like a stack's (tools/stack's
# prepare_state): run/fcgi/ is stepup-fcgi's user's, with the web
# server's group, as for stepup-fcgi itself.
baseline_state() {
    (
        export STEPUP_STATE_DIR=$BENCH_DIR/$1 STEPUP_BUILD_DIR=$BUILD
        PROG="bench ($1)"
        # shellcheck source=tools/lib/stack/base.sh
        . "$ROOT/tools/lib/stack/base.sh"
        prepare_state
    ) >>"$RUN_DIR/stack.log" 2>&1
}

# The pid in FILE when that process is alive and called COMM.
pid_of() {
    local pid
    pid=$(head -n 1 "$1" 2>/dev/null | tr -dc 0-9)
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}

# Wait (at most 10 s) for a pid file naming a live COMM.
wait_pid_file() {
    local deadline=$((SECONDS + 10))
    until pid_of "$1" "$2" >/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# Stop the process of a pid file (SIGTERM, SIGKILL after 20 s).
stop_pid_file() {
    local file=$1 comm=$2 pid
    pid=$(pid_of "$file" "$comm") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$file"
}

# The responder of a baseline: NAME noop or reference.
responder_bin() { echo "$BUILD/tools/bench.d/bench-$1-fcgi"; }
responder_comm() { responder_bin "$1" | xargs basename | cut -c1-15; }
responder_pidfile() { echo "$BENCH_DIR/$1/run/fcgi/bench-$1.pid"; }

# baseline_up NAME: its responder (4 workers, as stepup-fcgi's user, on a
# socket in its own run/fcgi/) and its lighttpd.  The reference responder
# connects to the main stack's database as stepup_app.
baseline_up() {
    local name=$1 socket args=()
    socket=$BENCH_DIR/$name/run/fcgi/bench-$name.sock
    BASELINES_UP+=("$name")
    baseline_state "$name"
    wait_ports "$(bench_port "$name-http")"
    args=(--socket "$socket" --workers "$WORKERS" --pid-file "$(responder_pidfile "$name")")
    if [ "$name" = reference ]; then
        args+=(--db "host=127.0.0.1 port=$(bench_port main-pg) dbname=stepup user=stepup_app application_name=bench-reference connect_timeout=3")
    fi
    touch "$BENCH_DIR/$name/log/responder.log"
    # In the background, in its own session: it is stopped by its pid.
    as_user "$STEPUP_FCGI_USER" setsid "$(responder_bin "$name")" "${args[@]}" \
        </dev/null >>"$BENCH_DIR/$name/log/responder.log" 2>&1 &
    wait_pid_file "$(responder_pidfile "$name")" "$(responder_comm "$name")" ||
        { tail -n 5 "$BENCH_DIR/$name/log/responder.log" >&2; die "bench-$name-fcgi did not start"; }
    baseline_httpd up "$name" "$socket" || die "the $name baseline's lighttpd did not start (log: $RUN_DIR/stack.log)"
}

baseline_down() {
    baseline_httpd down "$1" ""
    stop_pid_file "$(responder_pidfile "$1")" "$(responder_comm "$1")"
}

# --- Apache in front of the main stack's stepup-fcgi --------------------------

# apache_httpd up|down: Apache from httpd-conf/apache-proxy.conf.in (through
# tools/stack's httpd part), in a state directory of its own and on a port
# of its own, in front of the main stack's stand-alone stepup-fcgi (its
# unix socket, and its TCP address for the gate), while lighttpd stays in
# front of it too: the rows of the two web servers alternate, each
# endpoint behind lighttpd and then behind Apache, so that the machine's
# other work weighs on both alike.  stepup-fcgi must have been started for
# apache-proxy (authorizer_socket set).
apache_httpd() {
    local action=$1
    [ "$action" = down ] || APACHE_UP=1
    (
        export STEPUP_STATE_DIR=$BENCH_DIR/apache STEPUP_HTTP_PORT=$(bench_port apache-http)
        export STEPUP_HTTPD=apache-proxy STEPUP_BUILD_DIR=$BUILD
        export STEPUP_AUTHORIZER_PORT=$(( $(bench_port main-http) + 1 ))
        PROG="bench (apache)"
        # shellcheck source=tools/lib/stack/base.sh
        . "$ROOT/tools/lib/stack/base.sh"
        # shellcheck source=tools/lib/stack/httpd.sh
        . "$ROOT/tools/lib/stack/httpd.sh"
        FCGI_SOCKET=$BENCH_DIR/main/run/fcgi/stepup-fcgi.sock
        case $action in
            up) prepare_state && install_legacy_app && apache_up && wait_healthy ;;
            down) part_httpd_down || true ;;
        esac
    ) >>"$RUN_DIR/stack.log" 2>&1
}

# --- the SMS gateways (nginx) ------------------------------------------------

GATEWAY_DIR() { echo "$BENCH_DIR/gateway"; }

gateway_up() {
    local dir
    dir=$(GATEWAY_DIR)
    GATEWAY_UP=1
    mkdir -p "$dir/run" "$dir/log" "$dir/tmp"
    sed -e "s|@STATE_DIR@|$dir|g" -e "s|@PORT_INSTANT@|$(bench_port gateway-instant)|g" \
        -e "s|@PORT_SLOW@|$(bench_port gateway-slow)|g" \
        "$ROOT/tools/bench.d/nginx-gateway.conf.in" >"$dir/nginx.conf"
    if is_root; then chown -R "$STEPUP_WEB_USER:" "$dir"; fi
    ensure_traversable "$dir"
    wait_ports "$(bench_port gateway-instant)" "$(bench_port gateway-slow)"
    as_user "$STEPUP_WEB_USER" /usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" \
        >>"$dir/log/nginx-start.log" 2>&1 || { cat "$dir/log/nginx-start.log" >&2; die "nginx did not start"; }
    wait_pid_file "$dir/run/nginx.pid" nginx || die "nginx did not start"
    local port
    for port in $(bench_port gateway-instant) $(bench_port gateway-slow); do
        curl -sf -o /dev/null --max-time 5 -d '{}' "http://127.0.0.1:$port/" ||
            die "the gateway on port $port does not answer"
    done
}

gateway_down() {
    stop_pid_file "$(GATEWAY_DIR)/run/nginx.pid" nginx
}

# --- the senders -------------------------------------------------------------

# sender_config FILE URL SEAL: a configuration for the http provider
# posting to URL, written by stepup-sender itself (--init-config, the
# outbox_key from the stack's stepup.conf), plus the --sender-set values;
# SEAL 1: this sender also seals the audit log (one sealer, as in
# production).
sender_config() {
    local file=$1 url=$2 seal=$3 key=""
    [ "$seal" = 1 ] && key=$CUR_STATE/audit-key.pem
    if [ "$seal" = 1 ] && [ ! -f "$key" ]; then
        (umask 077 && openssl genpkey -algorithm ed25519 -out "$key") || die "openssl genpkey failed"
        own_file "$STEPUP_SENDER_USER" "$key" 0600
    fi
    rm -f "$file"
    local sets=(--set "db_conninfo=host=127.0.0.1 port=$CUR_PG_PORT dbname=stepup user=stepup_sender application_name=bench-sender connect_timeout=3"
                --set provider=http --set "http_url=$url" --set "audit_key_file=$key"
                --set log_level=info)
    local s
    for s in "${SENDER_SETS[@]}"; do sets+=(--set "$s"); done
    "$BUILD/src/sender/stepup-sender" --init-config "$file" --keys-from "$CUR_STATE/stepup.conf" \
        "${sets[@]}" >>"$RUN_DIR/stack.log" 2>&1 ||
        die "stepup-sender --init-config failed (a --sender-set this sender does not know?): see $RUN_DIR/stack.log"
    own_file "$STEPUP_SENDER_USER" "$file" 0600
}

# sender_start N CONF: sender number N, as its user, detached.
sender_start() {
    local n=$1 conf=$2 pidfile
    pidfile=$CUR_STATE/run/sender/bench-sender-$n.pid
    SENDER_PIDFILES+=("$pidfile")
    touch "$CUR_STATE/log/bench-sender.log"
    own_file "$STEPUP_SENDER_USER" "$CUR_STATE/log/bench-sender.log" 0640
    as_user "$STEPUP_SENDER_USER" "$BUILD/src/sender/stepup-sender" -c "$conf" --daemon \
        --pid-file "$pidfile" </dev/null >>"$CUR_STATE/log/bench-sender.log" 2>&1 ||
        { tail -n 5 "$CUR_STATE/log/bench-sender.log" >&2; die "stepup-sender did not start"; }
}

sender_pids() {
    local f
    for f in "${SENDER_PIDFILES[@]}"; do pid_of "$f" stepup-sender || true; done
}

senders_stop() {
    local f
    for f in "${SENDER_PIDFILES[@]}"; do stop_pid_file "$f" stepup-sender; done
    SENDER_PIDFILES=()
}

# --- the teardown ------------------------------------------------------------

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$CHILD" ]; then
        kill -INT "$CHILD" 2>/dev/null
        sleep 0.5
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    [ ${#SENDER_PIDFILES[@]} -eq 0 ] || senders_stop
    [ "$GATEWAY_UP" = 0 ] || gateway_down
    [ "$APACHE_UP" = 0 ] || apache_httpd down
    local name
    for name in "${BASELINES_UP[@]}"; do [ -z "$name" ] || baseline_down "$name"; done
    for name in "${GROWTH_PIDS[@]}"; do kill -TERM "$name" 2>/dev/null; done
    local i
    for ((i = ${#STACKS_UP[@]} - 1; i >= 0; i--)); do # the last up first
        name=${STACKS_UP[i]}
        [ -n "$name" ] || continue
        if [ "$name" = main ] && [ "$KEEP_STACK" = 1 ] && [ $rc -eq 0 ]; then
            progress "--keep: the main stack stays up (STEPUP_STATE_DIR=$BENCH_DIR/main tools/stack down)"
            continue
        fi
        # shellcheck disable=SC2046
        env $(stack_env "$name") "$ROOT/tools/stack" down >>"$RUN_DIR/stack.log" 2>&1 ||
            say "could not stop the $name stack: STEPUP_STATE_DIR=$BENCH_DIR/$name tools/stack down"
    done
    [ $rc -eq 0 ] || say "stopped (exit $rc); everything it started is stopped; logs in $RUN_DIR"
    exit $rc
}
