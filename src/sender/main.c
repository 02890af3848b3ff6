/*
 * main.c - stepup-sender: drains the SMS outbox into a gateway.
 *
 *   stepup-sender -c FILE [--daemon] [--pid-file FILE]
 *   stepup-sender --describe-config
 *
 * The loop (sender.c does each step): record the results of the sends
 * that ended; claim as many messages as there are free send slots (of
 * sends_in_flight) and hand each to its provider; then, while sends are in
 * flight, wait for them (the providers' descriptors, and a signalfd for
 * the signals); with nothing in flight and the outbox empty, sleep on the
 * database connection (LISTEN stepup_outbox) until a NOTIFY, the next
 * message due for a retry, or poll_interval_ms - whichever comes first.
 * A lost notification therefore costs at most one poll interval.
 *
 * Signals only set flags.  SIGTERM, SIGINT and SIGHUP are blocked except
 * while the idle loop sleeps (ppoll), at the top of each turn and at the
 * check before each send, so they arrive exactly where the loop looks at
 * the flags.  While sends are in flight, a signalfd of the three is among
 * the descriptors the wait watches: a signal ends the wait, and the next
 * check lets it in.
 *   SIGTERM/SIGINT  no more claims; the claimed messages not yet handed
 *                   over are released (PENDING, untouched); the sends in
 *                   flight finish (each within its timeout) and are
 *                   recorded; exit 0;
 *   SIGHUP          no more claims until the sends in flight have finished
 *                   and been recorded (the old providers serve them to the
 *                   end); then the file is parsed into a fresh
 *                   configuration, which replaces the running one only if
 *                   it loaded, passed its checks and its providers opened,
 *                   and claiming resumes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <curl/curl.h>

#include "config.h" /* autoconf: PACKAGE_VERSION */
#include "../lib/daemon.h"
#include "../lib/log.h"
#include "outbox.h"
#include "provider.h"
#include "sealer.h"
#include "sender.h"
#include "sender_config.h"

#define CHANNEL "stepup_outbox"
#define MAX_TURN_MS 1000    /* the longest wait with sends in flight (pruning, sealing) */
#define PRUNE_INTERVAL_S 60 /* how often the ended rate-limit counters are deleted */
#define PRUNE_BATCH 10000   /* at most this many at a time */
#define PRUNE_ROUNDS 10     /* batches in a row while they come back full */
/* While a database call waits, the sends in flight are driven this often (ms). */
#define DRIVE_INTERVAL_MS 10

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

/* The signals the loop handles, and the mask that lets them in. */
static sigset_t handled_signals;
static sigset_t wait_mask;

/* SIGTERM, SIGINT: finish the sends in flight, give the rest back, exit. */
static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* SIGHUP: reload the configuration once nothing is in flight. */
static void on_reload(int sig)
{
    (void)sig;
    reload_flag = 1;
}

/* Let pending signals in (their handlers set the flags); true when asked to stop. */
static bool stop_requested(void)
{
    sigprocmask(SIG_SETMASK, &wait_mask, NULL);
    sigprocmask(SIG_BLOCK, &handled_signals, NULL);
    return stop_flag != 0;
}

/* The command line, on out. */
static void usage(FILE *out)
{
    fprintf(out,
            "usage: stepup-sender -c FILE [--daemon] [--pid-file FILE]\n"
            "       stepup-sender --init-config FILE [--keys-from STEPUP_CONF] [--set KEY=VALUE]...\n"
            "       stepup-sender --update-config FILE --set KEY=VALUE...\n"
            "       stepup-sender -c FILE --check-config | --get-config KEY\n"
            "       stepup-sender --describe-config\n"
            "\n"
            "Delivers the texts of stepup's SMS outbox.  SIGTERM: finish the sends in flight,\n"
            "give back the rest, exit.  SIGHUP: reload FILE (kept only if it is valid) once\n"
            "the sends in flight have finished.\n"
            "\n"
            "  -c, --config FILE    configuration (or $STEPUP_SENDER_CONFIG)\n"
            "      --daemon         detach once started (logs still go to standard error)\n"
            "      --pid-file FILE  write the process id there (removed at exit)\n"
            "      --init-config FILE  write a new configuration: every key documented, mode\n"
            "                       0600 (FILE must not exist); outbox_key from --keys-from\n"
            "                       (stepup-fcgi's file: both need the same) or fresh\n"
            "      --update-config FILE  change the keys given with --set, keep the rest\n"
            "      --set KEY=VALUE  a value for --init-config or --update-config\n"
            "      --check-config   load FILE: exit 0 when it is valid\n"
            "      --get-config KEY print a value of FILE as loaded\n"
            "      --describe-config  print every setting with its default\n"
            "  -h, --help / -V, --version\n");
}

/* Load and check path into a fresh configuration; NULL (logged) when it is not valid. */
static struct sender_config *load_config(const char *path)
{
    char err[512];
    struct sender_config *c = config_load_new(&sender_config_table, path, err, sizeof err);
    if (c == NULL)
        log_msg(LOG_ERROR, NULL, "%s", err);
    return c;
}

/* Free a configuration from load_config (NULL is fine). */
static void free_config(struct sender_config *c)
{
    config_release(&sender_config_table, c);
}

/* db_on_wait's function: the sends in flight go on while the database is awaited. */
static void drive_sends(void *providers)
{
    providers_drive(providers);
}

/*
 * A new database handle for c, listening on the outbox channel (connects
 * lazily), that drives the sends of providers (which must outlive it)
 * while it waits for the server.
 */
static struct db *open_db(const struct sender_config *c, struct providers *providers)
{
    struct db_options o;
    config_db_options(&c->common, &o);
    struct db *db = db_new(&o, outbox_statements, outbox_nstatements);
    if (db == NULL)
        return NULL;
    db_on_wait(db, drive_sends, providers, DRIVE_INTERVAL_MS);
    if (db_listen(db, CHANNEL) != STEPUP_OK)
        log_msg(LOG_WARN, NULL, "database not reachable yet: will keep trying");
    return db;
}

/*
 * SIGHUP: parse the file into a fresh configuration and open its providers;
 * swap both in only if everything worked.  Called with nothing in flight
 * (the loop stops claiming and lets the sends finish first), so the old
 * providers close with no send of theirs under way and the send slots can
 * be made again for a new sends_in_flight.  New db_* settings get a new
 * connection (which also takes any result the old one could not write).
 */
static void reload(struct sender *s, struct sender_config **config, struct providers *providers,
                   struct sealer *sealer, const char *path)
{
    struct sender_config *fresh = load_config(path);
    struct providers opened;
    struct sealer fresh_sealer;

    if (fresh == NULL) {
        log_msg(LOG_ERROR, NULL, "SIGHUP: %s is not valid; keeping the running configuration", path);
        return;
    }
    if (sealer_open(&fresh_sealer, fresh->audit_key_file, fresh->audit_seal_interval_ms) !=
        STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "SIGHUP: the audit key of %s does not load; keeping the running "
                "configuration", path);
        free_config(fresh);
        return;
    }
    if (providers_open(&opened, fresh) != STEPUP_OK) {
        sealer_close(&fresh_sealer);
        log_msg(LOG_ERROR, NULL, "SIGHUP: the providers of %s do not open; keeping the running "
                "configuration", path);
        free_config(fresh);
        return;
    }
    /* Results waiting for the database are written on the new connection. */
    struct db *db = NULL;
    struct db_options was, now;
    config_db_options(&(*config)->common, &was);
    config_db_options(&fresh->common, &now);
    if (!db_options_equal(&was, &now)) {
        db = open_db(fresh, providers);
        if (db == NULL)
            goto no_memory;
    }
    const struct sender_config *old = s->config;
    s->config = fresh;
    if (sender_init_slots(s) != STEPUP_OK) { /* nothing in flight: the old slots stay */
        s->config = old;
        db_free(db);
        goto no_memory;
    }
    if (db != NULL) {
        db_free(s->db);
        s->db = db;
    }
    providers_close(providers);
    *providers = opened;
    sealer_close(sealer);
    *sealer = fresh_sealer;
    free_config(*config);
    *config = fresh;
    s->config = fresh;
    s->providers = providers;
    log_set_threshold(fresh->common.log_level);
    log_set_target(fresh->common.log_target, fresh->common.syslog_facility); /* one thread */
    log_msg(LOG_INFO, NULL, "SIGHUP: configuration reloaded from %s (default provider %s, "
            "%d sends in flight)", path, fresh->provider, fresh->sends_in_flight);
    return;

no_memory:
    log_msg(LOG_ERROR, NULL, "SIGHUP: out of memory; keeping the running configuration");
    sealer_close(&fresh_sealer);
    providers_close(&opened);
    free_config(fresh);
}

/*
 * About once a minute, the rate limits' ended counters go
 * (outbox_prune_limits): batch after batch while batches come back full,
 * at most PRUNE_ROUNDS of them, so that the sender keeps sending.
 */
static void prune_limits(struct db *db, long long *last)
{
    long long now = stepup_now_ms();
    if (*last != 0 && now - *last < PRUNE_INTERVAL_S * 1000LL)
        return;
    *last = now;
    int pruned = PRUNE_BATCH, total = 0;
    for (int round = 0; round < PRUNE_ROUNDS && pruned == PRUNE_BATCH; round++) {
        if (outbox_prune_limits(db, PRUNE_BATCH, &pruned) != STEPUP_OK) {
            log_msg(LOG_DEBUG, NULL, "could not prune the rate limits' counters; later");
            return;
        }
        total += pruned;
    }
    if (total > 0)
        log_msg(LOG_DEBUG, NULL, "pruned %d ended rate-limit counters", total);
}

/*
 * Load the configuration (exit 1 if it is not valid, 2 on a usage error),
 * open the providers, detach if asked, then run the loop until SIGTERM or
 * SIGINT: exit 0.
 */
int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "daemon", no_argument, NULL, 'd' },
        { "pid-file", required_argument, NULL, 'p' },
        CONFIG_COMMAND_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };

    const char *pid_file = NULL;
    bool daemon_mode = false;
    int opt, status = EXIT_FAILURE, ready_fd = -1, wake_fd = -1;
    struct sender_config *config = NULL;
    struct providers providers;
    struct sender s;
    struct sealer sealer = { 0 };
    struct config_command cmd = { .op = CONFIG_OP_NONE, .config = getenv("STEPUP_SENDER_CONFIG") };
    bool providers_opened = false, curl_started = false, pid_written = false;

    memset(&s, 0, sizeof s);
    while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'd': daemon_mode = true; break;
        case 'p': pid_file = optarg; break;
        case 'h': usage(stdout); return EXIT_SUCCESS;
        case 'V': printf("stepup-sender %s\n", PACKAGE_VERSION); return EXIT_SUCCESS;
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
    int done = config_command_run(&sender_config_table, &cmd);
    if (done >= 0)
        return done;
    const char *config_path = cmd.config;
    if (config_path == NULL) {
        usage(stderr);
        return 2;
    }

    log_init("stepup-sender", LOG_INFO);
    config = load_config(config_path);
    if (config == NULL)
        return EXIT_FAILURE;
    log_init("stepup-sender", config->common.log_level);
    log_set_target(config->common.log_target, config->common.syslog_facility);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_msg(LOG_ERROR, NULL, "cannot initialise libcurl");
        goto out;
    }
    curl_started = true;
    if (providers_open(&providers, config) != STEPUP_OK)
        goto out;
    providers_opened = true;
    if (sealer_open(&sealer, config->audit_key_file, config->audit_seal_interval_ms) != STEPUP_OK)
        goto out;

    if (daemon_mode) {
        ready_fd = daemon_detach();
        if (ready_fd < 0) {
            log_msg(LOG_ERROR, NULL, "cannot detach: %s", strerror(errno));
            goto out;
        }
    }
    if (pid_file != NULL) {
        if (daemon_write_pid_file(pid_file) != STEPUP_OK)
            goto out;
        pid_written = true;
    }

    /* Handlers only set flags; the signals are let in where the loop looks. */
    sigemptyset(&handled_signals);
    sigaddset(&handled_signals, SIGTERM);
    sigaddset(&handled_signals, SIGINT);
    sigaddset(&handled_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &handled_signals, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGHUP);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Readable while one of them waits: the wait with sends in flight watches it. */
    wake_fd = signalfd(-1, &handled_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (wake_fd < 0)
        log_msg(LOG_WARN, NULL, "signalfd: %s; a signal waits for the sends under way to end, or "
                "%d ms", strerror(errno), MAX_TURN_MS);

    s.config = config;
    s.providers = &providers;
    s.wake_fd = wake_fd;
    if (sender_init_slots(&s) != STEPUP_OK)
        goto out;
    if (sender_init_owner(&s) != STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "cannot draw random bits");
        goto out;
    }
    s.db = open_db(config, &providers);
    if (s.db == NULL) {
        log_msg(LOG_ERROR, NULL, "out of memory");
        goto out;
    }
    daemon_ready(ready_fd);
    ready_fd = -1;
    log_msg(LOG_INFO, NULL, "started as %s: default provider %s, %d sends in flight, batch %d, "
            "lease %d s, poll %d ms", s.owner, config->provider, config->sends_in_flight,
            config->batch_size, config->lease_seconds, config->poll_interval_ms);

    long long pruned_at = 0; /* stepup_now_ms() of the last pruning */
    for (;;) {
        bool stopping = stop_requested();
        if (!stopping) {
            prune_limits(s.db, &pruned_at);
            sealer_tick(&sealer, s.db);
        }
        /* A reload waits until the old providers have nothing under way. */
        if (reload_flag && !stopping && sender_sending(&s) == 0) {
            reload_flag = 0;
            reload(&s, &config, &providers, &sealer, config_path);
        }
        int claimed = 0;
        int rc = sender_pump(&s, !stopping && !reload_flag, stop_requested, &claimed);
        if (stop_flag && sender_sending(&s) == 0)
            break;
        if (sender_sending(&s) > 0) {
            int max_ms = MAX_TURN_MS;
            if (sealer_due_ms(&sealer) < max_ms)
                max_ms = sealer_due_ms(&sealer);
            sender_wait(&s, max_ms); /* a signal ends it (signalfd) */
            continue;
        }
        /* Nothing in flight: sleep until a NOTIFY, the next due message or the poll. */
        int wait_ms = config->poll_interval_ms;
        if (rc == STEPUP_OK) {
            int due = sender_claim_due_ms(&s);
            if (reload_flag || stop_flag || due < 0)
                continue; /* more may be due */
            if (due < wait_ms)
                wait_ms = due;
        }
        if (sealer_due_ms(&sealer) < wait_ms)
            wait_ms = sealer_due_ms(&sealer);
        /* 1: notified, 0: timeout or signal, STEPUP_ERR: the database is away (it waited) */
        int woke = db_wait_notify(s.db, wait_ms, &wait_mask);
        if (woke == 1)
            sender_notified(&s);
        else if (woke == STEPUP_ERR)
            log_msg(LOG_DEBUG, NULL, "database unavailable; retrying");
    }

    /* Stopping: whatever is still unrecorded gets one more chance. */
    if (sender_flush(&s) != STEPUP_OK)
        log_msg(LOG_WARN, NULL, "stopping with results the database did not take; those "
                "messages are retried when their lease runs out");
    if (sealer_seal_now(&sealer, s.db) == STEPUP_ERR)
        log_msg(LOG_WARN, NULL, "audit: the last events were not sealed; the next sealer seals them");
    log_msg(LOG_INFO, NULL, "stopped");
    status = EXIT_SUCCESS;

out:
    if (ready_fd >= 0)
        close(ready_fd);
    if (wake_fd >= 0)
        close(wake_fd);
    sealer_close(&sealer);
    sender_free(&s);
    db_free(s.db);
    if (providers_opened)
        providers_close(&providers);
    if (curl_started)
        curl_global_cleanup();
    free_config(config);
    if (pid_written)
        unlink(pid_file);
    return status;
}
