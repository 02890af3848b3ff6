# shellcheck shell=bash
# tools/lib/stack/postgres.sh - part "postgres": a private PostgreSQL 15
# cluster in $STATE/pg on 127.0.0.1:$PG_PORT (trust authentication on the
# loopback interface: a development stack), run as $STEPUP_DB_USER.
# Under STEPUP_PG_HA=patroni the patroni part runs PostgreSQL instead, and
# this part does nothing.

pg_running() {
    [ -f "$PGDATA/PG_VERSION" ] && as_user "$STEPUP_DB_USER" "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

# Line N of postmaster.pid (1: pid, 4: port).
postmaster_field() {
    sed -n "${1}p" "$PGDATA/postmaster.pid" 2>/dev/null
}

part_postgres_up() {
    [ "$PG_HA" != patroni ] || return 0
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        say "creating the PostgreSQL cluster in $PGDATA"
        as_user "$STEPUP_DB_USER" "$PG_BIN/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --auth=trust -E UTF8 --locale=C \
            >"$LOGDIR/initdb.log" 2>&1 || { show_tail "$LOGDIR/initdb.log"; die "initdb failed"; }
    fi
    if pg_running; then
        local port
        port=$(postmaster_field 4)
        [ "$port" = "$PG_PORT" ] ||
            die "PostgreSQL of $STATE already runs on port $port, not $PG_PORT: run tools/stack down first"
        say "PostgreSQL already running (pid $(postmaster_field 1), port $PG_PORT)"
        return 0
    fi
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    own_log "$STEPUP_DB_USER" "$LOGDIR/postgresql.log"
    if ! as_user "$STEPUP_DB_USER" "$PG_BIN/pg_ctl" -w -t 60 -D "$PGDATA" -l "$LOGDIR/postgresql.log" \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_RUN ${STEPUP_PG_OPTIONS:-}" \
            start </dev/null >/dev/null 2>&1; then
        show_tail "$LOGDIR/postgresql.log"
        die "PostgreSQL did not start"
    fi
}

part_postgres_down() {
    pg_running || return 1
    say "stopping PostgreSQL (pid $(postmaster_field 1))"
    as_user "$STEPUP_DB_USER" "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null ||
        die "pg_ctl stop failed"
}

part_postgres_status() {
    if [ "$PG_HA" = patroni ] || { [ ! -f "$PGDATA/PG_VERSION" ] && patroni_configured; }; then
        return 0 # the patroni part's
    fi
    if pg_running; then
        printf '%-13s up    pid %-8s 127.0.0.1:%s\n' postgresql "$(postmaster_field 1)" "$(postmaster_field 4)"
    else
        printf '%-13s down\n' postgresql
        return 3
    fi
}
