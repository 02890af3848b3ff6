/*
 * dispatch.c - the route table and the dispatcher.
 *
 * The table says, once per route, what must hold before its handler runs;
 * the dispatcher checks it so that no handler repeats those checks.
 */
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "dispatch.h"
#include "handlers.h"
#include "response.h"
#include "router.h"

const struct route stepup_routes[] = {
    { "GET", "/health", handle_health, 0, "health" },
    { "POST", "/login_with_password", handle_login, ROUTE_API_KEY, "login" },
    { "POST", "/logout", handle_logout, ROUTE_API_KEY | ROUTE_SESSION, "logout" },
    { "POST", "/stepup/challenges/otp/{channel}", handle_stepup_issue,
      ROUTE_API_KEY | ROUTE_SESSION, "stepup.challenge.issue" },
    { "POST", "/stepup/challenges/otp/{channel?}/verify", handle_stepup_verify,
      ROUTE_API_KEY | ROUTE_SESSION, "stepup.challenge.verify" },
    { "GET", "/authentication_factors", handle_factors, ROUTE_API_KEY | ROUTE_SESSION,
      "factors.list" },
    { "POST", "/authentication_factors/otp/{channel}", handle_enrol,
      ROUTE_API_KEY | ROUTE_SESSION, "factors.enrol" },
    { "POST", "/authentication_factors/otp/{channel?}/verify", handle_enrol_verify,
      ROUTE_API_KEY | ROUTE_SESSION, "factors.enrol.verify" },
};
const size_t stepup_nroutes = ARRAY_LEN(stepup_routes);

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
    if ((route->flags & ROUTE_API_KEY) && r->api_key == NULL) {
        reply_invalid_field(r, "api-key", "REQUIRED", NULL, 0);
        return 0;
    }
    if ((route->flags & ROUTE_SESSION) && r->bearer == NULL) {
        reply_outcome(r, "TOKEN_INVALID");
        return 0;
    }
    return 1;
}

void dispatch(struct worker *w)
{
    struct request r;
    int status = request_init(&r, w, (size_t)w->settings->max_body_bytes);

    if (status == 413)
        reply_error(&r, 413, "PAYLOAD_TOO_LARGE", "The request body is too large", NULL);
    else if (status != STEPUP_OK)
        reply_error(&r, status, "BAD_REQUEST", "The request could not be read", NULL);
    else if (r.authorizer)
        handle_authorize(&r); /* a gate in front of any URL: no routes */
    else if (dispatch_checks(&r))
        r.route->handler(&r);

    if (r.status == 0) {
        log_msg(LOG_ERROR, r.ref, "bug: %s %s was not answered", r.method, r.path);
        reply_error(&r, 500, "INTERNAL_ERROR", "Internal error", NULL);
    }
    request_release(&r);
}
