/*
 * main.c - stepup-fcgi: start-up, the worker pool, and shutdown.
 *
 * Workers are threads, each accepting on the one FastCGI listen socket
 * with its own FCGX_Request and its own database connection, so nothing is
 * shared between requests but the settings, which each request holds
 * unchanged from start to answer (reload.h: SIGHUP swaps in a new copy).  Signals are blocked
 * in every thread and taken by the main thread with sigwait(): on SIGTERM
 * or SIGINT it marks the shutdown and shuts the listen socket down, which
 * wakes every worker blocked in accept; a worker busy with a request
 * finishes it first.
 *
 * main() loads the settings and opens the listening sockets; then the
 * process serves (serve), or, detached with --daemon, supervises a child
 * process that serves and starts another whenever one dies (supervise.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcgiapp.h>

#include "../lib/daemon.h"
#include "../lib/log.h"
#include "reload.h"
#include "settings.h"
#include "dispatch.h"
#include "metrics.h"
#include "statements.h"
#include "waker.h"
#include "supervise.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stepup-fcgi -c CONFIG [--daemon] [--pid-file FILE]\n"
            "       stepup-fcgi --init-config FILE [--keys-from OTHER] [--set KEY=VALUE]...\n"
            "       stepup-fcgi --update-config FILE --set KEY=VALUE...\n"
            "       stepup-fcgi -c CONFIG --check-config | --get-config KEY\n"
            "       stepup-fcgi --describe-config\n"
            "\n"
            "Serves the stepup API over FastCGI: on the listen socket a web server\n"
            "passes (lighttpd bin-path, Apache mod_fcgid), or on the unix socket\n"
            "named by the 'socket' setting (mod_proxy_fcgi, spawn-fcgi, systemd).\n"
            "\n"
            "  -c, --config FILE       configuration file (also $STEPUP_CONFIG)\n"
            "      --daemon            stand-alone ('socket' set): detach once listening\n"
            "                          (logs still go to standard error), and start a new\n"
            "                          serving process whenever one dies\n"
            "      --pid-file FILE     write the process id to FILE (removed at exit); with\n"
            "                          --daemon, the supervisor's\n"
            "      --init-config FILE  write a new configuration: every key documented,\n"
            "                          fresh random keys, mode 0600 (FILE must not exist)\n"
            "      --update-config FILE  change the keys given with --set, keep the rest\n"
            "      --set KEY=VALUE     a value for --init-config or --update-config\n"
            "      --keys-from FILE    --init-config: otp_key and outbox_key from FILE (another\n"
            "                          host of the same service)\n"
            "      --check-config      load CONFIG: exit 0 when it is valid\n"
            "      --get-config KEY    print a value of CONFIG as loaded (keys too)\n"
            "      --describe-config   print every setting with its default\n"
            "  -h, --help              this text\n"
            "  -V, --version           print the version\n");
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    if (db_ensure(w->db, NULL, 0) != STEPUP_OK)
        log_msg(LOG_WARN, NULL, "worker %d: database not reachable yet; will retry", w->id);
    while (FCGX_Accept_r(&w->fcgx) >= 0) {
        w->settings = settings_store_acquire(w->store);
        dispatch(w);
        FCGX_Finish_r(&w->fcgx);
        w->settings = NULL;
        settings_store_release(w->store);
    }
    return NULL;
}

/* A unix socket path, as opposed to libfcgi's HOST:PORT or :PORT (TCP). */
static int is_unix_path(const char *addr)
{
    return addr != NULL && addr[0] != '\0' && strchr(addr, ':') == NULL;
}

/* A stand-alone listen socket on addr: a unix path or HOST:PORT. */
static int open_address(const char *addr, int backlog)
{
    if (is_unix_path(addr))
        unlink(addr); /* a stale socket of an earlier run */
    int fd = FCGX_OpenSocket(addr, backlog);
    if (fd < 0) {
        log_msg(LOG_ERROR, NULL, "cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    /*
     * The web server connects as another user: read and write for the
     * socket's owner and group (the directory's group, with its setgid
     * bit, or the service's), whatever the umask left.  Who may reach it
     * at all is the directory's business.
     */
    if (is_unix_path(addr) && chmod(addr, 0660) != 0) {
        log_msg(LOG_ERROR, NULL, "cannot chmod 0660 %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The listen socket: the configured one, or the one on fd 0. */
static int open_listen_socket(const struct settings *s)
{
    if (s->socket_path != NULL && s->socket_path[0] != '\0')
        return open_address(s->socket_path, s->listen_backlog);
    if (FCGX_IsCGI()) {
        log_msg(LOG_ERROR, NULL,
                "not started by a FastCGI server: set 'socket' to listen on a unix socket");
        return -1;
    }
    return 0; /* FCGI_LISTENSOCK_FILENO */
}

/* db_on_reconnect's callback: one more reconnect in the process counters. */
static void count_reconnect(void *arg)
{
    metrics_reconnect(arg);
}

/* Wait for a terminating signal in the main thread; SIGHUP reloads path. */
static void wait_for_shutdown(const sigset_t *signals, struct settings_store *store,
                              const char *path)
{
    for (;;) {
        int sig = 0;
        if (sigwait(signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            (void)settings_store_reload(store, path, "SIGHUP");
            continue;
        }
        log_msg(LOG_INFO, NULL, "%s: finishing requests in flight, then exiting",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

/* What main() prepares for the serving process: its settings and listening sockets. */
struct service {
    struct settings *settings; /* the start-up settings (main's) */
    const char *config_path;
    int listen_fd;             /* the responder's socket: 'socket', or the one on fd 0 */
    int second_fd;             /* authorizer_socket's, or -1 */
};

/*
 * Serve on the service's sockets (supervise_serve_fn): start the worker
 * threads, tell ready_fd once they run, reload the settings on SIGHUP,
 * and on SIGTERM or SIGINT let every worker finish its request and
 * return the exit status.  reload: read the configuration file again
 * before serving, as SIGHUP does (a replacement under the supervisor).
 * The sockets stay open: they are main()'s.
 */
static int serve(void *arg, int ready_fd, bool reload)
{
    const struct service *sv = arg;
    const struct settings *s = sv->settings;
    int status = EXIT_FAILURE;

    /* Every thread inherits this mask; only sigwait() sees these signals. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Workers 0..workers-1 accept on the listen socket, the rest (when
     * authorizer_socket is set) on that second one. */
    int second = sv->second_fd >= 0;
    int nworkers = s->workers + (second ? s->authorizer_workers : 0);
    struct worker *workers = calloc((size_t)nworkers, sizeof *workers);
    pthread_t *threads = calloc((size_t)nworkers, sizeof *threads);
    int started = 0, store_ready = 0;
    struct settings_store store;
    struct waker *waker = NULL;
    const char *route_names[METRICS_ROUTES_MAX];
    struct metrics *metrics = NULL;
    char err[512];
    if (workers == NULL || threads == NULL)
        goto out;
    metrics = metrics_open(s->metrics_file, route_names,
                           dispatch_route_names(route_names, ARRAY_LEN(route_names)), err,
                           sizeof err);
    if (metrics == NULL) {
        log_msg(LOG_ERROR, NULL, "%s", err);
        goto out;
    }
    if (settings_store_init(&store, sv->settings) != STEPUP_OK)
        goto out;
    store_ready = 1;
    if (reload)
        (void)settings_store_reload(&store, sv->config_path, "a new serving process");

    struct db_options db_options;
    config_db_options(&s->common, &db_options);
    waker = waker_start(&db_options, count_reconnect, metrics);
    if (waker == NULL)
        goto out;
    for (started = 0; started < nworkers; started++) {
        struct worker *w = &workers[started];
        w->id = started;
        w->store = &store;
        w->metrics = metrics;
        w->waker = waker;
        w->db = db_new(&db_options, stepup_statements, stepup_nstatements);
        if (w->db != NULL)
            db_on_reconnect(w->db, count_reconnect, metrics);
        int fd = started < s->workers ? sv->listen_fd : sv->second_fd;
        if (w->db == NULL || FCGX_InitRequest(&w->fcgx, fd, 0) != 0 ||
            pthread_create(&threads[started], NULL, worker_main, w) != 0) {
            log_msg(LOG_ERROR, NULL, "cannot start worker %d", started);
            db_free(w->db);
            break;
        }
    }
    if (started == nworkers) {
        if (second)
            log_msg(LOG_INFO, NULL, "serving with %d workers, and %d on %s", s->workers,
                    s->authorizer_workers, s->authorizer_socket);
        else
            log_msg(LOG_INFO, NULL, "serving with %d workers", s->workers);
        daemon_ready(ready_fd);
        ready_fd = -1;
        wait_for_shutdown(&signals, &store, sv->config_path);
        status = EXIT_SUCCESS;
    }

    FCGX_ShutdownPending();
    shutdown(sv->listen_fd, SHUT_RDWR); /* wakes every worker blocked in accept */
    if (second)
        shutdown(sv->second_fd, SHUT_RDWR);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        FCGX_Free(&workers[i].fcgx, 1);
        db_free(workers[i].db);
    }
    log_msg(LOG_INFO, NULL, "stopped");

out:
    waker_stop(waker); /* after the workers: it sends what they queued last */
    free(threads);
    free(workers);
    metrics_close(metrics);
    if (store_ready)
        settings_store_destroy(&store);
    if (ready_fd >= 0)
        close(ready_fd); /* never ready: the starting process exits 1 */
    return status;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        CONFIG_COMMAND_OPTIONS,
        { "daemon", no_argument, NULL, 'd' },
        { "pid-file", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct config_command cmd = { .op = CONFIG_OP_NONE, .config = getenv("STEPUP_CONFIG") };
    int opt, status = EXIT_FAILURE;
    int daemon_mode = 0, ready_fd = -1;
    const char *pid_file = NULL;

    while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return EXIT_SUCCESS;
        case 'V': printf("stepup-fcgi %s\n", PACKAGE_VERSION); return EXIT_SUCCESS;
        case 'd': daemon_mode = 1; break;
        case 'p': pid_file = optarg; break;
        default:
            if (config_command_option(&cmd, opt, optarg) != 1) {
                usage(stderr);
                return 2;
            }
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    int done = config_command_run(&settings_table, &cmd);
    if (done >= 0)
        return done;
    const char *config_path = cmd.config;
    if (config_path == NULL) {
        usage(stderr);
        return 2;
    }

    struct settings s;
    char err[512];
    log_init("stepup-fcgi", LOG_INFO);
    settings_defaults(&s);
    if (settings_load(&s, config_path, err, sizeof err) != STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "%s", err);
        settings_free(&s);
        return EXIT_FAILURE;
    }
    log_init("stepup-fcgi", s.common.log_level);
    log_set_target(s.common.log_target, s.common.syslog_facility);
    if (daemon_mode && (s.socket_path == NULL || s.socket_path[0] == '\0')) {
        log_msg(LOG_ERROR, NULL, "--daemon needs the 'socket' setting (a web server that "
                "starts stepup-fcgi keeps it in the foreground)");
        settings_free(&s);
        return 2;
    }
    /* Detach before any thread is started; report success once serving. */
    if (daemon_mode && (ready_fd = daemon_detach()) < 0) {
        log_msg(LOG_ERROR, NULL, "cannot detach: %s", strerror(errno));
        settings_free(&s);
        return EXIT_FAILURE;
    }
    if (pid_file != NULL && daemon_write_pid_file(pid_file) != STEPUP_OK) {
        settings_free(&s);
        return EXIT_FAILURE;
    }

    struct service sv = { .settings = &s, .config_path = config_path, .listen_fd = -1,
                          .second_fd = -1 };
    if (FCGX_Init() != 0)
        goto out;
    sv.listen_fd = open_listen_socket(&s);
    if (sv.listen_fd < 0)
        goto out;
    if (s.authorizer_socket != NULL && s.authorizer_socket[0] != '\0' &&
        (sv.second_fd = open_address(s.authorizer_socket, s.listen_backlog)) < 0)
        goto out;

    /* Detached, nothing would start a new one if it died: supervise.h. */
    if (daemon_mode)
        status = supervise(serve, &sv, ready_fd);
    else
        status = serve(&sv, ready_fd, false);
    ready_fd = -1; /* told, or closed */

out:
    if (sv.listen_fd > 0)
        close(sv.listen_fd);
    if (sv.second_fd >= 0)
        close(sv.second_fd);
    if (is_unix_path(s.socket_path) && sv.listen_fd >= 0)
        unlink(s.socket_path);
    settings_free(&s);
    if (ready_fd >= 0)
        close(ready_fd); /* never ready: the starting process exits 1 */
    if (pid_file != NULL)
        unlink(pid_file);
    return status;
}
