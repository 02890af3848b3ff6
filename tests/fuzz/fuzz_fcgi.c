/*
 * fuzz_fcgi.c - a FastCGI request in memory.  See fuzz_fcgi.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fcgi/dispatch.h"
#include "../../src/fcgi/metrics.h"
#include "../../src/lib/log.h"
#include "fuzz_fcgi.h"

static struct settings settings;
static struct db *db;
static struct metrics *metrics;

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_fcgi: %s failed\n", what);
        abort();
    }
}

void fuzz_fcgi_init_once(void)
{
    static const char *route_names[METRICS_ROUTES_MAX];
    char err[256];

    if (db != NULL)
        return;
    log_init("stepup-fuzz", LOG_OFF);
    settings_defaults(&settings);
    must(settings_set(&settings, "otp_key",
                      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", err,
                      sizeof err) == STEPUP_OK, "otp_key");
    must(settings_set(&settings, "outbox_key",
                      "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100", err,
                      sizeof err) == STEPUP_OK, "outbox_key");
    must(settings_set(&settings, "max_body_bytes", "4096", err, sizeof err) == STEPUP_OK,
         "max_body_bytes");
    must(settings_set(&settings, "trusted_proxies", "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8", err,
                      sizeof err) == STEPUP_OK, "trusted_proxies");
    /* No server there: the first attempt fails at once, and for 10^6 s none follows. */
    db = db_new(&(struct db_options){ .conninfo = "host=/nonexistent/stepup-fuzz",
                                      .retry_seconds = 1000000 },
                NULL, 0);
    must(db != NULL, "db_new");
    metrics = metrics_open(NULL, route_names,
                           dispatch_route_names(route_names, METRICS_ROUTES_MAX), err, sizeof err);
    must(metrics != NULL, "metrics_open");
}

/* The body stream: hand out the next chunk, or close at the end. */
static void fill_body(FCGX_Stream *s)
{
    struct fuzz_fcgi *f = s->data;
    size_t n = f->body_len - f->body_pos;
    if (n == 0) {
        s->isClosed = 1;
        return;
    }
    if (n > f->chunk)
        n = f->chunk;
    s->rdNext = s->stopUnget = (unsigned char *)f->body + f->body_pos;
    s->stop = s->rdNext + n;
    s->wrNext = s->stop;
    f->body_pos += n;
}

/* The answer stream: move the window's bytes to the answer. */
static void empty_answer(FCGX_Stream *s, int do_close)
{
    struct fuzz_fcgi *f = s->data;
    size_t n = (size_t)(s->wrNext - f->window);
    (void)do_close;
    if (f->answer_len + n + 1 > f->answer_cap) {
        size_t cap = f->answer_cap != 0 ? f->answer_cap : 1024;
        while (cap < f->answer_len + n + 1)
            cap *= 2;
        f->answer = realloc(f->answer, cap);
        must(f->answer != NULL, "realloc");
        f->answer_cap = cap;
    }
    memcpy(f->answer + f->answer_len, f->window, n);
    f->answer_len += n;
    f->answer[f->answer_len] = '\0';
    s->wrNext = f->window;
}

static void add_param(struct fuzz_fcgi *f, char *p)
{
    if (f->nparams < FUZZ_PARAMS_MAX && strchr(p, '=') != NULL)
        f->envp[f->nparams++] = p;
}

void fuzz_fcgi_start(struct fuzz_fcgi *f, const unsigned char *data, size_t size,
                     const char *const *extra)
{
    const unsigned char *end = data + size, *p = data;

    memset(f, 0, sizeof *f);
    for (; extra != NULL && *extra != NULL; extra++)
        add_param(f, (char *)*extra);

    /* Copy the parameter lines (NUL-terminated each) up to the empty line. */
    const unsigned char *stop = data;
    while (stop < end && !(*stop == '\n' && (stop == data || stop[-1] == '\n')))
        stop++;
    f->params = malloc((size_t)(stop - data) + 1);
    must(f->params != NULL, "malloc");
    memcpy(f->params, data, (size_t)(stop - data));
    f->params[stop - data] = '\0';
    for (char *line = f->params, *nl; line != NULL; line = nl) {
        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl++ = '\0';
        add_param(f, line);
    }
    p = stop < end ? stop + 1 : end;
    f->envp[f->nparams] = NULL;

    f->body = p;
    f->body_len = (size_t)(end - p);
    f->chunk = 1 + size % 97;
    f->in.isReader = 1;
    f->in.fillBuffProc = fill_body;
    f->in.data = f;
    f->in.rdNext = f->in.stop = f->in.stopUnget = f->in.wrNext = (unsigned char *)f->window;

    f->out.wrNext = f->window;
    f->out.stop = f->window + sizeof f->window;
    f->out.emptyBuffProc = empty_answer;
    f->out.data = f;
    f->err = f->out;

    f->worker.settings = &settings;
    f->worker.db = db;
    f->worker.metrics = metrics;
    f->worker.fcgx.envp = f->envp;
    f->worker.fcgx.in = &f->in;
    f->worker.fcgx.out = &f->out;
    f->worker.fcgx.err = &f->err;
}

void fuzz_fcgi_end(struct fuzz_fcgi *f)
{
    free(f->params);
    free(f->answer);
    f->params = f->answer = NULL;
}

int fuzz_fcgi_status(struct fuzz_fcgi *f, const char **body)
{
    int status = 0;

    empty_answer(&f->out, 0);
    *body = NULL;
    if (f->answer == NULL || sscanf(f->answer, "Status: %3d ", &status) != 1)
        return 0;
    const char *blank = strstr(f->answer, "\r\n\r\n");
    if (blank != NULL)
        *body = blank + 4;
    return status;
}
