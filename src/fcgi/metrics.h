/*
 * metrics.h - the process counters of GET /metrics: requests by route and
 * status, their latency histogram by route, database reconnects.
 *
 * The counters live in one fixed-layout table that every worker thread
 * updates with atomic additions (no lock on the request path).  With the
 * metrics_file setting the table is a file that every stepup-fcgi process
 * maps MAP_SHARED, so that the figures add up across the processes that
 * Apache's mod_fcgid runs side by side, whichever of them a scrape
 * reaches; without it, the table is this process's memory.
 *
 * The file starts with a header (magic, version, size, and a fingerprint
 * of the layout: the route names, the statuses and the buckets).  A file
 * whose header does not match this program's layout (another version, a
 * truncated or foreign file) is replaced by a fresh one, and the
 * replacement is logged: processes of the old program keep counting into
 * the old file, which no scrape reads any more.  Opening takes a lock
 * (flock on PATH.lock) so that processes starting together agree on one
 * file.
 */
#ifndef STEPUP_METRICS_H
#define STEPUP_METRICS_H

#include <stddef.h>
#include <stdio.h>
#include "../lib/common.h"

struct metrics;

/* The statuses counted by their own label; any other is counted as "other". */
#define METRICS_STATUSES { 200, 204, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 503 }
/* The histogram's upper bounds in seconds (and +Inf). */
#define METRICS_BUCKETS { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5 }
/* At most this many routes (route slots). */
#define METRICS_ROUTES_MAX 32

/*
 * Open the table for nroutes routes named names[i] (the route label of
 * slot i; the strings must outlive the table): the file path, created or
 * replaced as the header comment says, or process memory when path is
 * NULL or "".  NULL on failure, with the reason in err.
 */
struct metrics *metrics_open(const char *path, const char *const *names, size_t nroutes,
                             char *err, size_t errlen);
void metrics_close(struct metrics *m);

/* One answered request of route slot route: its status and duration. */
void metrics_request(struct metrics *m, size_t route, int status, long long microseconds);
/* One database reconnect. */
void metrics_reconnect(struct metrics *m);

/*
 * Write the process series in the Prometheus text format (HELP and TYPE
 * lines, requests only for route and status pairs that occurred, the
 * histogram only for routes that were asked).  STEPUP_ERR when out failed.
 */
int metrics_render(const struct metrics *m, FILE *out) WARN_UNUSED;

/* A label value in the text format's escaping (\\, \", \n) to out. */
void metrics_label_value(FILE *out, const char *value);

#endif
