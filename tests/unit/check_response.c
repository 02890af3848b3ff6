/* Unit tests of the JSON error bodies and reasons of src/fcgi/response.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fcgi/response.h"

static void assert_json(struct json_object *o, const char *want)
{
    const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ck_assert_str_eq(got, want);
    json_object_put(o);
}

START_TEST(test_error_body)
{
    assert_json(error_body("NOT_FOUND", "No such resource"),
                "{\"code\":\"NOT_FOUND\",\"message\":\"No such resource\"}");
}
END_TEST

START_TEST(test_conflict_body)
{
    assert_json(conflict_body("RETRY_IN_15SEC"), "{\"errorCode\":\"RETRY_IN_15SEC\"}");
}
END_TEST

START_TEST(test_invalid_field_body)
{
    assert_json(invalid_field_body("channel", "NOT_IN", NULL, 0),
                "{\"message\":\"Invalid request\",\"syntaxErrors\":{\"invalidFields\":"
                "[{\"params\":[],\"fieldName\":\"channel\",\"error\":\"NOT_IN\"}]}}");
}
END_TEST

START_TEST(test_invalid_field_body_params)
{
    static const char *const params[] = { "6", "6" };
    assert_json(invalid_field_body("verificationCode", "SIZE", params, 2),
                "{\"message\":\"Invalid request\",\"syntaxErrors\":{\"invalidFields\":"
                "[{\"params\":[\"6\",\"6\"],\"fieldName\":\"verificationCode\",\"error\":\"SIZE\"}]}}");
}
END_TEST

START_TEST(test_reasons)
{
    ck_assert_str_eq(http_reason(204), "No Content");
    ck_assert_str_eq(http_reason(405), "Method Not Allowed");
    ck_assert_str_eq(http_reason(409), "Conflict");
    ck_assert_str_eq(http_reason(503), "Service Unavailable");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("response");
    TCase *tc = tcase_create("bodies");
    tcase_add_test(tc, test_error_body);
    tcase_add_test(tc, test_conflict_body);
    tcase_add_test(tc, test_invalid_field_body);
    tcase_add_test(tc, test_invalid_field_body_params);
    tcase_add_test(tc, test_reasons);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
