/*
 * api_gate.c - the FastCGI Authorizer role: a step-up gate in front of
 * any URL of a legacy application.
 *
 * lighttpd ("mode" => "authorizer") and Apache (FcgidAuthorizer) ask
 * before serving a protected request.  200 lets it through and passes the
 * caller's ids to the application as STEPUP_USER_ID, STEPUP_IDENTITY_ID and
 * STEPUP_PROGRAMME_ID (the Variable-* headers); 401 when the bearer token
 * is no valid session; 403 when the session's programme does not list this
 * gate (its name: the location's STEPUP_GATE variable, else the gate_name
 * setting), is a sandbox programme while gate_allow_sandbox is 0, or has
 * not been stepped up within gate_max_age_seconds.  No
 * api-key: the token names its programme.
 *
 * Under Apache's mod_fcgid, whose FcgidAuthorizer turns every refusal into
 * a bare 401, the refused request comes back as an error document
 * (request.h: gate_refusal) and is answered here again, as a responder, with
 * the gate's own status and body; the first ask (refusal_asked_again)
 * answers only a bare 401 and records nothing, so that the client sees one
 * request-ref and the audit log one gate.refused, with that ref.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "response.h"
#include "statements.h"

void gate_refuse(struct request *r, const char *outcome)
{
    if (r->refusal_asked_again)
        reply_status_only(r, 401); /* the web server asks again: see request.h */
    else
        reply_outcome(r, outcome);
}

void handle_authorize(struct request *r)
{
    struct db_call call;

    db_call_init(&call, &stmt_gate);
    db_arg_bytes(&call, "p_token_hash", r->token_hash, sizeof r->token_hash);
    db_arg_int(&call, "p_max_age_seconds", r->worker->settings->gate_max_age_seconds);
    db_arg_text(&call, "p_gate", r->gate);
    db_arg_bool(&call, "p_allow_sandbox", r->worker->settings->gate_allow_sandbox == 1);
    db_arg_bool(&call, "p_audit_refusal", !r->refusal_asked_again);
    api_context_args(r, &call);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return;
    const char *outcome = db_get(res, 0, "outcome");
    int passes = strcmp(outcome, "OK") == 0;
    if (passes && r->gate_refusal) {
        /* Refused a moment ago, let through now (stepped up in between): the
         * refusal stands for this request, the next one passes. */
        reply_error(r, 503, "SERVICE_UNAVAILABLE", "The gate's answer changed; try again",
                    "Retry-After: 0");
    } else if (passes) {
        char headers[256];
        snprintf(headers, sizeof headers,
                 "Variable-STEPUP_USER_ID: %s\r\nVariable-STEPUP_IDENTITY_ID: %s\r\n"
                 "Variable-STEPUP_PROGRAMME_ID: %s",
                 db_get(res, 0, "user_id"), db_get(res, 0, "identity_id"),
                 db_get(res, 0, "programme_id"));
        reply_headers(r, 200, headers);
    } else {
        gate_refuse(r, outcome);
    }
    db_result_free(res);
}
