# shellcheck shell=bash
# tools/lib/stack/httpd.sh - part "httpd": lighttpd on 127.0.0.1:$HTTP_PORT
# from httpd-conf/lighttpd.conf.in, starting stepup-fcgi itself (bin-path),
# with the example legacy application behind the step-up gate at /legacy/.

HTTPD_CONF=$STATE/lighttpd.conf
HTTPD_PID=$RUN/lighttpd.pid
WRAPPER=${STEPUP_FCGI_WRAPPER:-}

lighttpd_pid() {
    live_pid_of "$HTTPD_PID" lighttpd
}

# The example legacy application behind the step-up gate ($URL/legacy/,
# see httpd-conf/lighttpd.conf.in): httpd-conf/legacy/ copied afresh into
# the document root at every `up`, readable by the service user only.
install_legacy_app() {
    local dst=$STATE/www/legacy
    rm -rf "$dst.new"
    cp -R "$ROOT/httpd-conf/legacy" "$dst.new" || die "cannot copy httpd-conf/legacy to $dst.new"
    chmod -R u=rwX,go= "$dst.new"
    if is_root; then chown -R "$STEPUP_SERVICE_USER:" "$dst.new"; fi
    rm -rf "$dst"
    mv "$dst.new" "$dst"
}

render_httpd_conf() {
    local wrapper="" first
    if [ -n "$WRAPPER" ]; then
        # lighttpd execs bin-path without a PATH search: make the command absolute.
        first=${WRAPPER%% *}
        case $first in
            /*) wrapper="$WRAPPER " ;;
            *) first=$(command -v "$first") || die "STEPUP_FCGI_WRAPPER: ${WRAPPER%% *} not found"
               wrapper="$first ${WRAPPER#* } " ;;
        esac
    fi
    # Placeholders are replaced outside comments only (the template's
    # header documents them).
    {
        echo "# Rendered by tools/stack up from httpd-conf/lighttpd.conf.in: edit that instead."
        sed -e "/^[[:space:]]*#/!{
                    s|@FCGI_WRAPPER@|$wrapper|g
                    s|@HTTP_PORT@|$HTTP_PORT|g
                    s|@STATE_DIR@|$STATE|g
                    s|@FCGI_BIN@|$FCGI_BIN|g
                    s|@CONFIG@|$CONF|g
                }" "$ROOT/httpd-conf/lighttpd.conf.in"
    } >"$HTTPD_CONF.tmp"
    if grep -v '^[[:space:]]*#' "$HTTPD_CONF.tmp" | grep -q '@[A-Z_]*@'; then
        die "unreplaced placeholder in $HTTPD_CONF: $(grep -v '^[[:space:]]*#' "$HTTPD_CONF.tmp" | grep -o '@[A-Z_]*@' | head -n 1)"
    fi
    mv "$HTTPD_CONF.tmp" "$HTTPD_CONF"
    give_to_service "$HTTPD_CONF"
}

wait_healthy() {
    local limit=${STEPUP_HEALTH_TIMEOUT:-20}
    [ -n "$WRAPPER" ] && limit=${STEPUP_HEALTH_TIMEOUT:-120}
    local deadline=$((SECONDS + limit)) code=000
    while [ $SECONDS -lt $deadline ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/health" || true)
        [ "$code" = 200 ] && return 0
        sleep 0.2
    done
    show_tail "$LOGDIR/lighttpd-error.log" 40
    die "GET $URL/health did not answer 200 within ${limit}s (last status: $code)"
}

part_httpd_up() {
    local pid
    [ -f "$CONF" ] || die "no $CONF: bring up the fcgi part first"
    install_legacy_app
    if pid=$(lighttpd_pid); then
        local port
        port=$(sed -n 's/^server.port *= *\([0-9]*\).*/\1/p' "$HTTPD_CONF")
        [ "$port" = "$HTTP_PORT" ] ||
            die "lighttpd of $STATE already runs on port $port, not $HTTP_PORT: run tools/stack down first"
        say "lighttpd already running (pid $pid, port $HTTP_PORT)"
    else
        render_httpd_conf
        as_service /usr/sbin/lighttpd -tt -f "$HTTPD_CONF" >"$LOGDIR/lighttpd-start.log" 2>&1 ||
            { show_tail "$LOGDIR/lighttpd-start.log"; die "lighttpd rejects $HTTPD_CONF"; }
        say "starting lighttpd on $URL"
        # lighttpd daemonizes; its standard streams go to a log so that no
        # caller's pipe stays open.
        if ! as_service /usr/sbin/lighttpd -f "$HTTPD_CONF" </dev/null >>"$LOGDIR/lighttpd-start.log" 2>&1; then
            show_tail "$LOGDIR/lighttpd-start.log"
            show_tail "$LOGDIR/lighttpd-error.log"
            die "lighttpd did not start"
        fi
    fi
    wait_healthy
}

# The pids of the stepup-fcgi processes lighttpd runs (its children).
fcgi_children() {
    ps -o pid= --ppid "$1" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

part_httpd_down() {
    local pid children
    pid=$(lighttpd_pid) || return 1
    # lighttpd stops the stepup-fcgi it spawned; wait for those too.
    children=$(fcgi_children "$pid")
    say "stopping lighttpd (pid $pid)"
    # shellcheck disable=SC2086
    stop_pids "lighttpd or its stepup-fcgi" 30 "$pid" $children
    rm -f "$HTTPD_PID"
}

part_httpd_status() {
    local pid children code
    if ! pid=$(lighttpd_pid); then
        printf '%-13s down\n' lighttpd
        printf '%-13s down\n' stepup-fcgi
        return 3
    fi
    printf '%-13s up    pid %-8s %s\n' lighttpd "$pid" "$URL"
    children=$(fcgi_children "$pid")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/health" || true)
    if [ -n "$children" ] && [ "$code" = 200 ]; then
        printf '%-13s up    pid %-8s GET /health: %s\n' stepup-fcgi "$children" "$code"
    else
        printf '%-13s down  pid %-8s GET /health: %s\n' stepup-fcgi "${children:--}" "$code"
        return 3
    fi
}
