/*
 * api_factors.c - authentication factors: list them, and enrol a phone
 * for SMS (send a code to the number on file, then verify it).
 */
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "response.h"
#include "statements.h"

/* GET /authentication_factors: impersonators may look. */
void handle_factors(struct request *r)
{
    struct db_params p = { 0 };

    api_caller_params(r, &p);
    db_result *res = api_call(r, STMT_FACTORS, &p);
    if (res == NULL)
        return;
    if (strcmp(db_value(res, 0, 0), "OK") != 0) {
        reply_outcome(r, db_value(res, 0, 0));
        db_result_free(res);
        return;
    }

    /* {"factors": [...]}, or {} when nothing is enrolled (as Weavr answers). */
    struct json_object *factors = json_tokener_parse(db_value(res, 0, 1));
    struct json_object *body = json_object_new_object();
    db_result_free(res);
    if (factors == NULL || !json_object_is_type(factors, json_type_array)) {
        json_object_put(factors);
        json_object_put(body);
        reply_error(r, 500, "INTERNAL_ERROR", "Internal error", NULL);
        return;
    }
    if (json_object_array_length(factors) > 0)
        json_object_object_add(body, "factors", factors);
    else
        json_object_put(factors);
    reply_json(r, 200, body);
}

/* POST /authentication_factors/otp/{channel} */
void handle_enrol(struct request *r)
{
    otp_issue(r, STMT_ENROL_FACTOR);
}

/* POST /authentication_factors/otp/{channel}/verify */
void handle_enrol_verify(struct request *r)
{
    otp_verify(r, "ENROLMENT");
}
