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
    struct db_call call;

    db_call_init(&call, &stmt_factors);
    api_caller_args(r, &call);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return;
    if (strcmp(db_get(res, 0, "outcome"), "OK") != 0) {
        reply_outcome(r, db_get(res, 0, "outcome"));
        db_result_free(res);
        return;
    }

    /* {"factors": [...]}, or {} when nothing is enrolled (as Weavr answers). */
    struct json_object *factors = json_tokener_parse(db_get(res, 0, "factors"));
    struct json_object *body = json_object_new_object();
    db_result_free(res);
    if (factors == NULL || !json_object_is_type(factors, json_type_array)) {
        json_object_put(factors);
        json_object_put(body);
        reply_internal_error(r, "api_factors answered factors that are no JSON array");
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
    otp_issue(r, &stmt_enrol_factor, "ENROLMENT");
}

/* POST /authentication_factors/otp/{channel}/verify */
void handle_enrol_verify(struct request *r)
{
    otp_verify(r, "ENROLMENT");
}
