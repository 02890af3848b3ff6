/*
 * api_gate.c - the FastCGI Authorizer role: a step-up gate in front of
 * any URL of a legacy application.
 *
 * lighttpd ("mode" => "authorizer") and Apache (FcgidAuthorizer) ask
 * before serving a protected request.  200 lets it through and passes the
 * caller's ids to the application as STEPUP_USER_ID, STEPUP_IDENTITY_ID and
 * STEPUP_PROGRAMME_ID (the Variable-* headers); 401 when the bearer token
 * is no valid session; 403 when the session has not been stepped up within
 * gate_max_age_seconds.  No api-key: the token names its programme.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "response.h"
#include "statements.h"

void handle_authorize(struct request *r)
{
    if (r->bearer == NULL) {
        reply_outcome(r, "TOKEN_INVALID");
        return;
    }

    char max_age[16];
    struct db_params p = { 0 };
    snprintf(max_age, sizeof max_age, "%d", r->worker->settings->gate_max_age_seconds);
    db_param_bytes(&p, r->token_hash, sizeof r->token_hash);
    db_param_text(&p, max_age);

    db_result *res = api_call(r, STMT_GATE, &p);
    if (res == NULL)
        return;
    if (strcmp(db_value(res, 0, 0), "OK") == 0) {
        char headers[256];
        snprintf(headers, sizeof headers,
                 "Variable-STEPUP_USER_ID: %s\r\nVariable-STEPUP_IDENTITY_ID: %s\r\n"
                 "Variable-STEPUP_PROGRAMME_ID: %s",
                 db_value(res, 0, 1), db_value(res, 0, 2), db_value(res, 0, 3));
        reply_headers(r, 200, headers);
    } else {
        reply_outcome(r, db_value(res, 0, 0));
    }
    db_result_free(res);
}
