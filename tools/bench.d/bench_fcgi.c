/*
 * bench_fcgi.c - the command line, socket, pid file and worker pool of
 * the baseline responders (see bench_fcgi.h).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_fcgi.h"

static void usage(const char *prog, bool want_db)
{
    fprintf(stderr, "usage: %s --socket PATH --workers N [--pid-file FILE]%s\n", prog,
            want_db ? " --db CONNINFO" : "");
}

bool bench_parse_options(int argc, char **argv, const char *prog, bool want_db,
                         struct bench_options *o)
{
    static const struct option options[] = {
        { "socket", required_argument, NULL, 's' },
        { "workers", required_argument, NULL, 'w' },
        { "pid-file", required_argument, NULL, 'p' },
        { "db", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    char *end;

    memset(o, 0, sizeof *o);
    o->workers = 4;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': o->socket = optarg; break;
        case 'p': o->pid_file = optarg; break;
        case 'd': o->conninfo = optarg; break;
        case 'w':
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || n < 1 || n > BENCH_WORKERS_MAX) {
                fprintf(stderr, "%s: --workers must be 1..%d\n", prog, BENCH_WORKERS_MAX);
                return false;
            }
            o->workers = (int)n;
            break;
        default: usage(prog, want_db); return false;
        }
    }
    if (optind != argc || o->socket == NULL || (want_db && o->conninfo == NULL)) {
        usage(prog, want_db);
        return false;
    }
    return true;
}

struct worker {
    int id;
    int listen_fd;
    const struct bench_options *options;
    const struct bench_worker_ops *ops;
    pthread_t thread;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    FCGX_Request req;
    void *state = w->ops->init(w->options, w->id);

    if (state == NULL)
        exit(1); /* init said why */
    if (FCGX_InitRequest(&req, w->listen_fd, 0) != 0) {
        fprintf(stderr, "worker %d: FCGX_InitRequest failed\n", w->id);
        exit(1);
    }
    while (FCGX_Accept_r(&req) >= 0) {
        w->ops->handle(&req, state);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

/* Our pid into path, replaced whole (a reader never sees half of it). */
static int write_pid_file(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%ld\n", (long)getpid()) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int bench_serve(const struct bench_options *o, const struct bench_worker_ops *ops)
{
    static struct worker workers[BENCH_WORKERS_MAX];
    sigset_t stop;

    /*
     * SIGTERM and SIGINT are taken by the main thread alone (libfcgi would
     * otherwise catch SIGTERM and only mark a shutdown that a worker
     * blocked in accept() never sees).  Nothing is in flight that matters:
     * the process just ends.
     */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (FCGX_Init() != 0) {
        fprintf(stderr, "FCGX_Init failed\n");
        return 1;
    }
    unlink(o->socket); /* a stale socket of an earlier run */
    int fd = FCGX_OpenSocket(o->socket, 128);
    /* The web server connects as another user, through the socket's group. */
    if (fd < 0 || chmod(o->socket, 0660) != 0) {
        fprintf(stderr, "cannot listen on %s: %s\n", o->socket, strerror(errno));
        return 1;
    }
    if (o->pid_file != NULL && write_pid_file(o->pid_file) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", o->pid_file, strerror(errno));
        return 1;
    }
    for (int i = 0; i < o->workers; i++) {
        workers[i] = (struct worker){ .id = i, .listen_fd = fd, .options = o, .ops = ops };
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "cannot start worker %d\n", i);
            return 1;
        }
    }
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    _exit(0);
}

size_t bench_read_body(FCGX_Request *req, char *buf, size_t size)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    long want = cl != NULL ? strtol(cl, NULL, 10) : 0;
    size_t len = 0;

    if (want < 0)
        want = 0;
    if ((size_t)want > size - 1)
        want = (long)(size - 1);
    while (len < (size_t)want) {
        int n = FCGX_GetStr(buf + len, (int)((size_t)want - len), req->in);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

void bench_reply(FCGX_Request *req, int status, const char *json)
{
    if (json == NULL) {
        FCGX_FPrintF(req->out, "Status: %d\r\n\r\n", status);
        return;
    }
    FCGX_FPrintF(req->out, "Status: %d\r\nContent-Type: application/json\r\n"
                 "Content-Length: %lu\r\n\r\n%s", status, (unsigned long)strlen(json), json);
}
