/* Unit tests of the route matcher (src/fcgi/router.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fcgi/router.h"

static void h(struct request *r) { (void)r; }

static const struct route table[] = {
    { "GET", "/health", h, 0, "health", NULL },
    { "POST", "/logout", h, 3, "logout", NULL },
    { "POST", "/stepup/challenges/otp/{channel}", h, 3, "issue", NULL },
    { "POST", "/stepup/challenges/otp/{channel?}/verify", h, 3, "verify", NULL },
    { "GET", "/authentication_factors", h, 3, "factors", NULL },
};

struct match_case {
    const char *method, *path;
    enum route_match expect;
    const char *operation; /* for ROUTE_FOUND */
    const char *param;     /* for ROUTE_FOUND; "Allow" value for 405 */
};

static const struct match_case cases[] = {
    { "GET", "/health", ROUTE_FOUND, "health", "" },
    { "POST", "/health", ROUTE_METHOD_NOT_ALLOWED, NULL, "GET" },
    { "POST", "/stepup/challenges/otp/SMS", ROUTE_FOUND, "issue", "SMS" },
    { "POST", "/stepup/challenges/otp/EMAIL", ROUTE_FOUND, "issue", "EMAIL" },
    { "POST", "/stepup/challenges/otp/SMS/verify", ROUTE_FOUND, "verify", "SMS" },
    { "GET", "/stepup/challenges/otp/SMS", ROUTE_METHOD_NOT_ALLOWED, NULL, "POST" },
    { "PUT", "/stepup/challenges/otp/sms/verify", ROUTE_METHOD_NOT_ALLOWED, NULL, "POST" },
    { "POST", "/stepup/challenges/otp/", ROUTE_NOT_FOUND, NULL, NULL },
    { "POST", "/stepup/challenges/otp", ROUTE_NOT_FOUND, NULL, NULL },
    { "POST", "/stepup/challenges/otp/SMS/", ROUTE_NOT_FOUND, NULL, NULL },
    { "POST", "/stepup/challenges/otp//verify", ROUTE_FOUND, "verify", "" },
    { "POST", "/stepup/challenges/otp//", ROUTE_NOT_FOUND, NULL, NULL },
    { "POST", "/stepup/challenges/otp/verify", ROUTE_FOUND, "issue", "verify" },
    { "POST", "/stepup/challenges/otp/SMS/verify/x", ROUTE_NOT_FOUND, NULL, NULL },
    { "GET", "/healthz", ROUTE_NOT_FOUND, NULL, NULL },
    { "GET", "/", ROUTE_NOT_FOUND, NULL, NULL },
    { "GET", "", ROUTE_NOT_FOUND, NULL, NULL },
    { "POST", "/logout", ROUTE_FOUND, "logout", "" },
    { "DELETE", "/logout", ROUTE_METHOD_NOT_ALLOWED, NULL, "POST" },
};

START_TEST(test_match_table)
{
    const struct match_case *c = &cases[_i];
    const struct route *route = NULL;
    char param[64] = "junk", allow[64] = "junk";
    enum route_match m = router_match(table, sizeof table / sizeof table[0], c->method, c->path,
                                      &route, param, sizeof param, allow, sizeof allow);
    ck_assert_msg(m == c->expect, "%s %s: got %d, want %d", c->method, c->path, m, c->expect);
    if (m == ROUTE_FOUND) {
        ck_assert_ptr_nonnull(route);
        ck_assert_str_eq(route->operation, c->operation);
        ck_assert_str_eq(param, c->param);
    } else {
        ck_assert_ptr_null(route);
    }
    if (m == ROUTE_METHOD_NOT_ALLOWED)
        ck_assert_str_eq(allow, c->param);
}
END_TEST

START_TEST(test_allow_lists_every_method)
{
    static const struct route two[] = {
        { "GET", "/x", h, 0, "a", NULL },
        { "POST", "/x", h, 0, "b", NULL },
    };
    const struct route *route;
    char param[8], allow[32];
    ck_assert_int_eq(router_match(two, 2, "DELETE", "/x", &route, param, sizeof param, allow,
                                  sizeof allow),
                     ROUTE_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(allow, "GET, POST");
}
END_TEST

START_TEST(test_overlong_segment_is_empty_param)
{
    char path[300] = "/stepup/challenges/otp/";
    memset(path + strlen(path), 'A', 200);
    const struct route *route;
    char param[64], allow[8];
    ck_assert_int_eq(router_match(table, 5, "POST", path, &route, param, sizeof param, allow,
                                  sizeof allow),
                     ROUTE_FOUND);
    ck_assert_str_eq(param, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_loop_test(tc, test_match_table, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_allow_lists_every_method);
    tcase_add_test(tc, test_overlong_segment_is_empty_param);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
