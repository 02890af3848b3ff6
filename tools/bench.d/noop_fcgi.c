/*
 * noop_fcgi.c - bench-noop-fcgi, baseline A of tools/bench: a FastCGI
 * responder that does nothing.
 *
 * It has stepup-fcgi's shape (worker threads accepting on one socket,
 * each with its own request) and reads each request whole, parameters
 * and body, but answers at once: 204 to a POST, 200 and a small JSON
 * body to anything else.  Behind the same lighttpd, its throughput is the
 * ceiling of HTTP and FastCGI on the machine, what no responder can pass.
 *
 *   bench-noop-fcgi --socket PATH --workers N [--pid-file FILE]
 */
#include <stdio.h>
#include <string.h>

#include "bench_fcgi.h"

static void *noop_init(const struct bench_options *o, int id)
{
    (void)o;
    static int state[BENCH_WORKERS_MAX];
    return &state[id];
}

static void noop_handle(FCGX_Request *req, void *state)
{
    char body[4096];
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);

    (void)state;
    (void)bench_read_body(req, body, sizeof body);
    if (method != NULL && strcmp(method, "POST") == 0)
        bench_reply(req, 204, NULL);
    else
        bench_reply(req, 200, "{\"status\":\"ok\"}");
}

int main(int argc, char **argv)
{
    static const struct bench_worker_ops ops = { noop_init, noop_handle };
    struct bench_options o;

    if (!bench_parse_options(argc, argv, "bench-noop-fcgi", false, &o))
        return 2;
    return bench_serve(&o, &ops);
}
