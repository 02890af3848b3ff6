/*
 * api_health.c - GET /health: liveness and database reachability.
 */
#include "api.h"
#include "handlers.h"
#include "response.h"
#include "statements.h"

void handle_health(struct request *r)
{
    struct db_call call;
    db_call_init(&call, &stmt_health);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return; /* 503 answered */
    db_result_free(res);

    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "status", json_object_new_string("ok"));
    reply_json(r, 200, body);
}
