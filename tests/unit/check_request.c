/*
 * Unit tests of the parts of src/fcgi/request.c that need no FastCGI
 * connection: the bearer token, the body length and the URL path.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fcgi/request.h"

struct bearer_case {
    const char *header, *token;
};

static const struct bearer_case bearers[] = {
    { "Bearer abc", "abc" },
    { "bearer abc", "abc" },
    { "BEARER   abc", "abc" },
    { "Bearer\tabc", "abc" },
    { "Bearer null", NULL },
    { "Bearer ", NULL },
    { "Bearer", NULL },
    { "Bearerabc", NULL },
    { "Basic dXNlcjpwdw==", NULL },
    { "", NULL },
    { NULL, NULL },
};

START_TEST(test_bearer)
{
    const struct bearer_case *c = &bearers[_i];
    const char *got = request_bearer_token(c->header);
    if (c->token == NULL)
        ck_assert_msg(got == NULL, "'%s' gave '%s'", c->header ? c->header : "(null)", got);
    else
        ck_assert_msg(got != NULL && strcmp(got, c->token) == 0, "'%s' gave '%s'", c->header,
                      got ? got : "(null)");
}
END_TEST

struct length_case {
    const char *value;
    size_t max;
    enum request_status want;
    size_t len;
};

static const struct length_case lengths[] = {
    { NULL, 10, REQUEST_OK, 0 },
    { "", 10, REQUEST_OK, 0 },
    { "0", 10, REQUEST_OK, 0 },
    { "10", 10, REQUEST_OK, 10 },
    { "11", 10, REQUEST_TOO_LARGE, 0 },
    { "99999999999999999999999", 10, REQUEST_BAD_LENGTH, 0 },
    { "-1", 10, REQUEST_BAD_LENGTH, 0 },
    { "+1", 10, REQUEST_BAD_LENGTH, 0 },
    { " 1", 10, REQUEST_BAD_LENGTH, 0 },
    { "1 ", 10, REQUEST_BAD_LENGTH, 0 },
    { "0x10", 100, REQUEST_BAD_LENGTH, 0 },
    { "abc", 10, REQUEST_BAD_LENGTH, 0 },
};

START_TEST(test_content_length)
{
    const struct length_case *c = &lengths[_i];
    size_t len = 12345;
    enum request_status got = request_content_length(c->value, c->max, &len);
    ck_assert_msg(got == c->want, "'%s': got %d, want %d", c->value ? c->value : "(null)", got,
                  c->want);
    ck_assert_uint_eq(len, c->len);
}
END_TEST

START_TEST(test_url_path)
{
    char out[16];
    request_url_path("/health?x=1", "/ignored", NULL, out, sizeof out);
    ck_assert_str_eq(out, "/health");
    request_url_path("/a#frag", NULL, NULL, out, sizeof out);
    ck_assert_str_eq(out, "/a");
    request_url_path(NULL, "/stepup", "/challenges", out, sizeof out);
    ck_assert_str_eq(out, "/stepup/challen"); /* truncated to fit */
    request_url_path(NULL, NULL, NULL, out, sizeof out);
    ck_assert_str_eq(out, "");
    request_url_path("/0123456789abcdefghij", NULL, NULL, out, sizeof out);
    ck_assert_str_eq(out, "/0123456789abcd");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_bearer, 0, (int)(sizeof bearers / sizeof bearers[0]));
    tcase_add_loop_test(tc, test_content_length, 0, (int)(sizeof lengths / sizeof lengths[0]));
    tcase_add_test(tc, test_url_path);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
