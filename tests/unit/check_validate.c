/* Unit tests of the input validators (src/lib/validate.c), table-driven. */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/validate.h"

/* A validator of a C string, and of a value with its length (may hold a NUL). */
struct vcase {
    const char *(*fn)(const char *);
    const char *(*fn_len)(const char *, size_t);
    const char *input;
    size_t len; /* 0: strlen(input) */
    const char *expect; /* NULL: accepted */
};

#define C(fn, in, want) { fn, NULL, in, 0, want }
#define L(fn, in, want) { NULL, fn, in, 0, want }
#define N(fn, in, want) { NULL, fn, in, sizeof in - 1, want } /* with its embedded NULs */

static const char *password_1024(const char *s, size_t len)
{
    (void)s, (void)len;
    static char pw[VALIDATE_PASSWORD_MAX + 2];
    memset(pw, 'p', sizeof pw - 1);
    if (validate_password(pw, VALIDATE_PASSWORD_MAX) != NULL)
        return "1024 refused";
    return validate_password(pw, VALIDATE_PASSWORD_MAX + 1);
}

static const char *email_254(const char *s, size_t len)
{
    (void)s, (void)len;
    static char email[VALIDATE_EMAIL_MAX + 2];
    memset(email, 'a', sizeof email - 1);
    memcpy(email + VALIDATE_EMAIL_MAX - 12, "@example.com", 12);
    if (validate_email(email, VALIDATE_EMAIL_MAX) != NULL)
        return "254 refused";
    email[VALIDATE_EMAIL_MAX] = 'm';
    return validate_email(email, VALIDATE_EMAIL_MAX + 1);
}

/* fn of max visible characters ('v'), which must pass, then of max + 1. */
static const char *visible_at_and_past(const char *(*fn)(const char *), size_t max)
{
    static char value[1024];
    memset(value, 'v', max + 1);
    value[max] = '\0';
    if (fn(value) != NULL)
        return "the longest refused";
    value[max] = 'v';
    value[max + 1] = '\0';
    return fn(value);
}

static const char *ref_255(const char *s)
{
    (void)s;
    return visible_at_and_past(validate_idempotency_ref, VALIDATE_IDEMPOTENCY_REF_MAX);
}

static const char *credential_256(const char *s)
{
    (void)s;
    return visible_at_and_past(validate_credential, VALIDATE_CREDENTIAL_MAX);
}

static const struct vcase cases[] = {
    C(validate_channel, "SMS", NULL),
    C(validate_channel, "sms", "NOT_IN"),
    C(validate_channel, "EMAIL", "NOT_IN"),
    C(validate_channel, "SMS ", "NOT_IN"),
    C(validate_channel, "SMS\xff", "NOT_IN"),
    C(validate_channel, "", "REQUIRED"),
    C(validate_channel, NULL, "REQUIRED"),
    L(validate_verification_code, "123456", NULL),
    L(validate_verification_code, "000000", NULL),
    L(validate_verification_code, NULL, "REQUIRED"),
    L(validate_verification_code, "12345", "SIZE"),
    L(validate_verification_code, "1234567", "SIZE"),
    L(validate_verification_code, "", "SIZE"),
    L(validate_verification_code, "12a456", "REGEX"),
    L(validate_verification_code, "12 456", "REGEX"),
    L(validate_verification_code, "-12345", "REGEX"),
    L(validate_verification_code, "\xd9\xa1\xd9\xa2\xd9\xa3", "REGEX"), /* Arabic-Indic digits: 6 bytes */
    N(validate_verification_code, "123456\0", "SIZE"),
    N(validate_verification_code, "12345\0", "REGEX"),
    N(validate_verification_code, "\0" "23456", "REGEX"),
    L(validate_email, "a@example.com", NULL),
    L(validate_email, "first.last+tag@sub.example.org", NULL),
    L(validate_email, "j\xc3\xb6rg@b\xc3\xbc" "cher.de", NULL),
    L(validate_email, NULL, "REQUIRED"),
    L(validate_email, "", "REQUIRED"),
    L(validate_email, "no-at-sign", "REGEX"),
    L(validate_email, "@example.com", "REGEX"),
    L(validate_email, "a@", "REGEX"),
    L(validate_email, "a@b@c", "REGEX"),
    L(validate_email, "a b@example.com", "REGEX"),
    L(validate_email, "a\xff@example.com", "REGEX"),
    L(validate_email, "a\xc0\xae@example.com", "REGEX"), /* overlong '.' */
    N(validate_email, "a@example.com\0x", "REGEX"),
    N(validate_email, "a\0@example.com", "REGEX"),
    L(email_254, "", "SIZE"),
    L(validate_password, "secret", NULL),
    L(validate_password, "p\xc3\xa4ss w\xc3\xb6rd \xf0\x9f\x94\x91", NULL),
    L(validate_password, NULL, "REQUIRED"),
    L(validate_password, "", "REQUIRED"),
    N(validate_password, "secret\0more", "REGEX"),
    N(validate_password, "\0", "REGEX"),
    L(validate_password, "secr\xe9t", "REGEX"), /* Latin-1, not UTF-8 */
    L(password_1024, "", "SIZE"),
    C(validate_idempotency_ref, "4b0b8a5c-1f2e-4d7a-9c3b-2a1e0f9d8c7b", NULL),
    C(validate_idempotency_ref, "a", NULL),
    C(validate_idempotency_ref, "!~", NULL),
    C(validate_idempotency_ref, "", "SIZE"),
    C(validate_idempotency_ref, "a b", "REGEX"),
    C(validate_idempotency_ref, "a\tb", "REGEX"),
    C(validate_idempotency_ref, "caf\xc3\xa9", "REGEX"),
    C(validate_idempotency_ref, "\xff", "REGEX"),
    C(validate_idempotency_ref, "a\x7f", "REGEX"),
    C(ref_255, "", "SIZE"),
    C(validate_credential, "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5", NULL),
    C(validate_credential, "", "SIZE"),
    C(validate_credential, "key with spaces", "REGEX"),
    C(validate_credential, "k\xc3\xa9y", "REGEX"),
    C(validate_credential, "\x80", "REGEX"),
    C(credential_256, "", "SIZE"),
};

START_TEST(test_validators)
{
    const struct vcase *c = &cases[_i];
    size_t len = c->len != 0 ? c->len : c->input != NULL ? strlen(c->input) : 0;
    const char *got = c->fn != NULL ? c->fn(c->input) : c->fn_len(c->input, len);
    if (c->expect == NULL)
        ck_assert_msg(got == NULL, "case %d (%s): got %s, want accepted", _i,
                      c->input ? c->input : "(null)", got);
    else
        ck_assert_msg(got != NULL && strcmp(got, c->expect) == 0, "case %d (%s): got %s, want %s",
                      _i, c->input ? c->input : "(null)", got ? got : "accepted", c->expect);
}
END_TEST

/* Well-formed UTF-8 or not (RFC 3629; Markus Kuhn's test file's classes). */
struct utf8_case {
    const char *input;
    int valid;
};

static const struct utf8_case utf8_cases[] = {
    { "", 1 },
    { "plain ASCII", 1 },
    { "\xc2\x80", 1 },                 /* U+0080, the first two-byte character */
    { "\xdf\xbf", 1 },                 /* U+07FF */
    { "\xe0\xa0\x80", 1 },             /* U+0800 */
    { "\xed\x9f\xbf", 1 },             /* U+D7FF, the last before the surrogates */
    { "\xee\x80\x80", 1 },             /* U+E000 */
    { "\xef\xbf\xbd", 1 },             /* U+FFFD */
    { "\xf0\x90\x80\x80", 1 },         /* U+10000 */
    { "\xf4\x8f\xbf\xbf", 1 },         /* U+10FFFF, the last */
    { "\x80", 0 },                     /* a lone continuation byte */
    { "\xbf", 0 },
    { "\xc0\x80", 0 },                 /* overlong NUL */
    { "\xc1\xbf", 0 },                 /* overlong */
    { "\xe0\x80\xaf", 0 },             /* overlong '/' */
    { "\xf0\x80\x80\xaf", 0 },         /* overlong '/' */
    { "\xed\xa0\x80", 0 },             /* U+D800, a surrogate (CESU-8) */
    { "\xed\xbf\xbf", 0 },             /* U+DFFF */
    { "\xf4\x90\x80\x80", 0 },         /* U+110000, beyond Unicode */
    { "\xf5\x80\x80\x80", 0 },
    { "\xff", 0 },
    { "\xfe", 0 },
    { "\xc3", 0 },                     /* cut short */
    { "\xe2\x82", 0 },
    { "\xf0\x9f\x94", 0 },
    { "\xc3(", 0 },                    /* a second byte that continues nothing */
    { "a\xe2\x28\xa1", 0 },
};

START_TEST(test_utf8)
{
    const struct utf8_case *c = &utf8_cases[_i];
    ck_assert_msg(validate_utf8(c->input, strlen(c->input)) == c->valid, "case %d: want %d", _i,
                  c->valid);
}
END_TEST

START_TEST(test_utf8_nul_is_well_formed)
{
    /* A NUL is a character; validate_text refuses it, not validate_utf8. */
    ck_assert_int_eq(validate_utf8("a\0b", 3), 1);
    ck_assert_str_eq(validate_text("a\0b", 3, 10), "REGEX");
}
END_TEST

struct repair_case {
    const char *input;
    size_t outsize;
    const char *want;
};

static const struct repair_case repairs[] = {
    { "curl/8.5.0", 64, "curl/8.5.0" },
    { "", 64, "" },
    { "caf\xc3\xa9", 64, "caf\xc3\xa9" },
    { "a\xff" "b", 64, "a\xef\xbf\xbd" "b" },
    { "\xc0\x80", 64, "\xef\xbf\xbd\xef\xbf\xbd" },  /* each byte of an overlong */
    { "\xed\xa0\x80", 64, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "x\xe2\x82", 64, "x\xef\xbf\xbd\xef\xbf\xbd" }, /* cut short at the end */
    { "abcdef", 4, "abc" },                           /* capped */
    { "ab\xc3\xa9", 4, "ab" },                        /* never half a character */
    { "a\xff", 4, "a" },                              /* nor half a U+FFFD */
    { "a\xff", 5, "a\xef\xbf\xbd" },
};

START_TEST(test_utf8_repair)
{
    const struct repair_case *c = &repairs[_i];
    char out[64];
    size_t n = validate_utf8_repair(c->input, out, c->outsize);
    ck_assert_msg(strcmp(out, c->want) == 0 && n == strlen(c->want), "case %d", _i);
    ck_assert_int_eq(validate_utf8(out, n), 1);
}
END_TEST

START_TEST(test_utf8_repair_caps_user_agent)
{
    char in[4000], out[VALIDATE_USER_AGENT_MAX + 1];
    memset(in, '\xff', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    size_t n = validate_utf8_repair(in, out, sizeof out);
    ck_assert_uint_le(n, VALIDATE_USER_AGENT_MAX);
    ck_assert_uint_eq(n % 3, 0);
    ck_assert_int_eq(validate_utf8(out, n), 1);
}
END_TEST

/* Request bodies: accepted (NULL) or why not; accepted ones are objects here or say so. */
struct json_case {
    const char *text;
    size_t len; /* 0: strlen */
    int accepted;
};

#define J(text, ok) { text, 0, ok }
#define JN(text, ok) { text, sizeof text - 1, ok }

static const struct json_case json_cases[] = {
    J("{\"verificationCode\":\"123456\"}", 1),
    J("  {\"a\": 1}  \r\n\t", 1),
    J("{\"a\":{\"b\":[{\"c\":1},{\"c\":2}]},\"d\":\"x:y\"}", 1), /* same name in two objects */
    J("{\"a\":\"\\\"b\\\":1\"}", 1),                      /* a colon and quotes inside a string */
    J("{\"a\\\\u0000\":1}", 1),                           /* an escaped backslash, then u0000 */
    J("{\"a\":\"x\\u0000y\"}", 1),                        /* a NUL in a value: the field's business */
    J("123456", 1),
    J("\"123456\"", 1),
    J("[]", 1),
    J("null", 1),
    J("{\"a\":1e999}", 1),
    J("{\"a\":123456789012345678901234567890}", 1),
    J("", 0),
    J("   ", 0),
    J("x", 0),
    J("{", 0),
    J("{\"a\":1", 0),
    J("{\"a\":1} x", 0),                                  /* trailing garbage */
    J("{\"a\":1}{\"a\":1}", 0),                           /* two documents */
    J("{\"a\":1},", 0),
    J("123456 7", 0),
    J("{\"a\":1,\"a\":2}", 0),                            /* a name twice */
    J("{\"a\":1,\"\\u0061\":2}", 0),                      /* the same name, escaped */
    J("{\"x\":{\"a\":{\"b\":1},\"a\":2}}", 0),            /* twice, nested, losing members */
    J("[{\"a\":1,\"a\":1}]", 0),
    J("{\"a\\u0000b\":1}", 0),                            /* json-c would cut the name */
    J("{\"a\":1,\"a\\u0000\":2}", 0),
    JN("{\"a\":1}\0", 0),                                 /* a NUL byte */
    JN("{\"a\":\"x\0y\"}", 0),
    J("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 0),
};

START_TEST(test_json_document)
{
    const struct json_case *c = &json_cases[_i];
    size_t len = c->len != 0 ? c->len : strlen(c->text);
    char *text = malloc(len + 1);
    memcpy(text, c->text, len);
    text[len] = '\0';
    struct json_object *doc = (struct json_object *)1;
    const char *why = validate_json_document(text, len, &doc);
    if (c->accepted)
        ck_assert_msg(why == NULL, "case %d (%s): refused: %s", _i, c->text, why);
    else
        ck_assert_msg(why != NULL && doc == NULL, "case %d (%s): accepted", _i, c->text);
    json_object_put(doc);
    free(text);
}
END_TEST

START_TEST(test_json_document_depth)
{
    char text[2 * VALIDATE_JSON_DEPTH + 8];
    struct json_object *doc;
    for (int depth = VALIDATE_JSON_DEPTH; depth <= VALIDATE_JSON_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            text[n++] = '[';
        for (int i = 0; i < depth; i++)
            text[n++] = ']';
        text[n] = '\0';
        const char *why = validate_json_document(text, n, &doc);
        if (depth <= VALIDATE_JSON_DEPTH)
            ck_assert_msg(why == NULL, "depth %d refused: %s", depth, why);
        else
            ck_assert_msg(why != NULL, "depth %d accepted", depth);
        json_object_put(doc);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_validators, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, test_utf8, 0, (int)(sizeof utf8_cases / sizeof utf8_cases[0]));
    tcase_add_test(tc, test_utf8_nul_is_well_formed);
    tcase_add_loop_test(tc, test_utf8_repair, 0, (int)(sizeof repairs / sizeof repairs[0]));
    tcase_add_test(tc, test_utf8_repair_caps_user_agent);
    tcase_add_loop_test(tc, test_json_document, 0, (int)(sizeof json_cases / sizeof json_cases[0]));
    tcase_add_test(tc, test_json_document_depth);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
