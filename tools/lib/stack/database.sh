# shellcheck shell=bash
# tools/lib/stack/database.sh - part "database": the database stepup in
# the cluster, migrated by `stepupctl migrate` as the owner (a database
# that exists already, from an earlier up or made by hand, is migrated as
# it is).

part_database_up() {
    local exists out
    exists=$(as_owner "$PG_BIN/psql" -X -q -At -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'stepup'") || die "cannot query PostgreSQL"
    if [ "$exists" != 1 ]; then
        say "creating database stepup"
        as_owner "$PG_BIN/createdb" stepup || die "createdb failed"
    fi
    if ! out=$(as_owner "$CTL" migrate 2>&1); then
        printf '%s\n' "$out" >&2
        die "stepupctl migrate failed"
    fi
    # what an upgrade changes for the operator (stepupctl's warnings)
    grep -F 'warning:' <<<"$out" >&2 || true
    # The auditor logs in here (trust on loopback, like every role of this
    # stack); a production DBA grants stepup_auditor to a role of their own.
    as_owner "$PG_BIN/psql" -X -q -d stepup -c "ALTER ROLE stepup_auditor LOGIN" >/dev/null ||
        die "cannot let stepup_auditor log in"
}
