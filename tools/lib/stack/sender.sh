# shellcheck shell=bash
# tools/lib/stack/sender.sh - part "sender": stepup-sender, delivering the
# queued texts with the log provider, or with the http provider when
# STEPUP_SMS_GATEWAY_URL is set.  Its configuration,
# $STATE/stepup-sender.conf, is written by stepup-sender itself the first
# time (--init-config, taking outbox_key from stepup.conf with
# --keys-from); every up sets db_conninfo, provider and http_url again
# with --update-config and keeps whatever else was edited.

SENDER_CONF=$STATE/stepup-sender.conf
SENDER_PID=$SENDER_RUN/stepup-sender.pid
SENDER_LOG=$LOGDIR/stepup-sender.log
# The Ed25519 key that seals the audit log: the private half for the
# sender only, the public half for whoever verifies (stack.env's
# STEPUP_AUDIT_PUBLIC_KEY).
AUDIT_KEY=$STATE/audit-key.pem
AUDIT_PUBLIC_KEY=$STATE/audit-key.pub.pem
GATEWAY_URL=${STEPUP_SMS_GATEWAY_URL:-}

sender_pid() {
    live_pid_of "$SENDER_PID" stepup-sender
}

make_audit_key() {
    if [ ! -f "$AUDIT_KEY" ]; then
        say "making the audit log's sealing key $AUDIT_KEY"
        (umask 077 && openssl genpkey -algorithm ed25519 -out "$AUDIT_KEY.tmp") ||
            die "openssl genpkey failed"
        mv "$AUDIT_KEY.tmp" "$AUDIT_KEY"
    fi
    if [ ! -f "$AUDIT_PUBLIC_KEY" ] || [ "$AUDIT_PUBLIC_KEY" -ot "$AUDIT_KEY" ]; then
        openssl pkey -in "$AUDIT_KEY" -pubout -out "$AUDIT_PUBLIC_KEY" || die "openssl pkey failed"
        chmod 0644 "$AUDIT_PUBLIC_KEY"
    fi
    give_to "$STEPUP_SENDER_USER" "$AUDIT_KEY"
}

write_sender_config() {
    # Always PostgreSQL itself, never PgBouncer: LISTEN needs a session.
    local conninfo
    conninfo="$(pg_conninfo_hosts) dbname=stepup user=stepup_sender application_name=stepup-sender connect_timeout=3"
    local provider=log
    if [ -n "$GATEWAY_URL" ]; then
        case $GATEWAY_URL in
            http://*|https://*) provider=http ;;
            *) die "STEPUP_SMS_GATEWAY_URL must be an http:// or https:// URL" ;;
        esac
    fi
    make_audit_key
    local sets=(--set "db_conninfo=$conninfo" --set "provider=$provider" --set "http_url=$GATEWAY_URL"
                --set "audit_key_file=$AUDIT_KEY")
    if [ ! -f "$SENDER_CONF" ]; then
        say "writing $SENDER_CONF"
        "$SENDER_BIN" --init-config "$SENDER_CONF" --keys-from "$CONF" "${sets[@]}" \
            --set poll_interval_ms=1000 --set log_level=info ||
            die "stepup-sender --init-config failed"
    else
        "$SENDER_BIN" --update-config "$SENDER_CONF" "${sets[@]}" ||
            die "stepup-sender --update-config failed"
    fi
    give_to "$STEPUP_SENDER_USER" "$SENDER_CONF"
}

part_sender_up() {
    local pid
    [ "${STEPUP_SENDER:-1}" = 1 ] || return 0
    [ -x "$SENDER_BIN" ] || die "the build did not produce $SENDER_BIN"
    [ -f "$CONF" ] || die "no $CONF: bring up the fcgi part first"
    write_sender_config
    if pid=$(sender_pid); then
        say "stepup-sender already running (pid $pid): reloading its configuration"
        kill -HUP "$pid" 2>/dev/null || true
        return 0
    fi
    say "starting stepup-sender ($( [ -n "$GATEWAY_URL" ] && echo "http provider: $GATEWAY_URL" || echo "log provider" ))"
    # --daemon returns once the sender runs; its log is standard error.
    if ! as_user "$STEPUP_SENDER_USER" "$SENDER_BIN" -c "$SENDER_CONF" --daemon --pid-file "$SENDER_PID" \
            </dev/null >>"$SENDER_LOG" 2>&1; then
        show_tail "$SENDER_LOG"
        die "stepup-sender did not start"
    fi
    sender_pid >/dev/null || { show_tail "$SENDER_LOG"; die "stepup-sender exited at once"; }
}

part_sender_down() {
    local pid
    pid=$(sender_pid) || return 1
    say "stopping stepup-sender (pid $pid)"
    stop_pids stepup-sender 30 "$pid"
    rm -f "$SENDER_PID"
}

part_sender_status() {
    local pid
    if pid=$(sender_pid); then
        printf '%-13s up    pid %-8s provider %s\n' stepup-sender "$pid" \
            "$("$SENDER_BIN" -c "$SENDER_CONF" --get-config provider 2>/dev/null)"
    else
        printf '%-13s down\n' stepup-sender
        # counts only when configured: STEPUP_SENDER=0 skips it
        [ "${STEPUP_SENDER:-1}" = 1 ] && return 3
    fi
    return 0
}
