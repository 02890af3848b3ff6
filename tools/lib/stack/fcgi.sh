# shellcheck shell=bash
# tools/lib/stack/fcgi.sh - part "fcgi": stepup-fcgi's configuration,
# $STATE/stepup.conf, written by stepup-fcgi itself (--init-config: every
# key documented, fresh random keys, mode 0600) the first time, and
# brought to this stack's database and web server with --update-config
# afterwards; with gate_allow_sandbox = 1, so that the demo's sandbox
# sessions pass the /legacy/ gate.  Its db_conninfo names PostgreSQL, both
# Patroni nodes (STEPUP_PG_HA=patroni) or PgBouncer (STEPUP_PGBOUNCER=1, with
# db_prepared_statements = 0).
#
# Who starts the program depends on the web server (STEPUP_HTTPD):
#   lighttpd      this part: stand-alone as $STEPUP_FCGI_USER, 4 worker
#                 threads on $FCGI_RUN/stepup-fcgi.sock, which lighttpd
#                 (another user) connects to for the API and the gate;
#   apache-proxy  the same, and also on 127.0.0.1:$AUTHORIZER_PORT for the
#                 gate (mod_authnz_fcgi speaks TCP only);
#   apache-fcgid  Apache's mod_fcgid, as Apache's user, one process per
#                 concurrent request, so 1 worker thread each (mod_fcgid
#                 sends a process one request at a time), all counting for
#                 GET /metrics into the one file $HTTPD_RUN/stepup-metrics
#                 that they map (metrics_file).
# Stand-alone, its pid file is $FCGI_RUN/stepup-fcgi.pid and its log
# $LOGDIR/stepup-fcgi.log.  It runs with --daemon: the pid file names its
# supervisor, which holds the sockets and starts a new serving process
# whenever one dies (stepup-fcgi(8)); `down` stops the supervisor, which
# stops the process that serves.

# The database as stepup-fcgi reaches it: PostgreSQL (under Patroni: both
# nodes, taking whichever is the primary), or PgBouncer (STEPUP_PGBOUNCER=1).
fcgi_conninfo() {
    local hosts
    if [ "$PGBOUNCER" = 1 ]; then
        hosts="host=127.0.0.1 port=$PGBOUNCER_PORT"
    else
        hosts=$(pg_conninfo_hosts)
    fi
    echo "$hosts dbname=stepup user=stepup_app application_name=stepup-fcgi connect_timeout=3"
}

# The settings this stack decides, as KEY=VALUE lines.
fcgi_stack_settings() {
    echo "db_conninfo=$(fcgi_conninfo)"
    # Through PgBouncer's transaction pooling nothing may stay in a session.
    if [ "$PGBOUNCER" = 1 ]; then
        echo "db_prepared_statements=0"
    else
        echo "db_prepared_statements=1"
    fi
    echo "gate_allow_sandbox=1"
    case $HTTPD in
        lighttpd) echo "workers=4"; echo "socket=$FCGI_SOCKET"; echo "authorizer_socket="
                  echo "metrics_file=" ;;
        apache-fcgid) echo "workers=1"; echo "socket="; echo "authorizer_socket="
                      echo "metrics_file=$HTTPD_RUN/stepup-metrics" ;;
        apache-proxy) echo "workers=4"; echo "socket=$FCGI_SOCKET"
                      echo "authorizer_socket=127.0.0.1:$AUTHORIZER_PORT"
                      echo "metrics_file=" ;;
    esac
}

# The stand-alone stepup-fcgi (itself, or under valgrind: STEPUP_FCGI_WRAPPER).
standalone_pid() {
    live_pid_of "$FCGI_PID" stepup-fcgi || live_pid_of "$FCGI_PID" memcheck-amd64-
}

write_fcgi_config() {
    local sets=() line stale=0
    while IFS= read -r line; do
        sets+=(--set "$line")
        if [ -f "$CONF" ] &&
           [ "$("$FCGI_BIN" -c "$CONF" --get-config "${line%%=*}")" != "${line#*=}" ]; then
            stale=1
        fi
    done < <(fcgi_stack_settings)
    if [ ! -f "$CONF" ]; then
        say "writing $CONF (new random otp_key and outbox_key)"
        "$FCGI_BIN" --init-config "$CONF" "${sets[@]}" --set log_level=info ||
            die "stepup-fcgi --init-config failed"
    elif [ $stale -eq 1 ]; then
        # Same keys; another port, web server or an older file: only the
        # stack's own settings change.
        say "updating the stack's settings in $CONF (for $HTTPD)"
        "$FCGI_BIN" --update-config "$CONF" "${sets[@]}" || die "stepup-fcgi --update-config failed"
    fi
    give_to "$(fcgi_user)" "$CONF"
}

part_fcgi_up() {
    local pid
    write_fcgi_config
    [ "$HTTPD" != apache-fcgid ] || return 0
    if pid=$(standalone_pid); then
        say "stepup-fcgi already running stand-alone (pid $pid)"
        return 0
    fi
    say "starting stepup-fcgi on $FCGI_SOCKET$([ "$HTTPD" = apache-proxy ] && echo " and 127.0.0.1:$AUTHORIZER_PORT")"
    # shellcheck disable=SC2086 # the wrapper is a command line
    if ! as_user "$STEPUP_FCGI_USER" ${WRAPPER//@STATE_DIR@/$STATE} "$FCGI_BIN" -c "$CONF" --daemon \
            --pid-file "$FCGI_PID" </dev/null >>"$LOGDIR/stepup-fcgi.log" 2>&1; then
        show_tail "$LOGDIR/stepup-fcgi.log"
        die "stepup-fcgi did not start"
    fi
}

part_fcgi_down() {
    local pid
    pid=$(standalone_pid) || return 1
    say "stopping stepup-fcgi (pid $pid)"
    stop_pids stepup-fcgi 30 "$pid"
    rm -f "$FCGI_PID"
}

part_fcgi_status() {
    local pid
    [ "$HTTPD" != apache-fcgid ] || [ -f "$FCGI_PID" ] || return 0
    if pid=$(standalone_pid); then
        printf '%-13s up    pid %-8s %s%s\n' stepup-fcgi "$pid" "$FCGI_SOCKET" \
            "$([ "$HTTPD" = apache-proxy ] && echo ", 127.0.0.1:$AUTHORIZER_PORT")"
    else
        printf '%-13s down\n' stepup-fcgi
        return 3
    fi
}
