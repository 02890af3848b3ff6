# shellcheck shell=bash
# tools/lib/stack/fcgi.sh - part "fcgi": stepup-fcgi's configuration,
# $STATE/stepup.conf, written by stepup-fcgi itself (--init-config: every
# key documented, fresh random keys, mode 0600) the first time, and
# brought to this stack's database with --update-config afterwards.  The
# web server part starts the program.

fcgi_conninfo() {
    echo "host=127.0.0.1 port=$PG_PORT dbname=stepup user=stepup_app application_name=stepup-fcgi connect_timeout=3"
}

part_fcgi_up() {
    if [ ! -f "$CONF" ]; then
        say "writing $CONF (new random otp_key and outbox_key)"
        "$FCGI_BIN" --init-config "$CONF" --set db_conninfo="$(fcgi_conninfo)" --set workers=4 \
            --set log_level=info || die "stepup-fcgi --init-config failed"
    elif [ "$("$FCGI_BIN" -c "$CONF" --get-config db_conninfo)" != "$(fcgi_conninfo)" ]; then
        # Same keys, another port: only the connection string changes.
        say "updating db_conninfo in $CONF"
        "$FCGI_BIN" --update-config "$CONF" --set db_conninfo="$(fcgi_conninfo)" ||
            die "stepup-fcgi --update-config failed"
    fi
    give_to_service "$CONF"
}
