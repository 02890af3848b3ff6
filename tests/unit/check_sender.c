/*
 * check_sender.c - unit tests for stepup-sender's pure modules: its
 * configuration (src/sender/sender_config.c on the shared parser of
 * src/lib/settings.c: list keys, quoted values with escapes, the checks
 * across keys), the texts it builds (src/sender/text.c) and the retry
 * decisions (src/sender/retry.c).
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/sender/retry.h"
#include "../../src/sender/sender_config.h"
#include "../../src/sender/text.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY "outbox_key = " KEY_HEX "\n"

static char path[64];
static struct sender_config cfg;
static char err[512];

/* Load contents into cfg (after defaults); returns sender_config_load's result. */
static int load(const char *contents)
{
    int fd, rc;
    size_t len = strlen(contents);

    strcpy(path, "/tmp/check_sender.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, contents, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
    sender_config_defaults(&cfg);
    err[0] = '\0';
    rc = sender_config_load(&cfg, path, err, sizeof err);
    unlink(path);
    return rc;
}

static void teardown(void)
{
    sender_config_free(&cfg);
}

START_TEST(sender_defaults)
{
    ck_assert_msg(load(KEY) == STEPUP_OK, "%s", err);
    ck_assert_str_eq(cfg.common.db_conninfo, "dbname=stepup");
    ck_assert_str_eq(cfg.provider, "log");
    ck_assert_int_eq(cfg.batch_size, 64);
    ck_assert_int_eq(cfg.sends_in_flight, 256);
    ck_assert_int_le(cfg.batch_size, cfg.sends_in_flight);
    ck_assert_int_eq(cfg.lease_seconds, 300);
    ck_assert_int_eq(cfg.max_attempts, 5);
    ck_assert_str_eq(cfg.http_method, "POST");
    ck_assert_int_eq((int)cfg.http_headers.count, 0);
    ck_assert_str_eq(cfg.http_body,
                     "{\"to\": \"{to}\", \"text\": \"{text}\", \"messageId\": \"{message_id}\"}");
    ck_assert_int_eq(cfg.http_body_type, BODY_JSON);
    ck_assert_int_eq((int)cfg.n_http_permanent_statuses, 5);
    ck_assert(sender_status_in(cfg.http_permanent_statuses, cfg.n_http_permanent_statuses, 422));
    ck_assert(!sender_status_in(cfg.http_permanent_statuses, cfg.n_http_permanent_statuses, 500));
    ck_assert_int_eq((int)cfg.n_exec_permanent_exit_codes, 0);
}
END_TEST

START_TEST(config_http_full)
{
    const char *text =
        KEY
        "provider = http\n"
        "http_url = https://gw.example/v1/sms?x=1\n"
        "http_header = Authorization: Bearer abc#def   # '#' ends an unquoted value\n"
        "http_header = \"X-Api-Key: k#1\"\n"
        "http_body = \"{\\\"msisdn\\\": \\\"{to}\\\", \\\"body\\\": \\\"{text}\\\", \\\"p\\\": \\\"a\\\\\\\\b\\\"}\"\n"
        "http_permanent_statuses = 400, 410 ,422\n"
        "http_id_field = data.id\n"
        "exec_permanent_exit_codes = 2,3\n";

    ck_assert_msg(load(text) == STEPUP_OK, "%s", err);
    ck_assert_str_eq(cfg.provider, "http");
    ck_assert_int_eq((int)cfg.http_headers.count, 2);
    ck_assert_str_eq(cfg.http_headers.items[0], "Authorization: Bearer abc");
    ck_assert_str_eq(cfg.http_headers.items[1], "X-Api-Key: k#1");
    ck_assert_str_eq(cfg.http_body, "{\"msisdn\": \"{to}\", \"body\": \"{text}\", \"p\": \"a\\\\b\"}");
    ck_assert_int_eq((int)cfg.n_http_permanent_statuses, 3);
    ck_assert_int_eq(cfg.http_permanent_statuses[1], 410);
    ck_assert_int_eq((int)cfg.n_exec_permanent_exit_codes, 2);
    ck_assert_str_eq(cfg.http_id_field, "data.id");
}
END_TEST

START_TEST(config_reload_is_fresh)
{
    /* A second load into fresh defaults does not keep the first file's list items. */
    ck_assert_msg(load(KEY "http_header = A: 1\nhttp_header = B: 2\n") == STEPUP_OK, "%s", err);
    ck_assert_int_eq((int)cfg.http_headers.count, 2);
    sender_config_free(&cfg);
    ck_assert_msg(load(KEY "http_header = C: 3\n") == STEPUP_OK, "%s", err);
    ck_assert_int_eq((int)cfg.http_headers.count, 1);
    ck_assert_str_eq(cfg.http_headers.items[0], "C: 3");
}
END_TEST

struct bad_case {
    const char *text; /* after KEY */
    const char *needle;
};

static const struct bad_case bad_cases[] = {
    {"provider = sms\n", "provider: expected http, exec or log"},
    {"provider = http\n", "http_url is not set"},
    {"provider = exec\n", "exec_program is not set"},
    {"exec_program = relative/path\n", "absolute path"},
    {"http_url = ftp://x\n", "http:// or https://"},
    {"http_method = GET\n", "POST or PUT"},
    {"http_body_type = xml\n", "json or form"},
    {"http_permanent_statuses = 400,abc\n", "http_permanent_statuses"},
    {"http_permanent_statuses = 99\n", "100..599"},
    {"exec_permanent_exit_codes = 0\n", "exec_permanent_exit_codes"},
    {"http_header = NoColon\n", "http_header #1"},
    {"http_header = Bad Name: x\n", "http_header #1"},
    {"backoff_base_ms = 10\nbackoff_max_ms = 5\n", "backoff_base_ms"},
    {"lease_seconds = 31\n", "lease_seconds must be at least twice"},
    {"batch_size = 0\n", "1..1000"},
    {"sends_in_flight = 0\n", "1..1000"},
    {"sends_in_flight = 1001\n", "1..1000"},
    {"sends_in_flight = 10\n", "batch_size must not exceed sends_in_flight"},
    {"sends_in_flight = 63\n", "batch_size must not exceed sends_in_flight"},
    {"batch_size = 65\nsends_in_flight = 64\n", "batch_size must not exceed sends_in_flight"},
    {"poll_interval_ms = 5\n", "10..3600000"},
    {"provider = log\nprovider = http\n", "duplicate key"},
    {"http_body = \"{\\\"a\\\": 1}\" x\n", "after the closing quote"},
};

START_TEST(config_bad)
{
    const struct bad_case *c = &bad_cases[_i];
    char text[512];

    snprintf(text, sizeof text, "%s%s", KEY, c->text);
    ck_assert_msg(load(text) == STEPUP_ERR, "accepted %s", c->text);
    ck_assert_msg(strstr(err, c->needle) != NULL, "error \"%s\" lacks \"%s\"", err, c->needle);
    ck_assert_msg(strstr(err, KEY_HEX) == NULL, "the key is in the error");
}
END_TEST

START_TEST(config_missing_key)
{
    ck_assert_int_eq(load("provider = log\n"), STEPUP_ERR);
    ck_assert_msg(strstr(err, "outbox_key") != NULL, "%s", err);
}
END_TEST

START_TEST(config_lease_fits_send)
{
    /* twice the 15 s timeouts + 2 s margin: 32 s is the shortest lease accepted. */
    ck_assert_msg(load(KEY "lease_seconds = 32\n") == STEPUP_OK, "%s", err);
    sender_config_free(&cfg);
    ck_assert_msg(load(KEY "lease_seconds = 4\nhttp_timeout_ms = 1000\nexec_timeout_ms = 500\n") ==
                  STEPUP_OK, "%s", err);
    ck_assert_int_eq(sender_config_send_timeout_ms(&cfg), 1000);
}
END_TEST

START_TEST(config_sends_in_flight)
{
    /* as many in flight as claimed at once, and one at a time */
    ck_assert_msg(load(KEY "batch_size = 64\nsends_in_flight = 64\n") == STEPUP_OK, "%s", err);
    ck_assert_int_eq(cfg.sends_in_flight, 64);
    sender_config_free(&cfg);
    ck_assert_msg(load(KEY "batch_size = 1\nsends_in_flight = 1\n") == STEPUP_OK, "%s", err);
    ck_assert_int_eq(cfg.sends_in_flight, 1);
}
END_TEST

START_TEST(config_start_window)
{
    /*
     * A message may be handed over while its claim is younger than the
     * lease less that send's timeout less the 2 s margin: each provider's
     * own timeout, none for log, which ends at once.
     */
    ck_assert_msg(load(KEY "lease_seconds = 40\nhttp_timeout_ms = 15000\n"
                           "exec_timeout_ms = 5000\n") == STEPUP_OK, "%s", err);
    ck_assert_int_eq(sender_config_provider_timeout_ms(&cfg, "http"), 15000);
    ck_assert_int_eq(sender_config_provider_timeout_ms(&cfg, "exec"), 5000);
    ck_assert_int_eq(sender_config_provider_timeout_ms(&cfg, "log"), 0);
    ck_assert_int_eq(sender_config_provider_timeout_ms(&cfg, "pigeon"), 0);
    ck_assert_int_eq((int)sender_config_start_window_ms(&cfg, "http"), 40000 - 15000 - 2000);
    ck_assert_int_eq((int)sender_config_start_window_ms(&cfg, "exec"), 40000 - 5000 - 2000);
    ck_assert_int_eq((int)sender_config_start_window_ms(&cfg, "log"), 40000 - 2000);
    sender_config_free(&cfg);
    /* the shortest lease accepted leaves a window of one timeout at least */
    ck_assert_msg(load(KEY "lease_seconds = 6\nhttp_timeout_ms = 2000\nexec_timeout_ms = 1000\n") ==
                  STEPUP_OK, "%s", err);
    ck_assert_int_eq((int)sender_config_start_window_ms(&cfg, "http"), 2000);
    ck_assert_int_ge(sender_config_start_window_ms(&cfg, "http"), cfg.http_timeout_ms);
    sender_config_free(&cfg);
    ck_assert_int_eq(load(KEY "lease_seconds = 5\nhttp_timeout_ms = 2000\nexec_timeout_ms = 1000\n"),
                     STEPUP_ERR);
}
END_TEST

START_TEST(describe_table)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(out);
    config_describe(&sender_config_table, out);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert(strncmp(text, "| key | default | meaning |\n", 28) == 0);
    ck_assert(strstr(text, "| `outbox_key` | (required) |") != NULL);
    ck_assert(strstr(text, "| `http_header` | `\"\"` |") != NULL);
    ck_assert(strstr(text, "| `provider` | `log` |") != NULL);
    free(text);
}
END_TEST

START_TEST(message_text)
{
    char *t = text_message("Shop verification code: {code}. Again: {code}", "012345");
    ck_assert_str_eq(t, "Shop verification code: 012345. Again: 012345");
    text_free_secret(t);
    t = text_message("no placeholder", "012345");
    ck_assert_str_eq(t, "no placeholder");
    text_free_secret(t);
    t = text_message("{code", "012345");
    ck_assert_str_eq(t, "{code");
    text_free_secret(t);
}
END_TEST

START_TEST(body_json)
{
    char *b = text_body("{\"to\": \"{to}\", \"text\": \"{text}\", \"id\": \"{message_id}\", \"x\": {}}",
                        BODY_JSON, "+447400123456", "He said \"hi\"\\\n\t\x01 {to} é",
                        "0b6f3c1e-0000-4000-8000-000000000001");
    ck_assert_str_eq(b, "{\"to\": \"+447400123456\", \"text\": \"He said \\\"hi\\\"\\\\\\n\\t\\u0001 {to} é\", "
                        "\"id\": \"0b6f3c1e-0000-4000-8000-000000000001\", \"x\": {}}");
    text_free_secret(b);
}
END_TEST

START_TEST(body_form)
{
    char *b = text_body("to={to}&text={text}&ref={message_id}", BODY_FORM, "+447400123456",
                        "Code: 123456. a&b=c ~é", "id-1");
    ck_assert_str_eq(b, "to=%2B447400123456&text=Code%3A+123456.+a%26b%3Dc+%7E%C3%A9&ref=id-1");
    text_free_secret(b);
}
END_TEST

START_TEST(mask_number)
{
    char out[32];
    text_mask_number("+447400123456", out, sizeof out);
    ck_assert_str_eq(out, "+44\xe2\x80\xa6" "3456");
    text_mask_number("+3569912", out, sizeof out);
    ck_assert_str_eq(out, "\xe2\x80\xa6" "12");
    text_mask_number("", out, sizeof out);
    ck_assert_str_eq(out, "\xe2\x80\xa6");
}
END_TEST

START_TEST(safe_error)
{
    char out[32];
    const char in[] = "bad text 'code 123456'\n ok";
    text_safe_error(in, strlen(in), "123456", out, sizeof out);
    ck_assert_str_eq(out, "bad text 'code ******'? ok");
    /* cut at the end of out: the part of the code that fits is masked */
    text_safe_error("xxxxxxxxxxxxxxxxxxxxxxxxxxxx123456", 34, "123456", out, sizeof out);
    ck_assert_str_eq(out, "xxxxxxxxxxxxxxxxxxxxxxxxxxxx***");
    text_safe_error("abc", 3, NULL, out, sizeof out);
    ck_assert_str_eq(out, "abc");
    text_safe_error("busy\r\n", 6, "123456", out, sizeof out);
    ck_assert_str_eq(out, "busy");
    /* a number ending in the code's first digits is not a copy of the code */
    text_safe_error("no route to +447400123451", 25, "123456", out, sizeof out);
    ck_assert_str_eq(out, "no route to +447400123451");
}
END_TEST

START_TEST(decide)
{
    ck_assert_int_eq(retry_decide(PROVIDER_SENT, 5, 5), ATTEMPT_SENT);
    ck_assert_int_eq(retry_decide(PROVIDER_PERMANENT, 1, 5), ATTEMPT_PERMANENT);
    ck_assert_int_eq(retry_decide(PROVIDER_RETRY, 1, 5), ATTEMPT_RETRY);
    ck_assert_int_eq(retry_decide(PROVIDER_RETRY, 4, 5), ATTEMPT_RETRY);
    ck_assert_int_eq(retry_decide(PROVIDER_RETRY, 5, 5), ATTEMPT_DEAD);
    ck_assert_int_eq(retry_decide(PROVIDER_RETRY, 1, 1), ATTEMPT_DEAD);
    ck_assert_str_eq(attempt_status_name(ATTEMPT_PERMANENT), "PERMANENT");
    ck_assert_str_eq(attempt_status_name(ATTEMPT_DEAD), "DEAD");
}
END_TEST

START_TEST(backoff)
{
    /* attempt 1: [1000, 2000]; attempt 3: [4000, 8000]; capped at max */
    ck_assert_int_eq(retry_backoff_ms(1, 2000, 300000, 0), 1000);
    ck_assert_int_eq(retry_backoff_ms(1, 2000, 300000, 1000), 2000);
    ck_assert_int_eq(retry_backoff_ms(1, 2000, 300000, 1001), 1000);
    ck_assert_int_eq(retry_backoff_ms(3, 2000, 300000, 0), 4000);
    ck_assert_int_eq(retry_backoff_ms(3, 2000, 300000, 4000), 8000);
    ck_assert_int_eq(retry_backoff_ms(40, 2000, 300000, 0), 150000);
    ck_assert_int_eq(retry_backoff_ms(40, 2000, 300000, 150000), 300000);
    ck_assert_int_eq(retry_backoff_ms(1000, 1, 86400000, 0xffffffffu) <= 86400000, 1);
    for (int i = 0; i < 1000; i++) {
        uint32_t r;
        ck_assert_int_eq(retry_random(&r), STEPUP_OK);
        int d = retry_backoff_ms(2, 100, 1000, r);
        ck_assert(d >= 100 && d <= 200);
    }
}
END_TEST

static Suite *sender_suite(void)
{
    Suite *s = suite_create("sender");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, sender_defaults);
    tcase_add_test(tc, config_http_full);
    tcase_add_test(tc, config_reload_is_fresh);
    tcase_add_loop_test(tc, config_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, config_missing_key);
    tcase_add_test(tc, config_lease_fits_send);
    tcase_add_test(tc, config_sends_in_flight);
    tcase_add_test(tc, config_start_window);
    tcase_add_test(tc, describe_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_test(tc, message_text);
    tcase_add_test(tc, body_json);
    tcase_add_test(tc, body_form);
    tcase_add_test(tc, mask_number);
    tcase_add_test(tc, safe_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("retry");
    tcase_add_test(tc, decide);
    tcase_add_test(tc, backoff);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sender_suite());
    int failed;

    log_init("check_sender", LOG_WARN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
