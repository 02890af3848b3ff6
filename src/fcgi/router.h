/*
 * router.h - the static route table and its matcher.
 *
 * A route names its method, its path pattern ("{x}" matches one non-empty
 * segment, "{x?}" one that may be empty), its handler and what the dispatcher must check before calling
 * it.  The handler then does only its own work.
 */
#ifndef STEPUP_ROUTER_H
#define STEPUP_ROUTER_H

#include <stddef.h>

struct request;
typedef void (*handler_fn)(struct request *r);

enum route_flags {
    ROUTE_API_KEY = 1 << 0, /* a non-empty api-key header, else 400 REQUIRED */
    ROUTE_SESSION = 1 << 1, /* a bearer token, else 401 */
};

struct route {
    const char *method;
    const char *pattern;
    handler_fn handler;
    unsigned flags;
    const char *operation; /* stable name, recorded with idempotency keys */
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

/* The application's routes. */
extern const struct route stepup_routes[];
extern const size_t stepup_nroutes;

#endif
