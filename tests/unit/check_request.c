/*
 * Unit tests of the parts of src/fcgi/request.c that need no FastCGI
 * connection: the bearer token, the body length, the URL path and the
 * client address (client_addr.c).
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

struct client_case {
    const char *remote, *forwarded, *trusted, *client;
};

static const struct client_case clients[] = {
    /* no proxy trusted: X-Forwarded-For is ignored */
    { "192.0.2.1", "198.51.100.7", "", "192.0.2.1" },
    { "192.0.2.1", "198.51.100.7", NULL, "192.0.2.1" },
    /* a trusted peer: the hop it forwards */
    { "127.0.0.1", "198.51.100.7", "127.0.0.1", "198.51.100.7" },
    /* the rightmost untrusted hop, not what the client wrote at the left */
    { "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1", "10.0.0.0/8", "198.51.100.7" },
    { "10.0.0.2", "6.6.6.6,198.51.100.7,10.9.9.9", "127.0.0.1, 10.0.0.0/8", "198.51.100.7" },
    /* every hop trusted: the leftmost */
    { "10.0.0.2", "10.0.0.1", "10.0.0.0/8", "10.0.0.1" },
    /* an untrusted peer's header is not believed */
    { "192.0.2.1", "198.51.100.7", "10.0.0.0/8", "192.0.2.1" },
    /* a hop that is no address: the proxy that sent it */
    { "127.0.0.1", "evil, not-an-ip", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", "198.51.100.7:4711", "127.0.0.1", "198.51.100.7" },
    { "127.0.0.1", "[2001:db8::1]:443", "127.0.0.1", "2001:db8::1" },
    { "127.0.0.1", "[2001:db8::1]", "127.0.0.1", "2001:db8::1" },
    { "127.0.0.1", "198.51.100.7:", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", "198.51.100.7:44x", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", "[2001:db8::1]443", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", "[2001:db8::1", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", "unknown", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", "", "127.0.0.1", "127.0.0.1" },
    { "127.0.0.1", " , ", "127.0.0.1", "127.0.0.1" },
    /* IPv6, normalised, and IPv4-mapped as IPv4 */
    { "::1", "2001:DB8::0:1", "::1", "2001:db8::1" },
    { "::ffff:127.0.0.1", "198.51.100.7", "127.0.0.0/8", "198.51.100.7" },
    { "2001:db8::5", "198.51.100.7", "2001:db8::/32", "198.51.100.7" },
    { "2001:db9::5", "198.51.100.7", "2001:db8::/32", "2001:db9::5" },
    /* prefix lengths that are not whole bytes */
    { "10.0.0.130", "198.51.100.7", "10.0.0.128/25", "198.51.100.7" },
    { "10.0.0.127", "198.51.100.7", "10.0.0.128/25", "10.0.0.127" },
    /* a peer that is no IP address (a unix socket): unknown */
    { "unix:/run/x.sock", "198.51.100.7", "127.0.0.1", "" },
    { NULL, NULL, NULL, "" },
};

START_TEST(test_client_addr)
{
    const struct client_case *c = &clients[_i];
    char out[CLIENT_ADDR_MAX];
    client_addr_find(c->remote, c->forwarded, c->trusted, out);
    ck_assert_msg(strcmp(out, c->client) == 0, "%s / %s / %s: got '%s', want '%s'",
                  c->remote, c->forwarded, c->trusted, out, c->client);
}
END_TEST

START_TEST(test_trusted_proxies_list)
{
    char err[128];
    ck_assert_int_eq(client_addr_check_list("trusted_proxies", "", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(client_addr_check_list("trusted_proxies", "127.0.0.1, 10.0.0.0/8 ::1,fd00::/8",
                                            err, sizeof err), STEPUP_OK);
    static const char *const bad[] = { "localhost", "10.0.0.0/33", "::/129", "10.0.0.0/",
                                       "10.0.0.0/x", "1.2.3.4/8/8" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(client_addr_check_list("trusted_proxies", bad[i], err, sizeof err) ==
                          STEPUP_ERR, "%s", bad[i]);
        ck_assert_msg(strstr(err, "trusted_proxies") != NULL, "%s", err);
    }
    ck_assert_int_eq(client_addr_check_list("metrics_allow", "::1 nope", err, sizeof err),
                     STEPUP_ERR);
    ck_assert_msg(strncmp(err, "metrics_allow: 'nope'", 21) == 0, "%s", err);
}
END_TEST

/* metrics_allow: a client address in a list of addresses and networks. */
START_TEST(test_address_in_list)
{
    const char *list = "127.0.0.1 ::1 10.1.0.0/16";
    ck_assert(client_addr_in_list("127.0.0.1", list));
    ck_assert(client_addr_in_list("::1", list));
    ck_assert(client_addr_in_list("10.1.200.3", list));
    ck_assert(!client_addr_in_list("10.2.0.1", list));
    ck_assert(!client_addr_in_list("127.0.0.2", list));
    ck_assert(!client_addr_in_list("", list));          /* unknown: a unix socket peer */
    ck_assert(!client_addr_in_list(NULL, list));
    ck_assert(!client_addr_in_list("127.0.0.1", ""));   /* empty: nobody */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_bearer, 0, (int)(sizeof bearers / sizeof bearers[0]));
    tcase_add_loop_test(tc, test_content_length, 0, (int)(sizeof lengths / sizeof lengths[0]));
    tcase_add_test(tc, test_url_path);
    tcase_add_loop_test(tc, test_client_addr, 0, (int)(sizeof clients / sizeof clients[0]));
    tcase_add_test(tc, test_trusted_proxies_list);
    tcase_add_test(tc, test_address_in_list);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
