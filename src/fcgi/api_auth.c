/*
 * api_auth.c - what every API handler shares: hashing the caller's
 * credentials, calling the database, and authenticating a caller whose
 * request failed validation.  See api.h.
 */
#include <string.h>

#include "../lib/log.h"
#include "api.h"
#include "response.h"
#include "statements.h"

void api_caller_params(const struct request *r, struct db_params *p)
{
    db_param_bytes(p, r->key_hash, sizeof r->key_hash);
    db_param_bytes(p, r->token_hash, sizeof r->token_hash);
}

db_result *api_call(struct request *r, const char *statement, const struct db_params *params)
{
    struct db *db = r->worker->db;
    if (db_ensure(db, NULL, 0) != STEPUP_OK) {
        reply_error(r, 503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable",
                    "Retry-After: 1");
        return NULL;
    }
    db_result *res = db_run(db, r->ref, statement, params);
    if (res == NULL) {
        if (!db_connected(db))
            reply_error(r, 503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable",
                        "Retry-After: 1");
        else
            reply_error(r, 500, "INTERNAL_ERROR", "Internal error", NULL);
        return NULL;
    }
    if (db_rows(res) != 1) {
        log_msg(LOG_ERROR, r->ref, "bug: %s returned %d rows", statement, db_rows(res));
        db_result_free(res);
        reply_error(r, 500, "INTERNAL_ERROR", "Internal error", NULL);
        return NULL;
    }
    return res;
}

int api_authenticated(struct request *r, int allow_impersonation)
{
    struct db_params p = { 0 };

    api_caller_params(r, &p);
    db_param_text(&p, allow_impersonation ? "true" : "false");

    db_result *res = api_call(r, STMT_AUTHENTICATE, &p);
    if (res == NULL)
        return 0;
    const char *outcome = db_value(res, 0, 0);
    int ok = strcmp(outcome, "OK") == 0;
    if (!ok)
        reply_outcome(r, outcome);
    db_result_free(res);
    return ok;
}

