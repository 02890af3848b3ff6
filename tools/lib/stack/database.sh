# shellcheck shell=bash
# tools/lib/stack/database.sh - part "database": the database stepup in
# the cluster, migrated by `stepupctl migrate` as the owner (a database
# that exists already, from an earlier up or made by hand, is migrated as
# it is).

# The owner of the schema: a role that may log in and create the roles the
# migrations create (stepup_app, ...), never a superuser.  A cluster made
# by an earlier tools/stack has the owner as its bootstrap superuser,
# which PostgreSQL cannot demote: that one is kept, with a warning.
make_owner() {
    local super
    if ! as_superuser "$PG_BIN/psql" -X -q -At -c "SELECT 1" >/dev/null 2>&1; then
        say "warning: this cluster predates the separate bootstrap superuser, so $PG_OWNER is a superuser; for the production shape: tools/stack down && rm -rf $PGDATA && tools/stack up"
        PG_SUPERUSER=$PG_OWNER
        return 0
    fi
    super=$(as_superuser "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v owner="$PG_OWNER" -f - <<'SQL'
SELECT rolsuper FROM pg_roles WHERE rolname = :'owner';
SQL
) || die "cannot query PostgreSQL"
    if [ -z "$super" ]; then
        say "creating role $PG_OWNER (the schema's owner: LOGIN CREATEROLE, not a superuser)"
        as_superuser "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -v owner="$PG_OWNER" -f - >/dev/null <<'SQL' ||
CREATE ROLE :"owner" LOGIN CREATEROLE NOSUPERUSER;
SQL
            die "cannot create role $PG_OWNER"
    elif [ "$super" = t ]; then
        say "warning: role $PG_OWNER is a superuser (made by hand?); stepup needs only LOGIN CREATEROLE"
    fi
}

part_database_up() {
    local exists out
    make_owner
    exists=$(as_superuser "$PG_BIN/psql" -X -q -At \
        -c "SELECT 1 FROM pg_database WHERE datname = 'stepup'") || die "cannot query PostgreSQL"
    if [ "$exists" != 1 ]; then
        say "creating database stepup, owned by $PG_OWNER"
        as_superuser "$PG_BIN/createdb" -O "$PG_OWNER" stepup || die "createdb failed"
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
