/*
 * ctl_migrate.c - stepupctl migrate: apply the compiled-in migrations.
 *
 * Applied migrations are recorded in public.stepup_migrations (outside the
 * stepup schema, which the first migration creates).  A session-level
 * advisory lock serialises concurrent runs; each migration runs in its own
 * transaction together with its record, so a failed migration leaves
 * nothing behind and a second run applies nothing.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The advisory lock key of migrations ("stepupmg" as a 64-bit number). */
#define MIGRATE_LOCK_KEY "8319385945341193575"

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS public.stepup_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Run a statement that returns nothing of interest; STEPUP_OK when it succeeded. */
static int exec_simple(struct ctl *c, const char *sql, const struct db_params *params)
{
    db_result *r = db_query(c->db, NULL, sql, params);
    if (r == NULL)
        return STEPUP_ERR;
    db_result_free(r);
    return STEPUP_OK;
}

/* True when version is among the rows of applied (column 0). */
static bool is_applied(const db_result *applied, int version)
{
    for (int i = 0; i < db_rows(applied); i++) {
        if (atoi(db_value(applied, i, 0)) == version)
            return true;
    }
    return false;
}

/*
 * Apply one migration in its own transaction with its record.  On failure
 * the transaction is rolled back, the reason reported, and STEPUP_ERR
 * returned.
 */
static int apply_one(struct ctl *c, const struct migration *m)
{
    char version[16];
    struct db_params params = { 0 };

    snprintf(version, sizeof version, "%d", m->version);
    db_param_text(&params, version);
    db_param_text(&params, m->name);

    if (exec_simple(c, "BEGIN", NULL) != STEPUP_OK) {
        ctl_db_error(c, "cannot start a transaction");
        return STEPUP_ERR;
    }
    if (db_script(c->db, NULL, m->sql) != STEPUP_OK) {
        ctl_error(c, "migration %s failed: %s", m->name, db_last_error(c->db));
        goto failed;
    }
    if (exec_simple(c, "INSERT INTO public.stepup_migrations (version, name)"
                       " VALUES ($1::integer, $2::text)", &params) != STEPUP_OK) {
        ctl_db_error(c, "cannot record the migration");
        goto failed;
    }
    if (exec_simple(c, "COMMIT", NULL) != STEPUP_OK) {
        ctl_error(c, "migration %s failed at commit: %s", m->name, db_last_error(c->db));
        goto failed;
    }
    return STEPUP_OK;

failed:
    if (exec_simple(c, "ROLLBACK", NULL) != STEPUP_OK) {
        /* the connection is gone: the server has rolled back already */
    }
    return STEPUP_ERR;
}

/* Warn about recorded versions this binary does not carry (a newer stepupctl ran). */
static void warn_unknown(const struct ctl *c, const db_result *applied)
{
    for (int i = 0; i < db_rows(applied); i++) {
        int v = atoi(db_value(applied, i, 0));
        bool known = false;
        for (size_t j = 0; j < stepup_nmigrations; j++)
            known = known || stepup_migrations[j].version == v;
        if (!known)
            ctl_error(c, "warning: the database has migration %d (%s), unknown to this stepupctl",
                      v, db_value(applied, i, 1));
    }
}

/*
 * stepupctl migrate: under the advisory lock, create the record table if
 * needed, apply each missing migration in version order, and print
 * {"applied": [names], "version": highest recorded version}.
 */
int ctl_migrate(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = { { NULL, 0, NULL, 0 } };
    struct json_object *names = NULL;
    db_result *applied = NULL;
    db_result *r = NULL;
    bool locked = false;
    int rc = CTL_FAILED;
    int ch;

    optind = 0;
    opterr = 0;
    ch = getopt_long(argc, argv, ":", options, NULL);
    if (ch != -1)
        return ctl_option_error(c, ch, argv);
    if (optind < argc) {
        ctl_error(c, "migrate takes no arguments (see --help)");
        return CTL_USAGE;
    }

    if (exec_simple(c, "SELECT pg_catalog.pg_advisory_lock(" MIGRATE_LOCK_KEY ")", NULL)
        != STEPUP_OK) {
        ctl_db_error(c, "cannot lock the migrations");
        goto done;
    }
    locked = true;
    if (exec_simple(c, create_table_sql, NULL) != STEPUP_OK) {
        ctl_db_error(c, "cannot create public.stepup_migrations");
        goto done;
    }
    applied = db_query(c->db, NULL,
                       "SELECT version, name FROM public.stepup_migrations ORDER BY version", NULL);
    if (applied == NULL) {
        ctl_db_error(c, "cannot read public.stepup_migrations");
        goto done;
    }
    warn_unknown(c, applied);

    names = json_object_new_array();
    /* stepup_migrations[] is in file-name order, which is version order */
    for (size_t i = 0; i < stepup_nmigrations; i++) {
        const struct migration *m = &stepup_migrations[i];
        if (is_applied(applied, m->version))
            continue;
        if (apply_one(c, m) != STEPUP_OK)
            goto done;
        json_object_array_add(names, json_object_new_string(m->name));
    }

    r = db_query(c->db, NULL,
                 "SELECT coalesce(max(version), 0) FROM public.stepup_migrations", NULL);
    if (r == NULL) {
        ctl_db_error(c, "cannot read public.stepup_migrations");
        goto done;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "applied", names);
    names = NULL;
    json_object_object_add(doc, "version", json_object_new_int(atoi(db_value(r, 0, 0))));
    ctl_print_json(doc);
    rc = CTL_OK;

done:
    if (r != NULL)
        db_result_free(r);
    json_object_put(names);
    if (applied != NULL)
        db_result_free(applied);
    if (locked && exec_simple(c, "SELECT pg_catalog.pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
                              NULL) != STEPUP_OK) {
        /* released at disconnect anyway */
    }
    return rc;
}
