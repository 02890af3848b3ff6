/*
 * dispatch.c - the route table and the dispatcher.
 *
 * The table says, once per route, what must hold before its handler runs;
 * the dispatcher checks it so that no handler repeats those checks.
 */
#include <stdio.h>
#include <string.h>

#include "../lib/validate.h"
#include "dispatch.h"
#include "handlers.h"
#include "metrics.h"
#include "response.h"
#include "router.h"

/*
 * The outcomes of each endpoint beyond those every route shares (see
 * response.c): the Weavr 409 enums of the endpoint, and login's 403s.
 * An outcome a function returns that its route does not list is answered
 * 500 and logged as a bug.
 */
static const struct outcome_reply login_outcomes[] = {
    { "USER_UNKNOWN", 403, "FORBIDDEN", "Invalid credentials" },
    { "CREDENTIALS_INACTIVE", 403, "FORBIDDEN", "Invalid credentials" },
    { "PASSWORD_MISMATCH", 403, "FORBIDDEN", "Invalid credentials" }, /* decided in C */
    OUTCOMES_END,
};
static const struct outcome_reply issue_outcomes[] = {
    OUTCOME_CONFLICT("CHANNEL_NOT_SUPPORTED"),
    OUTCOME_CONFLICT("CHANNEL_NOT_REGISTERED"),
    OUTCOME_CONFLICT("MOBILE_NUMBER_INVALID"),
    OUTCOME_CONFLICT("MOBILE_COUNTRY_NOT_SUPPORTED"),
    OUTCOME_CONFLICT("RETRY_IN_15SEC"),
    OUTCOME_CONFLICT("CHALLENGE_LIMIT_EXCEEDED"),
    OUTCOMES_END,
};
/* What both verifications answer (step-up also CHANNEL_NOT_REGISTERED). */
#define VERIFY_CONFLICTS                               \
    OUTCOME_CONFLICT("CHANNEL_NOT_SUPPORTED"),         \
    OUTCOME_CONFLICT("STATE_INVALID"),                 \
    OUTCOME_CONFLICT("VERIFICATION_CODE_EXPIRED"),     \
    OUTCOME_CONFLICT("VERIFICATION_CODE_INVALID"),     \
    OUTCOME_CONFLICT("ONE_CHALLENGE_LIMIT_REMAINING"), \
    OUTCOME_CONFLICT("CHALLENGE_LIMIT_EXCEEDED"),      \
    OUTCOME_CONFLICT("ALREADY_VERIFIED")
static const struct outcome_reply verify_outcomes[] = {
    VERIFY_CONFLICTS,
    OUTCOME_CONFLICT("CHANNEL_NOT_REGISTERED"),
    OUTCOMES_END,
};
static const struct outcome_reply enrol_outcomes[] = {
    OUTCOME_CONFLICT("CHANNEL_NOT_SUPPORTED"),
    OUTCOME_CONFLICT("CHANNEL_ALREADY_REGISTERED"),
    OUTCOME_CONFLICT("MOBILE_NUMBER_NOT_AVAILABLE"),
    OUTCOME_CONFLICT("MOBILE_NUMBER_INVALID"),
    OUTCOME_CONFLICT("MOBILE_COUNTRY_NOT_SUPPORTED"),
    OUTCOME_CONFLICT("CREDENTIALS_INACTIVE"),
    OUTCOMES_END,
};
static const struct outcome_reply enrol_verify_outcomes[] = {
    VERIFY_CONFLICTS,
    OUTCOMES_END,
};
static const struct outcome_reply gate_outcomes[] = {
    { "GATE_FORBIDDEN", 403, "FORBIDDEN", "This session's programme may not pass this gate" },
    { "NOT_STEPPED_UP", 403, "STEP_UP_REQUIRED",
      "This session must be stepped up with a one-time password first" },
    OUTCOMES_END,
};

const struct route stepup_routes[] = {
    { "GET", "/health", handle_health, 0, "health", NULL },
    { "GET", "/metrics", handle_metrics, 0, "metrics", NULL },
    { "POST", "/login_with_password", handle_login, ROUTE_API_KEY, "login", login_outcomes },
    { "POST", "/logout", handle_logout, ROUTE_API_KEY | ROUTE_SESSION, "logout", NULL },
    { "POST", "/stepup/challenges/otp/{channel}", handle_stepup_issue,
      ROUTE_API_KEY | ROUTE_SESSION | ROUTE_IDEMPOTENT, "stepup.challenge.issue", issue_outcomes },
    { "POST", "/stepup/challenges/otp/{channel?}/verify", handle_stepup_verify,
      ROUTE_API_KEY | ROUTE_SESSION | ROUTE_IDEMPOTENT, "stepup.challenge.verify",
      verify_outcomes },
    { "GET", "/authentication_factors", handle_factors, ROUTE_API_KEY | ROUTE_SESSION,
      "factors.list", NULL },
    { "POST", "/authentication_factors/otp/{channel}", handle_enrol,
      ROUTE_API_KEY | ROUTE_SESSION | ROUTE_IDEMPOTENT, "factors.enrol", enrol_outcomes },
    { "POST", "/authentication_factors/otp/{channel?}/verify", handle_enrol_verify,
      ROUTE_API_KEY | ROUTE_SESSION | ROUTE_IDEMPOTENT, "factors.enrol.verify",
      enrol_verify_outcomes },
};
/* The FastCGI Authorizer role: any URL, the bearer token only. */
const struct route stepup_gate_route = {
    "*", "*", handle_authorize, ROUTE_SESSION, "gate", gate_outcomes,
};
const size_t stepup_nroutes = ARRAY_LEN(stepup_routes);

/* The metrics' slot of a request: its route's place in the table, then the gate, then none. */
static size_t route_slot(const struct request *r)
{
    if (r->route == &stepup_gate_route)
        return stepup_nroutes;
    if (r->route == NULL)
        return stepup_nroutes + 1;
    return (size_t)(r->route - stepup_routes);
}

size_t dispatch_route_names(const char **names, size_t max)
{
    struct request none = { .route = NULL }, gate = { .route = &stepup_gate_route };
    size_t n = 0;
    for (; n < stepup_nroutes && n < max; n++) {
        struct request r = { .route = &stepup_routes[n] };
        names[n] = request_route_name(&r);
    }
    if (n < max)
        names[n++] = request_route_name(&gate);
    if (n < max)
        names[n++] = request_route_name(&none);
    return n;
}

/*
 * Check the flags of r->route (answering when one fails): 1 when they hold.
 * The headers are checked here, before the database sees any of them: a
 * malformed api-key, bearer token or idempotency-ref (validate.h) is 400
 * on its field; a gate has no fields, so a malformed token there is just
 * no session (401).
 */
static int route_flags_hold(struct request *r)
{
    const struct route *route = r->route;
    const char *problem;

    if (route->flags & ROUTE_API_KEY) {
        problem = r->api_key == NULL ? "REQUIRED" : validate_credential(r->api_key);
        if (problem != NULL) {
            reply_field_problem(r, "api-key", problem, 1, VALIDATE_CREDENTIAL_MAX);
            return 0;
        }
    }
    if (route->flags & ROUTE_SESSION) {
        problem = r->bearer == NULL ? "REQUIRED" : validate_credential(r->bearer);
        if (problem != NULL && (r->bearer == NULL || route == &stepup_gate_route)) {
            gate_refuse(r, "TOKEN_INVALID"); /* any route: only a gate is asked again */
            return 0;
        }
        if (problem != NULL) {
            reply_field_problem(r, "Authorization", problem, 1, VALIDATE_CREDENTIAL_MAX);
            return 0;
        }
    }
    if ((route->flags & ROUTE_IDEMPOTENT) && r->idem_ref != NULL &&
        (problem = validate_idempotency_ref(r->idem_ref)) != NULL) {
        reply_field_problem(r, "idempotency-ref", problem, 1, VALIDATE_IDEMPOTENCY_REF_MAX);
        return 0;
    }
    return 1;
}

/* Answer the request the router could not take, or whose route's flags fail. */
static int dispatch_checks(struct request *r)
{
    char allow[64];
    const struct route *route;

    switch (router_match(stepup_routes, stepup_nroutes, r->method, r->path, &route, r->param,
                         sizeof r->param, allow, sizeof allow)) {
    case ROUTE_NOT_FOUND:
        reply_error(r, 404, "NOT_FOUND", "No such resource", NULL);
        return 0;
    case ROUTE_METHOD_NOT_ALLOWED: {
        char header[80];
        snprintf(header, sizeof header, "Allow: %s", allow);
        reply_error(r, 405, "METHOD_NOT_ALLOWED", "Method not allowed on this resource", header);
        return 0;
    }
    case ROUTE_FOUND:
        break;
    }
    r->route = route;
    return route_flags_hold(r);
}

void dispatch(struct worker *w)
{
    struct request r;

    switch (request_init(&r, w, (size_t)w->settings->max_body_bytes)) {
    case REQUEST_OK:
        if (r.authorizer || r.gate_refusal) {
            r.route = &stepup_gate_route; /* a gate in front of any URL: no routes */
            if (route_flags_hold(&r))
                r.route->handler(&r);
        } else if (dispatch_checks(&r)) {
            r.route->handler(&r);
        }
        break;
    case REQUEST_TOO_LARGE:
        reply_error(&r, 413, "PAYLOAD_TOO_LARGE", "The request body is too large", NULL);
        break;
    case REQUEST_NO_METHOD:
    case REQUEST_BAD_LENGTH:
    case REQUEST_SHORT_BODY:
        reply_error(&r, 400, "BAD_REQUEST", "The request could not be read", NULL);
        break;
    case REQUEST_NO_MEMORY:
        reply_internal_error(&r, "out of memory reading the request");
        break;
    }

    if (r.status == 0)
        reply_internal_error(&r, "%s %s was not answered", r.method != NULL ? r.method : "-",
                             r.path);
    metrics_request(w->metrics, route_slot(&r), r.status, r.duration_us);
    request_release(&r);
}
