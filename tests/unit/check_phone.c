/*
 * check_phone.c - unit tests for src/lib/phone.cc: E.164 syntax and
 * classification with libphonenumber's numbering-plan data.
 *
 * The expectations were checked against libphonenumber 8.12 (Debian 12).
 * Note that +447911123456, often quoted as a UK mobile, lies in a range the
 * plan assigns to Guernsey (GG); GB examples here use +447911234567.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/phone.h"

struct syntax_case {
    const char *input;
    int e164;
};

static const struct syntax_case syntax_cases[] = {
    {"+447911234567", 1},
    {"+12025550123", 1},
    {"+1234567", 1},              /* 7 digits: the shortest accepted */
    {"+123456789012345", 1},      /* 15 digits: the longest */
    {"+123456", 0},               /* 6 digits */
    {"+1234567890123456", 0},     /* 16 digits */
    {"+0123456789", 0},           /* country codes do not start with 0 */
    {"447911234567", 0},          /* no '+' */
    {"07911234567", 0},           /* national format */
    {"+44 7911 234567", 0},       /* spaces */
    {"+44-7911-234567", 0},       /* separators */
    {"+44(0)7911234567", 0},
    {"++447911234567", 0},
    {"+447911234567 ", 0},        /* trailing space */
    {" +447911234567", 0},
    {"+4479112345x7", 0},
    {"+", 0},
    {"", 0},
    {"+\xd9\xa4\xd9\xa4\xd9\xa7\xd9\xa9\xd9\xa1\xd9\xa1", 0}, /* Arabic-Indic digits */
};

START_TEST(e164_syntax)
{
    const struct syntax_case *c = &syntax_cases[_i];

    ck_assert_msg(phone_is_e164_syntax(c->input) == c->e164, "\"%s\": expected %d", c->input,
                  c->e164);
}
END_TEST

START_TEST(e164_syntax_null)
{
    struct phone_info info;

    ck_assert_int_eq(phone_is_e164_syntax(NULL), 0);
    memset(&info, 'x', sizeof info);
    phone_inspect(NULL, &info);
    ck_assert_int_eq(info.kind, PHONE_INVALID);
    ck_assert_str_eq(info.region, "");
}
END_TEST

struct inspect_case {
    const char *input;
    enum phone_kind kind;
    const char *region;
};

static const struct inspect_case inspect_cases[] = {
    /* Not E.164 text, though libphonenumber alone would parse some of them. */
    {"+44 7911 234567", PHONE_INVALID, ""},
    {"07911234567", PHONE_INVALID, ""},
    {"447911234567", PHONE_INVALID, ""},
    {"+44-7911-234567", PHONE_INVALID, ""},
    {"", PHONE_INVALID, ""},
    /* E.164 shape, but no plan assigns them. */
    {"+447700900123", PHONE_INVALID, ""}, /* Ofcom drama range */
    {"+1234567", PHONE_INVALID, ""},
    {"+3569912345", PHONE_INVALID, ""},   /* too short for Malta */
    {"+999123456789", PHONE_INVALID, ""}, /* unassigned country code */
    /* Mobiles. */
    {"+447911234567", PHONE_MOBILE, "GB"},
    {"+447700123456", PHONE_MOBILE, "GB"},
    {"+447911123456", PHONE_MOBILE, "GG"}, /* Guernsey range within +44 7911 */
    {"+35699123456", PHONE_MOBILE, "MT"},
    {"+35679123456", PHONE_MOBILE, "MT"},
    {"+4915112345678", PHONE_MOBILE, "DE"},
    {"+33612345678", PHONE_MOBILE, "FR"},
    /* The US plan cannot tell mobiles from fixed lines: treated as mobile. */
    {"+12025550123", PHONE_MOBILE, "US"},
    /* Valid, but not mobile. */
    {"+442079460000", PHONE_NOT_MOBILE, "GB"},
    {"+35621234567", PHONE_NOT_MOBILE, "MT"},
    {"+80012345678", PHONE_NOT_MOBILE, ""}, /* international freephone: no region */
};

START_TEST(inspect)
{
    const struct inspect_case *c = &inspect_cases[_i];
    struct phone_info info;

    memset(&info, 'x', sizeof info);
    phone_inspect(c->input, &info);
    ck_assert_msg(info.kind == c->kind, "\"%s\": kind %s, expected %s", c->input,
                  phone_kind_name(info.kind), phone_kind_name(c->kind));
    ck_assert_msg(strcmp(info.region, c->region) == 0, "\"%s\": region \"%s\", expected \"%s\"",
                  c->input, info.region, c->region);
}
END_TEST

START_TEST(kind_names)
{
    ck_assert_str_eq(phone_kind_name(PHONE_MOBILE), "MOBILE");
    ck_assert_str_eq(phone_kind_name(PHONE_NOT_MOBILE), "NOT_MOBILE");
    ck_assert_str_eq(phone_kind_name(PHONE_INVALID), "INVALID");
}
END_TEST

static Suite *phone_suite(void)
{
    Suite *s = suite_create("phone");
    TCase *tc;

    tc = tcase_create("syntax");
    tcase_add_loop_test(tc, e164_syntax, 0, (int)(sizeof syntax_cases / sizeof syntax_cases[0]));
    tcase_add_test(tc, e164_syntax_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("inspect");
    tcase_add_loop_test(tc, inspect, 0, (int)(sizeof inspect_cases / sizeof inspect_cases[0]));
    tcase_add_test(tc, kind_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(phone_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
