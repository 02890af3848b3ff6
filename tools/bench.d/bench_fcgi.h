/*
 * bench_fcgi.h - what the two baseline responders of tools/bench share:
 * the command line, the listen socket, the pid file and a pool of worker
 * threads, each accepting its own requests on the one socket with its
 * own FCGX_Request, as stepup-fcgi's workers do.
 *
 * The responders are measuring instruments, not services: they run in
 * the foreground until a signal ends them (tools/bench stops them by the
 * pid in their pid file), log only what stops them, and answer only the
 * few requests the benchmark sends.
 */
#ifndef STEPUP_BENCH_FCGI_H
#define STEPUP_BENCH_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <fcgiapp.h>

#define BENCH_WORKERS_MAX 256

struct bench_options {
    const char *socket;   /* unix socket path to listen on (made mode 0660) */
    const char *pid_file; /* our pid goes here once we listen; NULL: none */
    const char *conninfo; /* libpq connection string (the reference responder) */
    int workers;          /* worker threads, each with its own request (and connection) */
};

/*
 * Parse argv (--socket PATH --workers N [--pid-file FILE] [--db CONNINFO]);
 * want_db: --db is required.  Prints the usage of prog and returns false
 * on a bad command line.
 */
bool bench_parse_options(int argc, char **argv, const char *prog, bool want_db,
                         struct bench_options *o);

/*
 * A worker's life: init (once, in the worker's thread, before its first
 * accept; NULL stops the program: the reason is printed by init), then
 * handle for each request.  state is what init returned.
 */
struct bench_worker_ops {
    void *(*init)(const struct bench_options *o, int id);
    void (*handle)(FCGX_Request *req, void *state);
};

/*
 * Listen on o->socket, write the pid file, and serve with o->workers
 * threads until SIGTERM or SIGINT ends the process (exit status 0).
 * Returns only on a failure to start (1, with the reason on standard
 * error).
 */
int bench_serve(const struct bench_options *o, const struct bench_worker_ops *ops);

/*
 * The request body (at most CONTENT_LENGTH bytes, and size - 1) into buf,
 * NUL-terminated; its length.
 */
size_t bench_read_body(FCGX_Request *req, char *buf, size_t size);

/* Answer status with a JSON body (NULL: none). */
void bench_reply(FCGX_Request *req, int status, const char *json);

#endif
