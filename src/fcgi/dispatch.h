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

#endif
