# shellcheck shell=bash
# tools/lib/stack/fcgi.sh - part "fcgi": stepup-fcgi's configuration,
# $STATE/stepup.conf, written by stepup-fcgi itself (--init-config: every
# key documented, fresh random keys, mode 0600) the first time, and
# brought to this stack's database with --update-config afterwards; with
# gate_allow_sandbox = 1, so that the demo's sandbox sessions pass the
# /legacy/ gate.  The web server part starts the program.

fcgi_conninfo() {
    echo "host=127.0.0.1 port=$PG_PORT dbname=stepup user=stepup_app application_name=stepup-fcgi connect_timeout=3"
}

part_fcgi_up() {
    if [ ! -f "$CONF" ]; then
        say "writing $CONF (new random otp_key and outbox_key)"
        "$FCGI_BIN" --init-config "$CONF" --set db_conninfo="$(fcgi_conninfo)" --set workers=4 \
            --set log_level=info --set gate_allow_sandbox=1 ||
            die "stepup-fcgi --init-config failed"
    elif [ "$("$FCGI_BIN" -c "$CONF" --get-config db_conninfo)" != "$(fcgi_conninfo)" ] ||
         [ "$("$FCGI_BIN" -c "$CONF" --get-config gate_allow_sandbox)" != 1 ]; then
        # Same keys, another port (or a file from before the demo's gate
        # let sandbox sessions through): only these keys change.
        say "updating db_conninfo and gate_allow_sandbox in $CONF"
        "$FCGI_BIN" --update-config "$CONF" --set db_conninfo="$(fcgi_conninfo)" \
            --set gate_allow_sandbox=1 || die "stepup-fcgi --update-config failed"
    fi
    give_to_service "$CONF"
}
