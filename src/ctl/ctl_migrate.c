/*
 * ctl_migrate.c - stepupctl migrate: bring a database to the SQL compiled
 * into this stepupctl, in one transaction.
 *
 * The SQL of stepup is of two kinds (README.md, "The SQL"):
 *
 *   sql/schema/NNN_name.sql   tables, indexes, roles and grants: each step
 *                             applied once, recorded in
 *                             public.stepup_migrations with the SHA-256 of
 *                             its file, and never edited after it landed;
 *   sql/functions/NN_*.sql    every function, trigger and view, written
 *                             CREATE OR REPLACE: all of them applied by
 *                             every migrate, in file-name order, after the
 *                             pending steps.
 *
 * So the definition of every function is in exactly one file, and the
 * database holds exactly the functions those files define, with exactly
 * the grants they give: migrate revokes every privilege on the code before
 * applying the files, and refuses to finish while the code schema holds a
 * function, view or trigger that no file defined in this run (a removed or
 * re-typed function is dropped by a schema step).  It also refuses, naming the file, when a
 * recorded step's file has changed, and when the database has a step this
 * stepupctl does not carry (a newer stepupctl migrated it: running this
 * one would put older functions back).  A step recorded before checksums
 * existed is adopted: the checksum of its file now is recorded.
 *
 * Everything happens in one transaction under migrate's own lock
 * (sql/migrate.sql): a failure anywhere leaves the database as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The functions sql/migrate.sql defines in pg_temp for this session. */
static const struct db_statement applied_steps = {
    .name = "migrate_applied", .function = "pg_temp.stepup_migrate_applied",
};
static const struct db_arg_def record_args[] = {
    { "p_version", DB_INT }, { "p_name", DB_TEXT }, { "p_checksum", DB_TEXT },
};
static const struct db_statement record_step = {
    .name = "migrate_record", .function = "pg_temp.stepup_migrate_record",
    .result = "recorded", DB_ARGS(record_args),
};
static const struct db_statement begin_code = {
    .name = "migrate_begin_code", .function = "pg_temp.stepup_migrate_begin_code",
    .result = "begun",
};
static const struct db_statement stray_code = {
    .name = "migrate_stray", .function = "pg_temp.stepup_migrate_stray",
};
static const struct db_statement finish = {
    .name = "migrate_finish", .function = "pg_temp.stepup_migrate_finish", .result = "finished",
};

/* The hex SHA-256 of a file's text. */
static void file_checksum(const struct sql_file *f, char out[2 * CRYPTO_HASH_LEN + 1])
{
    unsigned char hash[CRYPTO_HASH_LEN];
    crypto_sha256(f->sql, strlen(f->sql), hash);
    crypto_hex_encode(hash, sizeof hash, out);
}

/* The 1-based line of a 1-based character position in text (0: unknown). */
static int line_of(const char *text, int position)
{
    int line = 1;
    if (position <= 0)
        return 0;
    for (int i = 0; text[i] != '\0' && i < position - 1; i++)
        line += text[i] == '\n';
    return line;
}

/* Run one file; on failure report "path:line: message". */
static int run_file(struct ctl *c, const struct sql_file *f)
{
    if (db_script(c->db, NULL, f->sql) == STEPUP_OK)
        return STEPUP_OK;
    int line = line_of(f->sql, db_last_error_position(c->db));
    if (line > 0)
        ctl_error(c, "%s:%d: %s", f->path, line, db_last_error(c->db));
    else
        ctl_error(c, "%s: %s", f->path, db_last_error(c->db));
    return STEPUP_ERR;
}

/* Record a step (applied now, or adopted) with its file's checksum. */
static int record(struct ctl *c, const struct sql_file *f)
{
    char sum[2 * CRYPTO_HASH_LEN + 1];
    struct db_call call;

    file_checksum(f, sum);
    db_call_init(&call, &record_step);
    db_arg_int(&call, "p_version", f->version);
    db_arg_text(&call, "p_name", f->name);
    db_arg_text(&call, "p_checksum", sum);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        return STEPUP_ERR;
    db_result_free(r);
    return STEPUP_OK;
}

/* The compiled-in step of a version, or NULL. */
static const struct sql_file *step_of(int version)
{
    for (size_t i = 0; i < stepup_nschema_steps; i++) {
        if (stepup_schema_steps[i].version == version)
            return &stepup_schema_steps[i];
    }
    return NULL;
}

/*
 * Hold the recorded steps against the compiled-in ones: STEPUP_ERR
 * (reported) for a step this stepupctl lacks, a renamed one or an edited
 * one.  Marks in applied[] the steps the database has and in adopt[] those
 * recorded without a checksum.
 */
static int check_recorded(struct ctl *c, const db_result *rows, bool *applied, bool *adopt)
{
    for (int i = 0; i < db_rows(rows); i++) {
        int version = atoi(db_get(rows, i, "version"));
        const char *name = db_get(rows, i, "name");
        const struct sql_file *f = step_of(version);
        if (f == NULL) {
            ctl_error(c, "the database has schema step %d (%s), which this stepupctl does not carry: "
                      "it was migrated by a newer stepupctl; migrate with that one (this one would "
                      "put older functions back)", version, name);
            return STEPUP_ERR;
        }
        if (strcmp(f->name, name) != 0) {
            ctl_error(c, "the database's schema step %d is %s, but this stepupctl's is %s: a step "
                      "that has landed is never renamed", version, name, f->path);
            return STEPUP_ERR;
        }
        size_t k = (size_t)(f - stepup_schema_steps);
        applied[k] = true;
        if (db_is_null(rows, i, "checksum")) {
            adopt[k] = true;
            continue;
        }
        char sum[2 * CRYPTO_HASH_LEN + 1];
        file_checksum(f, sum);
        if (strcmp(sum, db_get(rows, i, "checksum")) != 0) {
            ctl_error(c, "%s has changed since it was applied on %s (recorded SHA-256 %.12s..., the "
                      "file's %.12s...): a schema step that has landed is never edited; restore "
                      "it and put the change in a new step", f->path,
                      db_get(rows, i, "applied_at"), db_get(rows, i, "checksum"), sum);
            return STEPUP_ERR;
        }
    }
    return STEPUP_OK;
}

/* STEPUP_ERR (reported, one line per object) when the code schema holds code no file defined. */
static int check_stray(struct ctl *c)
{
    struct db_call call;
    db_call_init(&call, &stray_code);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        return STEPUP_ERR;
    int n = db_rows(r);
    for (int i = 0; i < n; i++)
        ctl_error(c, "%s is in the database but no file of sql/functions/ defines it",
                  db_get(r, i, "object"));
    if (n > 0)
        ctl_error(c, "drop what sql/functions/ no longer defines in a new schema step "
                     "(DROP FUNCTION IF EXISTS ...)");
    db_result_free(r);
    return n == 0 ? STEPUP_OK : STEPUP_ERR;
}

/*
 * The migration itself, inside the transaction: lock and table, the
 * recorded steps, the pending steps, the adopted records, the code, the
 * check for stray code.  Fills names (applied) and adopted.
 */
static int migrate(struct ctl *c, struct json_object *names, struct json_object *adopted)
{
    bool applied[64] = { false }, adopt[64] = { false };

    if (stepup_nschema_steps > ARRAY_LEN(applied)) {
        ctl_error(c, "bug: more schema steps than migrate can track");
        return STEPUP_ERR;
    }
    if (run_file(c, &stepup_migrate_sql) != STEPUP_OK)
        return STEPUP_ERR;

    struct db_call call;
    db_call_init(&call, &applied_steps);
    db_result *rows = ctl_call(c, &call);
    if (rows == NULL)
        return STEPUP_ERR;
    int rc = check_recorded(c, rows, applied, adopt);
    db_result_free(rows);
    if (rc != STEPUP_OK)
        return STEPUP_ERR;

    for (size_t i = 0; i < stepup_nschema_steps; i++) {
        const struct sql_file *f = &stepup_schema_steps[i];
        if (applied[i] && !adopt[i])
            continue;
        if (!applied[i] && run_file(c, f) != STEPUP_OK)
            return STEPUP_ERR;
        if (record(c, f) != STEPUP_OK)
            return STEPUP_ERR;
        json_object_array_add(applied[i] ? adopted : names, json_object_new_string(f->name));
    }
    db_call_init(&call, &begin_code);
    db_result *begun = ctl_call(c, &call);
    if (begun == NULL)
        return STEPUP_ERR;
    db_result_free(begun);
    for (size_t i = 0; i < stepup_ncode_files; i++) {
        if (run_file(c, &stepup_code_files[i]) != STEPUP_OK)
            return STEPUP_ERR;
    }
    if (check_stray(c) != STEPUP_OK)
        return STEPUP_ERR;
    /* only now: revoking rewrites every function's catalog row */
    db_call_init(&call, &finish);
    db_result *done = ctl_call(c, &call);
    if (done == NULL)
        return STEPUP_ERR;
    db_result_free(done);
    return STEPUP_OK;
}

/*
 * stepupctl migrate: print {"applied": [names], "adopted": [names],
 * "functions": files applied, "version": the highest step} once the
 * transaction committed.
 */
int ctl_migrate(struct ctl *c, int argc, char **argv)
{
    int rc = ctl_args(c, argc, argv, 0, NULL, "migrate (no arguments)");
    if (rc != CTL_OK)
        return rc;

    if (db_script(c->db, NULL, "BEGIN") != STEPUP_OK) {
        ctl_error(c, "cannot start a transaction: %s", db_last_error(c->db));
        return CTL_FAILED;
    }
    struct json_object *names = json_object_new_array(), *adopted = json_object_new_array();
    rc = migrate(c, names, adopted);
    if (rc == STEPUP_OK && db_script(c->db, NULL, "COMMIT") != STEPUP_OK) {
        ctl_error(c, "COMMIT failed: %s; whether it took effect is unknown: run migrate again "
                     "(it applies only what is missing)", db_last_error(c->db));
        json_object_put(names);
        json_object_put(adopted);
        return CTL_FAILED;
    }
    if (rc != STEPUP_OK) {
        if (strcmp(db_last_sqlstate(c->db), "42501") == 0) /* insufficient_privilege */
            ctl_error(c, "migrate needs the owner of the stepup schema (PGUSER or --dsn user=...); "
                         "every other command runs as stepup_operator");
        ctl_error(c, "migrate stopped and rolled back: nothing was changed");
        if (db_script(c->db, NULL, "ROLLBACK") != STEPUP_OK) {
            /* the connection is gone: the server has rolled back already */
        }
        json_object_put(names);
        json_object_put(adopted);
        return CTL_FAILED;
    }

    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "applied", names);
    json_object_object_add(doc, "adopted", adopted);
    json_object_object_add(doc, "functions", json_object_new_int((int)stepup_ncode_files));
    json_object_object_add(doc, "version",
                           json_object_new_int(stepup_schema_steps[stepup_nschema_steps - 1].version));
    ctl_print_json(doc);
    return CTL_OK;
}
