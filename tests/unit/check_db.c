/*
 * Unit tests of the part of src/lib/db.c that needs no server: the SQL a
 * statement description makes (named notation), the checks that turn a
 * wrongly set argument into an abort, so that any test of a caller
 * catches it, and what a failed connect says.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/db.h"
#include "../../src/lib/log.h"

static const struct db_arg_def args[] = {
    { "p_token_hash", DB_BYTEA }, { "p_max_age_seconds", DB_INT }, { "p_ids", DB_UUID_ARRAY },
};
static const struct db_statement table_fn = {
    .name = "t", .function = "stepup.api_gate", DB_ARGS(args),
};
static const struct db_statement scalar_fn = {
    .name = "s", .function = "stepup.api_logout", .result = "outcome", DB_ARGS(args),
};
static const struct db_statement own_sql = {
    .name = "n", .sql = "SELECT pg_catalog.pg_notify('c', $1::text)", DB_ARGS(args),
};

START_TEST(test_named_notation)
{
    char sql[512];
    ck_assert_int_eq(db_statement_sql(&table_fn, sql, sizeof sql), STEPUP_OK);
    ck_assert_str_eq(sql, "SELECT * FROM stepup.api_gate(p_token_hash => $1::bytea, "
                          "p_max_age_seconds => $2::integer, p_ids => $3::uuid[]) AS r");
    ck_assert_int_eq(db_statement_sql(&scalar_fn, sql, sizeof sql), STEPUP_OK);
    ck_assert_ptr_nonnull(strstr(sql, ") AS outcome"));
    ck_assert_int_eq(db_statement_sql(&own_sql, sql, sizeof sql), STEPUP_OK);
    ck_assert_str_eq(sql, own_sql.sql);
    ck_assert_int_eq(db_statement_sql(&table_fn, sql, 40), STEPUP_ERR);
    /* names go into SQL as they are: only plain lower-case ones */
    static const struct db_arg_def odd[] = { { "p_x); DROP TABLE t; --", DB_TEXT } };
    static const struct db_statement odd_arg = { .name = "o", .function = "s.f", DB_ARGS(odd) };
    static const struct db_statement odd_fn = { .name = "o", .function = "S.F" };
    static const struct db_statement odd_result = { .name = "o", .function = "s.f",
                                                    .result = "Outcome" };
    ck_assert_int_eq(db_statement_sql(&odd_arg, sql, sizeof sql), STEPUP_ERR);
    ck_assert_int_eq(db_statement_sql(&odd_fn, sql, sizeof sql), STEPUP_ERR);
    ck_assert_int_eq(db_statement_sql(&odd_result, sql, sizeof sql), STEPUP_ERR);
}
END_TEST

START_TEST(test_arguments_by_name)
{
    struct db_call c;
    unsigned char hash[32] = { 1 };
    db_call_init(&c, &table_fn);
    db_arg_int(&c, "p_max_age_seconds", -42);
    db_arg_bytes(&c, "p_token_hash", hash, sizeof hash);
    db_arg_null(&c, "p_ids");
    ck_assert_str_eq(c.values[1], "-42");
    ck_assert_ptr_eq(c.values[0], hash);
    ck_assert_int_eq(c.lengths[0], 32);
    ck_assert_int_eq(c.formats[0], 1);
    ck_assert_ptr_null(c.values[2]);
    ck_assert(c.set[0] && c.set[1] && c.set[2]);
}
END_TEST

START_TEST(test_unknown_argument_aborts)
{
    struct db_call c;
    db_call_init(&c, &table_fn);
    db_arg_text(&c, "p_token", "x");
}
END_TEST

START_TEST(test_text_for_bytea_aborts)
{
    struct db_call c;
    db_call_init(&c, &table_fn);
    db_arg_text(&c, "p_token_hash", "x");
}
END_TEST

START_TEST(test_bytes_for_text_aborts)
{
    struct db_call c;
    db_call_init(&c, &table_fn);
    db_arg_bytes(&c, "p_max_age_seconds", "x", 1);
}
END_TEST

START_TEST(test_bool_for_int_aborts)
{
    struct db_call c;
    db_call_init(&c, &table_fn);
    db_arg_bool(&c, "p_max_age_seconds", true);
}
END_TEST

START_TEST(test_twice_aborts)
{
    struct db_call c;
    db_call_init(&c, &table_fn);
    db_arg_int(&c, "p_max_age_seconds", 1);
    db_arg_null(&c, "p_max_age_seconds");
}
END_TEST

START_TEST(test_unset_argument_aborts_at_run)
{
    struct db_call c;
    struct db *db = db_new(&(struct db_options){ .conninfo = "host=/nonexistent" }, NULL, 0);
    db_call_init(&c, &table_fn);
    db_arg_int(&c, "p_max_age_seconds", 1);
    db_arg_null(&c, "p_ids");
    db_result *r = db_run(db, NULL, &c); /* p_token_hash unset: aborts before connecting */
    (void)r;
}
END_TEST

/* A connect that fails on every host of a multi-host conninfo says why for each. */
START_TEST(test_connect_error_names_every_host)
{
    struct db *db = db_new(&(struct db_options){ .conninfo = "host=/nonexistent-a,/nonexistent-b "
                                                             "dbname=stepup",
                                                 .connect_timeout_seconds = 2 },
                           NULL, 0);
    char err[512];
    ck_assert_int_eq(db_ensure(db, err, sizeof err), STEPUP_ERR);
    ck_assert_msg(strstr(err, "/nonexistent-a/") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "; connection to server on socket \"/nonexistent-b/") != NULL,
                  "%s", err);
    ck_assert_msg(strpbrk(err, "\t\n") == NULL, "%s", err); /* one line, hints left out */
    ck_assert(db_last_error_transient(db));
    db_free(db);
}
END_TEST

int main(void)
{
    log_init("check_db", LOG_ERROR);
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("calls");
    tcase_add_test(tc, test_named_notation);
    tcase_add_test(tc, test_arguments_by_name);
    tcase_add_test(tc, test_connect_error_names_every_host);
    /* An abort can only be watched from a forked test (not under valgrind's CK_FORK=no). */
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode == NULL || strcmp(fork_mode, "no") != 0) {
        tcase_add_test_raise_signal(tc, test_unknown_argument_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_text_for_bytea_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_bytes_for_text_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_bool_for_int_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_twice_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_unset_argument_aborts_at_run, SIGABRT);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
