/*
 * router.h - the static route table and its matcher.
 *
 * A route names its method, its path pattern ("{x}" matches one non-empty
 * segment, "{x?}" one that may be empty), its handler, what the dispatcher
 * must check before calling it, and what the outcomes of its database
 * function mean over HTTP (the Weavr enums are per endpoint).  The handler
 * then does only its own work.
 */
#ifndef STEPUP_ROUTER_H
#define STEPUP_ROUTER_H

#include <stddef.h>

struct request;
typedef void (*handler_fn)(struct request *r);

enum route_flags {
    ROUTE_API_KEY = 1 << 0, /* a non-empty api-key header, else 400 REQUIRED */
    ROUTE_SESSION = 1 << 1, /* a bearer token, else 401 */
    ROUTE_IDEMPOTENT = 1 << 2, /* takes an idempotency-ref: a malformed one is 400 */
};

/*
 * What one outcome of a database function (or of the handler) answers: a
 * status and, but for 409, the body's code and message.  A 409's body is
 * {"errorCode": outcome}.  A table ends with an entry whose outcome is NULL.
 */
struct outcome_reply {
    const char *outcome;
    int status;
    const char *code;    /* NULL: the outcome itself */
    const char *message; /* NULL for a 409 */
};
#define OUTCOME_CONFLICT(name) { name, 409, NULL, NULL }
#define OUTCOMES_END { NULL, 0, NULL, NULL }

struct route {
    const char *method;
    const char *pattern;
    handler_fn handler;
    unsigned flags;
    const char *operation; /* stable name, recorded with idempotency keys */
    /* the route's own outcomes, beyond those every route shares (response.c) */
    const struct outcome_reply *outcomes;
};

enum route_match { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED };

/*
 * Find the route for method and path.  On ROUTE_FOUND *out is the route
 * and param holds the "{...}" segment ("" if none).  On
 * ROUTE_METHOD_NOT_ALLOWED, allow lists the path's methods ("GET, POST").
 */
enum route_match router_match(const struct route *table, size_t n, const char *method,
                              const char *path, const struct route **out, char *param,
                              size_t paramlen, char *allow, size_t allowlen);

/* The application's routes, and the Authorizer role's (any URL, no table). */
extern const struct route stepup_routes[];
extern const size_t stepup_nroutes;
extern const struct route stepup_gate_route;

#endif
