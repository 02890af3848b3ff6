/* Unit tests of the input validators (src/fcgi/validate.c), table-driven. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/validate.h"

struct vcase {
    const char *(*fn)(const char *);
    const char *input;
    const char *expect; /* NULL: accepted */
};

static const struct vcase cases[] = {
    { validate_channel, "SMS", NULL },
    { validate_channel, "sms", "NOT_IN" },
    { validate_channel, "EMAIL", "NOT_IN" },
    { validate_channel, "SMS ", "NOT_IN" },
    { validate_channel, "", "REQUIRED" },
    { validate_channel, NULL, "REQUIRED" },
    { validate_verification_code, "123456", NULL },
    { validate_verification_code, "000000", NULL },
    { validate_verification_code, NULL, "REQUIRED" },
    { validate_verification_code, "12345", "SIZE" },
    { validate_verification_code, "1234567", "SIZE" },
    { validate_verification_code, "", "SIZE" },
    { validate_verification_code, "12a456", "REGEX" },
    { validate_verification_code, "12 456", "REGEX" },
    { validate_verification_code, "-12345", "REGEX" },
    { validate_email, "a@example.com", NULL },
    { validate_email, "first.last+tag@sub.example.org", NULL },
    { validate_email, NULL, "REQUIRED" },
    { validate_email, "", "REQUIRED" },
    { validate_email, "no-at-sign", "REGEX" },
    { validate_email, "@example.com", "REGEX" },
    { validate_email, "a@", "REGEX" },
    { validate_email, "a@b@c", "REGEX" },
    { validate_email, "a b@example.com", "REGEX" },
};

START_TEST(test_validators)
{
    const struct vcase *c = &cases[_i];
    const char *got = c->fn(c->input);
    if (c->expect == NULL)
        ck_assert_msg(got == NULL, "case %d (%s): got %s, want accepted", _i,
                      c->input ? c->input : "(null)", got);
    else
        ck_assert_msg(got != NULL && strcmp(got, c->expect) == 0, "case %d (%s): got %s, want %s",
                      _i, c->input ? c->input : "(null)", got ? got : "accepted", c->expect);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_validators, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
