/*
 * Unit tests of stepupctl's pure modules: the value parsers
 * (src/ctl/ctl_parse.c) and the table of per-programme settings
 * (src/ctl/programme_settings.c), which turns options into the JSON object
 * the ctl_programme_* functions take.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ctl/ctl_parse.h"
#include "../../src/ctl/programme_settings.h"

struct int_case {
    const char *text;
    long min, max;
    bool ok;
    int value;
};

static const struct int_case ints[] = {
    { "0", 0, 10, true, 0 },     { "10", 0, 10, true, 10 },   { "-3", -5, 5, true, -3 },
    { "11", 0, 10, false, 0 },   { "-1", 0, 10, false, 0 },   { "", 0, 10, false, 0 },
    { " 1", 0, 10, false, 0 },   { "+1", 0, 10, false, 0 },   { "1 ", 0, 10, false, 0 },
    { "1x", 0, 10, false, 0 },   { "-", -5, 5, false, 0 },    { "99999999999999999999", 0, 10, false, 0 },
};

START_TEST(test_parse_int)
{
    const struct int_case *c = &ints[_i];
    int v = 777;
    ck_assert_msg(ctl_parse_int(c->text, c->min, c->max, &v) == c->ok, "'%s'", c->text);
    ck_assert_int_eq(v, c->ok ? c->value : 777);
}
END_TEST

START_TEST(test_uuid)
{
    ck_assert(ctl_is_uuid("00000000-0000-4000-8000-000000000000"));
    ck_assert(ctl_is_uuid("ABCDEF01-2345-6789-abcd-ef0123456789"));
    ck_assert(!ctl_is_uuid("00000000-0000-4000-8000-00000000000"));
    ck_assert(!ctl_is_uuid("00000000-0000-4000-8000-0000000000000"));
    ck_assert(!ctl_is_uuid("000000000-000-4000-8000-000000000000"));
    ck_assert(!ctl_is_uuid("g0000000-0000-4000-8000-000000000000"));
    ck_assert(!ctl_is_uuid(""));
}
END_TEST

START_TEST(test_duration)
{
    long long s = -1;
    ck_assert(ctl_parse_duration("45s", &s) && s == 45);
    ck_assert(ctl_parse_duration("90m", &s) && s == 5400);
    ck_assert(ctl_parse_duration("12h", &s) && s == 43200);
    ck_assert(ctl_parse_duration("30d", &s) && s == 2592000);
    ck_assert(ctl_parse_duration("0d", &s) && s == 0);
    ck_assert(ctl_parse_duration("36500d", &s));
    s = -1;
    for (const char *bad = "2\0" "2w\0" "-1d\0" "d\0" "1.5h\0" "1 d\0" "1dd\0" "36501d\0"; *bad;
         bad += strlen(bad) + 1)
        ck_assert_msg(!ctl_parse_duration(bad, &s) && s == -1, "'%s'", bad);
}
END_TEST

START_TEST(test_outbox_status)
{
    ck_assert_str_eq(ctl_outbox_status("dead"), "DEAD");
    ck_assert_str_eq(ctl_outbox_status("Pending"), "PENDING");
    ck_assert_ptr_null(ctl_outbox_status("LOST"));
    ck_assert_ptr_null(ctl_outbox_status(""));
}
END_TEST

/* The settings object after adding option with arg (negated for --no-). */
static const char *add(const char *option, const char *arg, int negated, char *err)
{
    static char out[512];
    struct json_object *o = json_object_new_object();
    const struct programme_setting *ps = programme_setting_find(option);
    ck_assert_msg(ps != NULL, "no setting %s", option);
    err[0] = '\0';
    if (programme_setting_add(o, ps, arg, negated, err, 256) != STEPUP_OK) {
        json_object_put(o);
        return NULL;
    }
    snprintf(out, sizeof out, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

START_TEST(test_settings_to_json)
{
    char err[256];
    ck_assert_str_eq(add("sandbox", NULL, 0, err), "{\"sandbox\":true}");
    ck_assert_str_eq(add("sms", NULL, 1, err), "{\"sms_enabled\":false}");
    ck_assert_str_eq(add("retry-seconds", "15", 0, err), "{\"retry_seconds\":15}");
    ck_assert_str_eq(add("retry-seconds", "999999", 0, err), "{\"retry_seconds\":999999}");
    ck_assert_str_eq(add("verify-attempts", "off", 0, err), "{\"verify_attempts\":null}");
    ck_assert_str_eq(add("verify-attempts", "OFF", 0, err), "{\"verify_attempts\":null}");
    ck_assert_str_eq(add("countries", "GB,MT", 0, err), "{\"countries\":[\"GB\",\"MT\"]}");
    ck_assert_str_eq(add("countries", "any", 0, err), "{\"countries\":null}");
    ck_assert_str_eq(add("sms-provider", "default", 0, err), "{\"sms_provider\":null}");
    ck_assert_str_eq(add("sms-provider", "http", 0, err), "{\"sms_provider\":\"http\"}");
    ck_assert_str_eq(add("sms-template", "a \"{code}\"", 0, err),
                     "{\"sms_template\":\"a \\\"{code}\\\"\"}");
    ck_assert_str_eq(add("gates", "legacy,admin", 0, err), "{\"gates\":[\"legacy\",\"admin\"]}");
    ck_assert_str_eq(add("gates", "", 0, err), "{\"gates\":[]}");
    ck_assert_str_eq(add("limit", "challenges-per-user=5/10m", 0, err),
                     "{\"limits\":{\"challenges-per-user\":{\"count\":5,\"seconds\":600}}}");
    ck_assert_str_eq(add("limit", "login-per-address=100/1d", 0, err),
                     "{\"limits\":{\"login-per-address\":{\"count\":100,\"seconds\":86400}}}");
    ck_assert_str_eq(add("limit", "login-per-address=off", 0, err),
                     "{\"limits\":{\"login-per-address\":null}}");
    ck_assert_str_eq(add("limit", "x=default", 0, err), "{\"limits\":{\"x\":\"default\"}}");
}
END_TEST

/* --limit repeats: each adds its name to the one "limits" object. */
START_TEST(test_limits_accumulate)
{
    char err[256];
    struct json_object *o = json_object_new_object();
    const struct programme_setting *ps = programme_setting_find("limit");
    ck_assert_int_eq(programme_setting_add(o, ps, "a=1/30s", 0, err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(programme_setting_add(o, ps, "b=off", 0, err, sizeof err), STEPUP_OK);
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"limits\":{\"a\":{\"count\":1,\"seconds\":30},\"b\":null}}");
    json_object_put(o);
}
END_TEST

START_TEST(test_settings_refuse_the_wrong_shape)
{
    char err[256];
    ck_assert_ptr_null(add("retry-seconds", "x", 0, err));
    ck_assert_ptr_nonnull(strstr(err, "--retry-seconds"));
    ck_assert_ptr_null(add("retry-seconds", "1.5", 0, err));
    ck_assert_ptr_null(add("retry-seconds", "off", 0, err));
    ck_assert_ptr_null(add("issue-limit", "1234567890", 0, err));
    ck_assert_ptr_null(add("countries", "GB,,MT", 0, err));
    ck_assert_ptr_nonnull(strstr(err, "--countries"));
    ck_assert_ptr_null(add("countries", "GB,", 0, err));
    ck_assert_ptr_null(add("countries", "", 0, err));
    ck_assert_ptr_null(add("gates", "a,,b", 0, err));
    static const char *const limits[] = { "challenges-per-user", "=5/1h", "x=5", "x=/1h",
                                          "x=5/", "x=5/1w", "x=five/1h", "x=5/h", "x=1.5/1h",
                                          "x=5/1h/2", "x=5/999999999d" };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        ck_assert_msg(add("limit", limits[i], 0, err) == NULL, "%s", limits[i]);
        ck_assert_msg(strstr(err, "--limit") != NULL, "%s: %s", limits[i], err);
    }
}
END_TEST

START_TEST(test_every_setting_is_documented)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    programme_settings_markdown(f);
    programme_settings_usage(f);
    fclose(f);
    for (size_t i = 0; i < programme_nsettings; i++) {
        const struct programme_setting *ps = &programme_settings[i];
        char opt[64];
        snprintf(opt, sizeof opt, "`--%s", ps->option);
        ck_assert_msg(strstr(text, opt) != NULL, "%s not in the table", opt);
        ck_assert_msg(strstr(text, opt + 1) != NULL, "%s not in the usage", opt + 1);
        ck_assert_ptr_nonnull(programme_setting_find(ps->option));
        ck_assert(ps->doc != NULL && ps->doc[0] != '\0' && ps->def != NULL);
    }
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse_int, 0, (int)(sizeof ints / sizeof ints[0]));
    tcase_add_test(tc, test_uuid);
    tcase_add_test(tc, test_duration);
    tcase_add_test(tc, test_outbox_status);
    tcase_add_test(tc, test_settings_to_json);
    tcase_add_test(tc, test_settings_refuse_the_wrong_shape);
    tcase_add_test(tc, test_limits_accumulate);
    tcase_add_test(tc, test_every_setting_is_documented);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
