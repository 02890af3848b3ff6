/*
 * api_auth.c - what every API handler shares: the caller's credentials,
 * calling the database, and authenticating a caller whose request failed
 * validation.  See api.h.
 */
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/validate.h"
#include "api.h"
#include "response.h"
#include "statements.h"

struct json_object *api_body(const struct request *r)
{
    struct json_object *doc;
    const char *why = validate_json_document(r->body, r->body_len, &doc);
    if (why != NULL && r->body_len > 0)
        log_msg(LOG_INFO, r->ref, "request body refused: %s", why);
    return doc;
}

const char *api_string_member(struct json_object *o, const char *name, size_t *len)
{
    struct json_object *v;

    *len = 0;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

void api_caller_args(const struct request *r, struct db_call *call)
{
    db_arg_bytes(call, "p_api_key_hash", r->key_hash, sizeof r->key_hash);
    db_arg_bytes(call, "p_token_hash", r->token_hash, sizeof r->token_hash);
}

void api_context_args(const struct request *r, struct db_call *call)
{
    db_arg_text(call, "p_request_ref", r->ref);
    db_arg_text(call, "p_client_addr", request_client_addr(r));
    db_arg_text(call, "p_user_agent", r->user_agent);
}

void api_reply_outcome(struct request *r, const db_result *res)
{
    const char *outcome = db_get(res, 0, "outcome");
    if (strcmp(outcome, "RATE_LIMITED") != 0) {
        reply_outcome(r, outcome);
        return;
    }
    reply_rate_limited(r, db_get(res, 0, "limit_name"), atol(db_get(res, 0, "limit_count")),
                       atol(db_get(res, 0, "limit_seconds")), atol(db_get(res, 0, "retry_after")));
}

db_result *api_call(struct request *r, struct db_call *call)
{
    struct db *db = r->worker->db;
    if (db_ensure(db, NULL, 0) != STEPUP_OK) {
        reply_unavailable(r);
        return NULL;
    }
    db_result *res = db_run(db, r->ref, call);
    if (res == NULL) {
        if (db_last_error_transient(db))
            reply_unavailable(r);
        else
            reply_internal_error(r, "%s failed", call->st->name);
        return NULL;
    }
    if (db_rows(res) != 1) {
        reply_internal_error(r, "%s returned %d rows", call->st->name, db_rows(res));
        db_result_free(res);
        return NULL;
    }
    return res;
}

int api_authenticated(struct request *r, int allow_impersonation)
{
    struct db_call call;

    db_call_init(&call, &stmt_authenticate);
    api_caller_args(r, &call);
    db_arg_bool(&call, "p_allow_impersonation", allow_impersonation != 0);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return 0;
    const char *outcome = db_get(res, 0, "outcome");
    int ok = strcmp(outcome, "OK") == 0;
    if (!ok)
        reply_outcome(r, outcome);
    db_result_free(res);
    return ok;
}
