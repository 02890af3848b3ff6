/*
 * check_settings.c - unit tests for src/lib/settings.c: the configuration
 * file's syntax, defaults, bounds, required keys and error messages.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/fcgi/settings.h"

#define OTP_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define OUTBOX_HEX "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100"
#define KEYS "otp_key = " OTP_HEX "\noutbox_key = " OUTBOX_HEX "\n"

static char path[64];
static struct settings st;
static char err[512];

/* Write contents to a fresh temporary file whose name is left in path. */
static void write_file(const char *contents)
{
    int fd;
    size_t len = strlen(contents);

    strcpy(path, "/tmp/check_settings.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, contents, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

/* Load contents into st (after defaults); returns settings_load's result. */
static int load(const char *contents)
{
    int rc;

    write_file(contents);
    settings_defaults(&st);
    err[0] = '\0';
    rc = settings_load(&st, path, err, sizeof err);
    unlink(path);
    return rc;
}

static void teardown(void)
{
    settings_free(&st);
}

/* err must start with "path:line: " and contain needle. */
static void assert_error(int line, const char *needle)
{
    char prefix[128];

    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "error \"%s\" lacks \"%s\"", err,
                  prefix);
    ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
}

/* What a SIGHUP cannot apply is named; what it can is not. */
START_TEST(restart_keys)
{
    struct settings a, b;
    char out[256];

    settings_defaults(&a);
    settings_defaults(&b);
    settings_restart_keys(&a, &b, out, sizeof out);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(settings_set(&b, "gate_max_age_seconds", "60", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(settings_set(&b, "log_level", "debug", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(settings_set(&b, "trusted_proxies", "10.0.0.1", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(settings_set(&b, "metrics_allow", "10.0.0.0/8", err, sizeof err), STEPUP_OK);
    settings_restart_keys(&a, &b, out, sizeof out);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(settings_set(&b, "workers", "8", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(settings_set(&b, "socket", "/run/x.sock", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(settings_set(&b, "log_target", "syslog", err, sizeof err), STEPUP_OK);
    settings_restart_keys(&a, &b, out, sizeof out);
    ck_assert_str_eq(out, "workers, socket, log_target");
    settings_restart_keys(&a, &b, out, 10); /* cut, still a string */
    ck_assert_uint_lt(strlen(out), 10);
    ck_assert_int_eq(settings_set(&b, "log_target", "journal", err, sizeof err), STEPUP_ERR);
    ck_assert_msg(strstr(err, "expected stderr or syslog") != NULL, "%s", err);
    ck_assert_int_eq(settings_set(&b, "syslog_facility", "local3", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(settings_set(&b, "metrics_file", "/run/stepup/metrics", err, sizeof err),
                     STEPUP_OK);
    settings_restart_keys(&a, &b, out, sizeof out);
    ck_assert_str_eq(out, "workers, socket, log_target, syslog_facility, metrics_file");
    ck_assert_int_eq(settings_set(&b, "syslog_facility", "kern", err, sizeof err), STEPUP_ERR);
    ck_assert_msg(strstr(err, "expected daemon, user or local0..local7") != NULL, "%s", err);
    settings_free(&a);
    settings_free(&b);
}
END_TEST

START_TEST(defaults)
{

    settings_defaults(&st);
    ck_assert_str_eq(st.common.db_conninfo, "dbname=stepup");
    ck_assert_int_eq(st.workers, 4);
    ck_assert_str_eq(st.socket_path, "");
    ck_assert_int_eq(st.listen_backlog, 128);
    ck_assert_int_eq(st.common.db_retry_seconds, 1);
    ck_assert_int_eq(st.common.db_connect_timeout_seconds, 5);
    ck_assert_int_eq(st.common.db_statement_timeout_ms, 5000);
    ck_assert_int_eq(st.common.db_prepared_statements, 1);
    ck_assert_int_eq(st.max_body_bytes, 65536);
    ck_assert_int_eq(st.common.log_level, LOG_INFO);
    ck_assert_int_eq(st.common.log_target, LOG_TO_STDERR);
    ck_assert_int_eq(st.common.syslog_facility, LOG_FACILITY_DAEMON);
    ck_assert_str_eq(st.metrics_allow, "127.0.0.1 ::1");
    ck_assert_str_eq(st.metrics_file, "");
    ck_assert_int_eq(st.authorizer_workers, 4);
    ck_assert_uint_eq(st.otp_key.count, 0);
    ck_assert_uint_eq(st.common.outbox_key.count, 0);
}
END_TEST

START_TEST(minimal_file_keeps_defaults)
{
    unsigned char otp[CRYPTO_KEY_LEN], outbox[CRYPTO_KEY_LEN];

    ck_assert_msg(load(KEYS) == STEPUP_OK, "%s", err);
    ck_assert_str_eq(st.common.db_conninfo, "dbname=stepup");
    ck_assert_int_eq(st.workers, 4);
    ck_assert_int_eq(st.max_body_bytes, 65536);
    ck_assert_int_eq(crypto_hex_decode(OTP_HEX, otp, sizeof otp), STEPUP_OK);
    ck_assert_int_eq(crypto_hex_decode(OUTBOX_HEX, outbox, sizeof outbox), STEPUP_OK);
    ck_assert_uint_eq(st.otp_key.count, 1);
    ck_assert(!st.otp_key.keys[0].named);
    ck_assert(memcmp(st.otp_key.keys[0].raw, otp, sizeof otp) == 0);
    ck_assert_uint_eq(st.common.outbox_key.count, 1);
    ck_assert(memcmp(st.common.outbox_key.keys[0].raw, outbox, sizeof outbox) == 0);
}
END_TEST

START_TEST(full_file)
{
    const char *text = "# stepup-fcgi configuration\n"
                       "\n"
                       "db_conninfo = \"host=/run/pg dbname=x password=a#b\"   # quoted: '#' kept\n"
                       "workers=16\n"
                       "  socket   =   /run/stepup.sock  \n"
                       "\tlisten_backlog\t=\t512\t# tabs\n"
                       "db_retry_seconds = 0\n"
                       "db_connect_timeout_seconds = 2\n"
                       "db_statement_timeout_ms = 0\n"
                       "db_prepared_statements = 0\n"
                       "max_body_bytes = \"1024\"\n"
                       "log_level = debug\r\n" KEYS "   # trailing comment line\n";

    ck_assert_msg(load(text) == STEPUP_OK, "%s", err);
    ck_assert_str_eq(st.common.db_conninfo, "host=/run/pg dbname=x password=a#b");
    ck_assert_int_eq(st.workers, 16);
    ck_assert_str_eq(st.socket_path, "/run/stepup.sock");
    ck_assert_int_eq(st.listen_backlog, 512);
    ck_assert_int_eq(st.common.db_retry_seconds, 0);
    ck_assert_int_eq(st.common.db_connect_timeout_seconds, 2);
    ck_assert_int_eq(st.common.db_statement_timeout_ms, 0);
    ck_assert_int_eq(st.common.db_prepared_statements, 0);
    ck_assert_int_eq(st.max_body_bytes, 1024);
    ck_assert_int_eq(st.common.log_level, LOG_DEBUG);
}
END_TEST

START_TEST(empty_values)
{
    ck_assert_msg(load("socket = \"\"\ndb_conninfo =\n" KEYS) == STEPUP_OK, "%s", err);
    ck_assert_str_eq(st.socket_path, "");
    ck_assert_str_eq(st.common.db_conninfo, "");
}
END_TEST

START_TEST(missing_otp_key)
{
    ck_assert_int_eq(load("outbox_key = " OUTBOX_HEX "\n"), STEPUP_ERR);
    assert_error(1, "otp_key");
    ck_assert(strstr(err, OUTBOX_HEX) == NULL);
}
END_TEST

START_TEST(missing_outbox_key)
{
    ck_assert_int_eq(load("workers = 2\notp_key = " OTP_HEX "\n"), STEPUP_ERR);
    assert_error(2, "outbox_key");
    ck_assert(strstr(err, OTP_HEX) == NULL);
}
END_TEST

START_TEST(empty_file)
{
    ck_assert_int_eq(load(""), STEPUP_ERR);
    assert_error(0, "otp_key");
}
END_TEST

struct bad_case {
    const char *text; /* the offending line is preceded by KEYS (2 lines) */
    int line;
    const char *needle;
};

static const struct bad_case bad_cases[] = {
    {"colour = blue\n", 3, "unknown key \"colour\""},
    {"Workers = 2\n", 3, "key"},
    {"workers\n", 3, "key = value"},
    {"= 3\n", 3, "missing key"},
    {"workers # = 3\n", 3, "key = value"},
    {"workers = 0\n", 3, "1..256"},
    {"workers = 257\n", 3, "1..256"},
    {"workers = -1\n", 3, "1..256"},
    {"workers = four\n", 3, "workers"},
    {"workers = 4x\n", 3, "workers"},
    {"workers =\n", 3, "workers"},
    {"workers = 99999999999999999999\n", 3, "workers"},
    {"max_body_bytes = 1023\n", 3, "1024..10485760"},
    {"max_body_bytes = 10485761\n", 3, "1024..10485760"},
    {"db_retry_seconds = 3601\n", 3, "0..3600"},
    {"db_connect_timeout_seconds = 1\n", 3, "2..3600"},
    {"db_statement_timeout_ms = -1\n", 3, "0..3600000"},
    {"db_prepared_statements = 2\n", 3, "0..1"},
    {"listen_backlog = 0\n", 3, "listen_backlog"},
    {"log_level = verbose\n", 3, "error, warn, info or debug"},
    {"db_conninfo = \"dbname=x\n", 3, "unterminated"},
    {"db_conninfo = \"dbname=x\" extra\n", 3, "after the closing quote"},
    {"db_conninfo = dbname=\"x\"\n", 3, "quote"},
    {"workers = 2\n\n# comment\nworkers = 3\n", 6, "duplicate key \"workers\" (first set on line 3)"},
    {"otp_key = " OTP_HEX "\n", 3, "duplicate key \"otp_key\""},
};

START_TEST(bad_file)
{
    const struct bad_case *c = &bad_cases[_i];
    char text[512];

    snprintf(text, sizeof text, "%s%s", KEYS, c->text);
    ck_assert_msg(load(text) == STEPUP_ERR, "accepted %s", c->text);
    assert_error(c->line, c->needle);
}
END_TEST

/* A malformed key never appears in the error, whole or in part. */
START_TEST(bad_key_value_not_echoed)
{
    static const char *const bad[] = {
        "otp_key = " OTP_HEX "0\n",                  /* 65 digits */
        "otp_key = 000102030405060708090a0b0c0d0e0f\n", /* 32 digits */
        "otp_key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1eZZ\n",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "outbox_key = " OUTBOX_HEX "\n%s", bad[i]);
        ck_assert_int_eq(load(text), STEPUP_ERR);
        assert_error(2, "otp_key: key 1: expected 64 hex digits");
        ck_assert_msg(strstr(err, "0a0b0c") == NULL, "error echoes the key: %s", err);
        settings_free(&st);
    }
}
END_TEST

START_TEST(missing_file)
{
    settings_defaults(&st);
    ck_assert_int_eq(settings_load(&st, "/nonexistent/stepup.conf", err, sizeof err), STEPUP_ERR);
    ck_assert_msg(strncmp(err, "/nonexistent/stepup.conf: ", 26) == 0, "%s", err);
}
END_TEST

START_TEST(set_one)
{
    settings_defaults(&st);
    ck_assert_int_eq(settings_set(&st, "workers", "8", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(st.workers, 8);
    ck_assert_int_eq(settings_set(&st, "db_conninfo", "dbname=other", err, sizeof err), STEPUP_OK);
    ck_assert_str_eq(st.common.db_conninfo, "dbname=other");
    ck_assert_int_eq(settings_set(&st, "log_level", "warn", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(st.common.log_level, LOG_WARN);
    ck_assert_int_eq(settings_set(&st, "workers", "0", err, sizeof err), STEPUP_ERR);
    ck_assert_int_eq(st.workers, 8);
    ck_assert_int_eq(settings_set(&st, "nope", "1", err, sizeof err), STEPUP_ERR);
    ck_assert_msg(strstr(err, "unknown key") != NULL, "%s", err);
}
END_TEST

START_TEST(describe_lists_every_key)
{
    static const char *const keys[] = {"db_conninfo", "workers", "socket", "listen_backlog",
                                       "db_retry_seconds", "max_body_bytes", "gate_max_age_seconds", "log_level",
                                       "gate_name", "gate_allow_sandbox", "trusted_proxies",
                                       "otp_key", "outbox_key", "log_target",
                                       "authorizer_socket", "authorizer_workers",
                                       "syslog_facility", "metrics_allow", "metrics_file",
                                       "db_connect_timeout_seconds", "db_statement_timeout_ms",
                                       "db_prepared_statements"};
    char *text = NULL, *line;
    size_t len = 0;
    int rows = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(out);
    config_describe(&settings_table, out);
    ck_assert_int_eq(fclose(out), 0);

    ck_assert_msg(strncmp(text, "| key | default | meaning |\n", 28) == 0, "%s", text);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char cell[64];
        snprintf(cell, sizeof cell, "| `%s` |", keys[i]);
        ck_assert_msg(strstr(text, cell) != NULL, "describe lacks %s", keys[i]);
    }
    ck_assert(strstr(text, "| `workers` | `4` |") != NULL);
    ck_assert(strstr(text, "| `db_conninfo` | `dbname=stepup` |") != NULL);
    ck_assert(strstr(text, "| `otp_key` | (required) |") != NULL);
    for (line = text; (line = strstr(line, "\n| `")) != NULL; line++)
        rows++;
    ck_assert_int_eq(rows, (int)(sizeof keys / sizeof keys[0]));
    free(text);
}
END_TEST

static Suite *settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc;

    tc = tcase_create("load");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, minimal_file_keeps_defaults);
    tcase_add_test(tc, full_file);
    tcase_add_test(tc, empty_values);
    tcase_add_test(tc, missing_otp_key);
    tcase_add_test(tc, missing_outbox_key);
    tcase_add_test(tc, empty_file);
    tcase_add_loop_test(tc, bad_file, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, bad_key_value_not_echoed);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, restart_keys);
    tcase_add_test(tc, set_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("describe");
    tcase_add_test(tc, describe_lists_every_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(settings_suite());
    int failed;

    log_init("check_settings", LOG_WARN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
