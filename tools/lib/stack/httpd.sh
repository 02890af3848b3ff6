# shellcheck shell=bash
# tools/lib/stack/httpd.sh - part "httpd": the web server on
# 127.0.0.1:$HTTP_PORT, with the example legacy application behind the
# step-up gate at /legacy/.  STEPUP_HTTPD chooses it:
#   lighttpd      httpd-conf/lighttpd.conf.in; lighttpd connects to the
#                 stand-alone stepup-fcgi of the fcgi part, for the API and
#                 as a FastCGI authorizer;
#   apache-fcgid  httpd-conf/apache-fcgid.conf.in; Apache's mod_fcgid starts
#                 stepup-fcgi, the gate is FcgidAuthorizer;
#   apache-proxy  httpd-conf/apache-proxy.conf.in; mod_proxy_fcgi to the
#                 stand-alone stepup-fcgi of the fcgi part, the gate is a
#                 mod_authnz_fcgi provider.
# `down` and `status` go by the pid files, whichever server is running.
# The server runs as $STEPUP_WEB_USER (when root), and so does the legacy
# application (a CGI program): neither can read stepup's configuration.

LIGHTTPD_CONF=$STATE/lighttpd.conf
LIGHTTPD_PID=$HTTPD_RUN/lighttpd.pid
APACHE_CONF=$STATE/apache.conf
APACHE_PID=$HTTPD_RUN/apache.pid
APACHE_MODULES=/usr/lib/apache2/modules
WRAPPER=${STEPUP_FCGI_WRAPPER:-}

lighttpd_pid() {
    live_pid_of "$LIGHTTPD_PID" lighttpd
}

apache_pid() {
    live_pid_of "$APACHE_PID" apache2
}

# The example legacy application behind the step-up gate ($URL/legacy/,
# see httpd-conf/lighttpd.conf.in): httpd-conf/legacy/ copied afresh into
# the document root at every `up`, readable by the web server's user only.
install_legacy_app() {
    local dst=$STATE/www/legacy
    rm -rf "$dst.new"
    cp -R "$ROOT/httpd-conf/legacy" "$dst.new" || die "cannot copy httpd-conf/legacy to $dst.new"
    chmod -R u=rwX,go= "$dst.new"
    if is_root; then chown -R "$STEPUP_WEB_USER:" "$dst.new"; fi
    rm -rf "$dst"
    mv "$dst.new" "$dst"
}

# Render template $1 into $2, replacing the placeholders outside comments.
render_httpd_conf() {
    local template=$1 out=$2 wrapper="" first
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
        echo "# Rendered by tools/stack up from httpd-conf/$(basename "$template"): edit that instead."
        sed -e "/^[[:space:]]*#/!{
                    s|@FCGI_WRAPPER@|${wrapper//@STATE_DIR@/$STATE}|g
                    s|@HTTP_PORT@|$HTTP_PORT|g
                    s|@STATE_DIR@|$STATE|g
                    s|@FCGI_BIN@|$FCGI_BIN|g
                    s|@CONFIG@|$CONF|g
                    s|@MODULES@|$APACHE_MODULES|g
                    s|@FCGI_SOCKET@|$FCGI_SOCKET|g
                    s|@AUTHORIZER_ADDR@|127.0.0.1:$AUTHORIZER_PORT|g
                }" "$template"
    } >"$out.tmp"
    if grep -v '^[[:space:]]*#' "$out.tmp" | grep -q '@[A-Z_]*@'; then
        die "unreplaced placeholder in $out: $(grep -v '^[[:space:]]*#' "$out.tmp" | grep -o '@[A-Z_]*@' | head -n 1)"
    fi
    mv "$out.tmp" "$out"
    give_to "$STEPUP_WEB_USER" "$out"
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
    show_tail "$LOGDIR/apache-error.log" 40
    die "GET $URL/health did not answer 200 within ${limit}s (last status: $code)"
}

# The port a running server's configuration listens on.
running_port() {
    case $1 in
        lighttpd) sed -n 's/^server.port *= *\([0-9]*\).*/\1/p' "$LIGHTTPD_CONF" ;;
        apache) sed -n 's/^Listen 127.0.0.1:\([0-9]*\).*/\1/p' "$APACHE_CONF" ;;
    esac
}

# Refuse to start one server while the other runs on this state directory.
httpd_running_check() {
    local pid name conf
    if pid=$(lighttpd_pid); then name=lighttpd; conf=lighttpd
    elif pid=$(apache_pid); then
        name=$(sed -n 's/^# stepup server: //p' "$APACHE_CONF"); conf=apache
    else
        return 1
    fi
    [ "$name" = "$HTTPD" ] ||
        die "$name already runs on $STATE (pid $pid): run tools/stack down first"
    [ "$(running_port $conf)" = "$HTTP_PORT" ] ||
        die "$name of $STATE already runs on port $(running_port $conf), not $HTTP_PORT: run tools/stack down first"
    say "$name already running (pid $pid, port $HTTP_PORT)"
}

lighttpd_up() {
    render_httpd_conf "$ROOT/httpd-conf/lighttpd.conf.in" "$LIGHTTPD_CONF"
    own_log "$STEPUP_WEB_USER" "$LOGDIR/lighttpd-error.log"
    own_log "$STEPUP_WEB_USER" "$LOGDIR/lighttpd-cgi.log"
    as_user "$STEPUP_WEB_USER" /usr/sbin/lighttpd -tt -f "$LIGHTTPD_CONF" >"$LOGDIR/lighttpd-start.log" 2>&1 ||
        { show_tail "$LOGDIR/lighttpd-start.log"; die "lighttpd rejects $LIGHTTPD_CONF"; }
    say "starting lighttpd on $URL"
    # lighttpd daemonizes; its standard streams go to a log so that no
    # caller's pipe stays open.
    if ! as_user "$STEPUP_WEB_USER" /usr/sbin/lighttpd -f "$LIGHTTPD_CONF" </dev/null >>"$LOGDIR/lighttpd-start.log" 2>&1; then
        show_tail "$LOGDIR/lighttpd-start.log"
        show_tail "$LOGDIR/lighttpd-error.log"
        die "lighttpd did not start"
    fi
}

apache_up() {
    [ -x /usr/sbin/apache2 ] || die "apache2 is not installed (apt-get install apache2 libapache2-mod-fcgid)"
    own_dir "$STEPUP_WEB_USER" 0700 "$HTTPD_RUN/fcgid"
    own_log "$STEPUP_WEB_USER" "$LOGDIR/apache-error.log"
    own_log "$STEPUP_WEB_USER" "$LOGDIR/apache-access.log"
    render_httpd_conf "$ROOT/httpd-conf/$HTTPD.conf.in" "$APACHE_CONF"
    if [ "$HTTPD" = apache-fcgid ]; then
        cp "$ROOT/httpd-conf/bearer-user.lua" "$STATE/bearer-user.lua"
        give_to "$STEPUP_WEB_USER" "$STATE/bearer-user.lua"
    fi
    echo "# stepup server: $HTTPD" >>"$APACHE_CONF"
    # -D STEPUP_AS_SERVICE: started as its user already, so no User/Group.
    local args=(-f "$APACHE_CONF" -D STEPUP_AS_SERVICE)
    as_user "$STEPUP_WEB_USER" /usr/sbin/apache2 "${args[@]}" -t >"$LOGDIR/apache-start.log" 2>&1 ||
        { show_tail "$LOGDIR/apache-start.log"; die "apache2 rejects $APACHE_CONF"; }
    say "starting Apache ($HTTPD) on $URL"
    if ! as_user "$STEPUP_WEB_USER" /usr/sbin/apache2 "${args[@]}" -k start </dev/null >>"$LOGDIR/apache-start.log" 2>&1; then
        show_tail "$LOGDIR/apache-start.log"
        show_tail "$LOGDIR/apache-error.log"
        die "apache2 did not start"
    fi
}

part_httpd_up() {
    [ -f "$CONF" ] || die "no $CONF: bring up the fcgi part first"
    install_legacy_app
    if ! httpd_running_check; then
        case $HTTPD in
            lighttpd) lighttpd_up ;;
            apache-*) apache_up ;;
        esac
    fi
    wait_healthy
}

# Every process under pid (its children, theirs...), but not pid itself.
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1"); do
        echo "$child"
        descendants "$child"
    done
}

part_httpd_down() {
    local pid name
    if pid=$(lighttpd_pid); then name=lighttpd
    elif pid=$(apache_pid); then name=Apache
    else return 1
    fi
    # The server stops the stepup-fcgi processes it spawned (and Apache its
    # children); wait for those too.
    local others
    others=$(descendants "$pid" | tr '\n' ' ')
    say "stopping $name (pid $pid)"
    # shellcheck disable=SC2086
    stop_pids "$name or its children" 30 "$pid" $others
    rm -f "$LIGHTTPD_PID" "$APACHE_PID"
}

# The stepup-fcgi processes a server runs (for status).
fcgi_children() {
    local p
    for p in $(descendants "$1"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = apache2 ] || printf '%s ' "$p"
    done
}

part_httpd_status() {
    local pid name children code
    if pid=$(lighttpd_pid); then name=lighttpd
    elif pid=$(apache_pid); then name=apache2
    else
        printf '%-13s down\n' "$HTTPD"
        [ "$HTTPD" != apache-fcgid ] || printf '%-13s down\n' stepup-fcgi
        return 3
    fi
    printf '%-13s up    pid %-8s %s\n' "$name" "$pid" "$URL"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/health" || true)
    if [ -f "$FCGI_PID" ]; then
        # stand-alone (lighttpd, apache-proxy): the fcgi part shows stepup-fcgi.
        [ "$code" = 200 ] || { printf '%-13s GET /health: %s\n' "" "$code"; return 3; }
        return 0
    fi
    children=$(fcgi_children "$pid")
    children=${children% }
    if [ -n "$children" ] && [ "$code" = 200 ]; then
        printf '%-13s up    pid %-8s GET /health: %s\n' stepup-fcgi "$children" "$code"
    else
        printf '%-13s down  pid %-8s GET /health: %s\n' stepup-fcgi "${children:--}" "$code"
        return 3
    fi
}
