/*
 * Unit tests of src/lib/log.c: the line format, the threshold, the level
 * names, and the filter that keeps caller-supplied text from forging a
 * second log line (control characters become '?').  Standard error is
 * sent to a temporary file while a test logs.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/lib/log.h"

static char logged[4096];

/* Run log_msg(level, ref, "%s", text) with stderr captured into logged[]. */
static void capture(enum log_level level, const char *ref, const char *text)
{
    char path[] = "/tmp/check_log.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    log_msg(level, ref, "%s", text);
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    ssize_t n = pread(fd, logged, sizeof logged - 1, 0);
    ck_assert_int_ge(n, 0);
    logged[n] = '\0';
    close(fd);
    unlink(path);
}

START_TEST(test_line_format)
{
    log_init("/usr/sbin/stepup-test", LOG_INFO);
    capture(LOG_INFO, "ref-1", "hello");
    /* 2026-11-25T22:01:33Z stepup-test[1234] info ref=ref-1 hello\n */
    ck_assert_msg(strlen(logged) > 21 && logged[10] == 'T' && logged[19] == 'Z', "%s", logged);
    char tail[128];
    snprintf(tail, sizeof tail, " stepup-test[%ld] info ref=ref-1 hello\n", (long)getpid());
    ck_assert_str_eq(logged + 20, tail);
}
END_TEST

START_TEST(test_no_ref)
{
    log_init("stepup-test", LOG_INFO);
    capture(LOG_WARN, NULL, "plain");
    ck_assert_ptr_nonnull(strstr(logged, " warn plain\n"));
    ck_assert_ptr_null(strstr(logged, "ref="));
}
END_TEST

START_TEST(test_threshold)
{
    log_init("stepup-test", LOG_WARN);
    capture(LOG_INFO, NULL, "quiet");
    ck_assert_str_eq(logged, "");
    capture(LOG_ERROR, NULL, "loud");
    ck_assert_ptr_nonnull(strstr(logged, " error loud\n"));
}
END_TEST

START_TEST(test_control_characters_cannot_forge_a_line)
{
    log_init("stepup-test", LOG_INFO);
    capture(LOG_INFO, "a\nb", "x\r\n2026-01-01T00:00:00Z stepup-fcgi[1] info forged\x1b[31m\x7f");
    ck_assert_ptr_nonnull(strstr(logged, "ref=a?b x??2026-01-01T00:00:00Z stepup-fcgi[1] info "
                                         "forged?[31m?\n"));
    /* exactly one line */
    ck_assert_ptr_eq(strchr(logged, '\n'), logged + strlen(logged) - 1);
}
END_TEST

START_TEST(test_long_lines_are_cut_and_marked)
{
    char text[5000];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    log_init("stepup-test", LOG_INFO);
    capture(LOG_INFO, NULL, text);
    size_t n = strlen(logged);
    ck_assert_uint_lt(n, 2100);
    ck_assert_str_eq(logged + n - 4, "...\n");
    ck_assert_ptr_eq(strchr(logged, '\n'), logged + n - 1);
}
END_TEST

START_TEST(test_level_names)
{
    enum log_level l = LOG_ERROR;
    ck_assert_int_eq(log_level_parse("debug", &l), STEPUP_OK);
    ck_assert_int_eq(l, LOG_DEBUG);
    ck_assert_int_eq(log_level_parse("WARN", &l), STEPUP_OK);
    ck_assert_int_eq(l, LOG_WARN);
    ck_assert_int_eq(log_level_parse("verbose", &l), STEPUP_ERR);
    ck_assert_int_eq(l, LOG_WARN);
    ck_assert_int_eq(log_level_parse(NULL, &l), STEPUP_ERR);
    ck_assert_str_eq(log_level_name(LOG_DEBUG), "debug");
    ck_assert_str_eq(log_level_name(LOG_OFF), "?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, test_line_format);
    tcase_add_test(tc, test_no_ref);
    tcase_add_test(tc, test_threshold);
    tcase_add_test(tc, test_control_characters_cannot_forge_a_line);
    tcase_add_test(tc, test_long_lines_are_cut_and_marked);
    tcase_add_test(tc, test_level_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
