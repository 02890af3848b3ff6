/*
 * check_metrics.c - the counter table of GET /metrics (src/fcgi/metrics.c):
 * what it renders, that processes sharing a metrics_file add up, and that
 * a file of another layout is replaced.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/fcgi/metrics.h"
#include "../../src/lib/log.h"

static const char *const names[] = { "/health", "/stepup/challenges/otp/{channel}", "unmatched" };
#define NNAMES (sizeof names / sizeof names[0])

/* What m renders, as a string the caller frees. */
static char *render(const struct metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(metrics_render(m, out), STEPUP_OK);
    ck_assert_int_eq(fclose(out), 0);
    return text;
}

static void assert_has(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "no '%s' in:\n%s", line, text);
}

/* A fresh directory for a test's files; its path in dir. */
static void temp_dir(char dir[64])
{
    strcpy(dir, "/tmp/check_metrics.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(test_memory_counts_and_renders)
{
    char err[256];
    struct metrics *m = metrics_open(NULL, names, NNAMES, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    metrics_request(m, 0, 200, 500);     /* 0.5 ms: first bucket */
    metrics_request(m, 0, 200, 3000);    /* 3 ms: le 0.005 */
    metrics_request(m, 1, 409, 3000000); /* 3 s: +Inf only */
    metrics_request(m, 2, 418, 100);     /* a status of no label of its own */
    metrics_request(m, 7, 200, 100);     /* no such slot: ignored */
    metrics_reconnect(m);
    char *text = render(m);
    assert_has(text, "# TYPE stepup_http_requests_total counter\n");
    assert_has(text, "stepup_http_requests_total{route=\"/health\",status=\"200\"} 2\n");
    assert_has(text, "stepup_http_requests_total{route=\"/stepup/challenges/otp/{channel}\","
                     "status=\"409\"} 1\n");
    assert_has(text, "stepup_http_requests_total{route=\"unmatched\",status=\"other\"} 1\n");
    ck_assert_ptr_null(strstr(text, "status=\"204\""));
    assert_has(text, "# TYPE stepup_http_request_duration_seconds histogram\n");
    assert_has(text, "stepup_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.001\"} 1\n");
    assert_has(text, "stepup_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.0025\"} 1\n");
    assert_has(text, "stepup_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.005\"} 2\n");
    assert_has(text, "stepup_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 2\n");
    assert_has(text, "stepup_http_request_duration_seconds_sum{route=\"/health\"} 0.003500\n");
    assert_has(text, "stepup_http_request_duration_seconds_count{route=\"/health\"} 2\n");
    assert_has(text, "stepup_http_request_duration_seconds_bucket{route=\"/stepup/challenges/otp/"
                     "{channel}\",le=\"2.5\"} 0\n");
    assert_has(text, "stepup_database_reconnects_total 1\n");
    free(text);
    metrics_close(m);
}
END_TEST

START_TEST(test_label_escaping)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    metrics_label_value(out, "a\\b\"c\nd");
    fclose(out);
    ck_assert_str_eq(text, "a\\\\b\\\"c\\nd");
    free(text);
}
END_TEST

static void *count_many(void *arg)
{
    for (int i = 0; i < 10000; i++)
        metrics_request(arg, 1, 204, 10);
    return NULL;
}

/* Threads of one process and several processes on one file: nothing is lost. */
START_TEST(test_file_adds_up_across_threads_and_processes)
{
    char dir[64], path[128], err[256];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/metrics", dir);
    for (int p = 0; p < 3; p++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct metrics *m = metrics_open(path, names, NNAMES, err, sizeof err);
            if (m == NULL)
                _exit(1);
            pthread_t t[2];
            for (int i = 0; i < 2; i++)
                pthread_create(&t[i], NULL, count_many, m);
            for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
            metrics_reconnect(m);
            metrics_close(m);
            _exit(0);
        }
    }
    for (int p = 0; p < 3; p++) {
        int status;
        ck_assert_int_gt(wait(&status), 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct metrics *m = metrics_open(path, names, NNAMES, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    char *text = render(m);
    assert_has(text, "stepup_http_requests_total{route=\"/stepup/challenges/otp/{channel}\","
                     "status=\"204\"} 60000\n");
    assert_has(text, "stepup_http_request_duration_seconds_count{route=\"/stepup/challenges/otp/"
                     "{channel}\"} 60000\n");
    assert_has(text, "stepup_database_reconnects_total 3\n");
    free(text);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    metrics_close(m);
    unlink(path);
    strcat(path, ".lock");
    unlink(path);
    rmdir(dir);
}
END_TEST

/* A file of another layout (size, content, routes) is replaced by a fresh one. */
START_TEST(test_file_of_another_layout_is_replaced)
{
    char dir[64], path[128], err[256];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/metrics", dir);

    /* A foreign file. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not a table", 11), 11);
    close(fd);
    struct metrics *m = metrics_open(path, names, NNAMES, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    metrics_request(m, 0, 200, 10);
    metrics_close(m);

    /* The same file is kept by a program of the same layout... */
    m = metrics_open(path, names, NNAMES, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    char *text = render(m);
    assert_has(text, "stepup_http_requests_total{route=\"/health\",status=\"200\"} 1\n");
    free(text);
    metrics_close(m);

    /* ...and replaced by one with other routes (same size, other names). */
    static const char *const other[] = { "/health", "/other", "unmatched" };
    m = metrics_open(path, other, 3, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    text = render(m);
    ck_assert_ptr_null(strstr(text, "stepup_http_requests_total{"));
    free(text);
    metrics_close(m);

    /* A directory that does not exist: a clear error. */
    m = metrics_open("/nonexistent-dir/metrics", names, NNAMES, err, sizeof err);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, "metrics_file /nonexistent-dir/metrics") != NULL, "%s", err);

    unlink(path);
    strcat(path, ".lock");
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    log_init("check_metrics", LOG_OFF);
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_memory_counts_and_renders);
    tcase_add_test(tc, test_label_escaping);
    tcase_add_test(tc, test_file_adds_up_across_threads_and_processes);
    tcase_add_test(tc, test_file_of_another_layout_is_replaced);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
