/*
 * dispatch.h - from an accepted FastCGI request to an answer.
 */
#ifndef STEPUP_DISPATCH_H
#define STEPUP_DISPATCH_H

#include "request.h"

/*
 * Serve the request the worker has just accepted: read it, route it,
 * enforce the route's flags, run its handler, make sure something was
 * answered, release it.
 */
void dispatch(struct worker *w);

/*
 * The route names of the metrics' slots into names (at most max): the
 * route table's patterns in order, the gate's, and "unmatched" (see
 * request_route_name).  Returns how many.
 */
size_t dispatch_route_names(const char **names, size_t max);

#endif
