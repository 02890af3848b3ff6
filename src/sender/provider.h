/*
 * provider.h - how stepup-sender hands a text to the outside world.
 *
 * A provider is a small table of functions (like a lighttpd module): open
 * makes its state from the configuration, start begins the delivery of one
 * message, watch / wait / collect move the sends under way on and report
 * each one that ended in a small closed set of results, close frees.  Many
 * sends may be under way at once (sends_in_flight, counted by the sender
 * across its providers), all in the sender's one thread:
 *
 *   http  (provider_http.c)  a gateway over HTTP(S), with libcurl's multi
 *                            interface: a transfer per message, kept-alive
 *                            connections reused; its wait is curl_multi_poll
 *   exec  (provider_exec.c)  a local program per message, run concurrently:
 *                            number as argument, text on stdin; watch gives
 *                            the children's output pipes, each child is
 *                            killed after exec_timeout_ms
 *   log   (provider_log.c)   development: logs that a text would have gone
 *                            out; it finishes in start
 *
 * The contract of a send:
 *   start    copies what it needs of the message (the text is wiped by the
 *            caller as soon as start returns) and either finishes at once
 *            (PROVIDER_FINISHED, *out says how: the log provider, or a send
 *            that could not even begin) or is under way (PROVIDER_STARTED):
 *            its outcome then comes, exactly once, from collect, with the
 *            tag given to start;
 *   watch    (NULL: nothing to watch) the descriptors its sends wait on, and
 *            how soon collect must run again whatever they do (a deadline);
 *   wait     (NULL for all but one provider: http) waits for its own sends
 *            and for the extra descriptors of the others at once (the
 *            sender passes them; their revents are set);
 *   collect  moves every send on without blocking: done() for each one that
 *            ended (sent, failed, or its timeout passed: then it was
 *            aborted), never for one still under way;
 *   close    only once nothing is under way (the sender drains first).
 * Every send ends within its timeout (http_timeout_ms, exec_timeout_ms),
 * as long as the sender calls collect (sender.c does after every wait).
 *
 * struct providers holds one open instance of each that the configuration
 * allows (http needs http_url, exec needs exec_program); a programme's
 * sms_provider, or the configuration's default, picks one per message.
 */
#ifndef STEPUP_SENDER_PROVIDER_H
#define STEPUP_SENDER_PROVIDER_H

#include <poll.h>
#include <stddef.h>
#include "../lib/common.h"
#include "sender_config.h"

enum provider_result {
    PROVIDER_SENT,      /* the gateway took it */
    PROVIDER_RETRY,     /* it failed, or its fate is unknown (timeout): try again later */
    PROVIDER_PERMANENT  /* refused for good (e.g. HTTP 400): do not try again */
};

/* What a provider says about one send. */
struct provider_outcome {
    enum provider_result result;
    int http_status;     /* -1 when there was no HTTP answer */
    int exit_code;       /* -1 when no program ran; -N when killed by signal N */
    char error[256];     /* "" on success; never the text or the code */
    char message_id[128]; /* the gateway's id of the message, "" when none */
};

/* One message as a provider sees it. */
struct provider_message {
    const char *id;   /* the outbox id (UUID): {message_id} */
    const char *to;   /* E.164 number */
    const char *text; /* the text, code included (secret) */
    const char *code; /* the code alone, so that error texts can be scrubbed of it */
};

/* What start did: the closed set of its results. */
enum provider_start {
    PROVIDER_STARTED,  /* under way: collect reports its outcome later */
    PROVIDER_FINISHED  /* over already: *out is its outcome */
};

/* collect's report of one send that ended: tag is start's, out its outcome. */
typedef void provider_done_fn(void *arg, void *tag, const struct provider_outcome *out);

struct provider_ops {
    const char *name;
    /* Make the provider's state from c (which outlives it); STEPUP_ERR logged. */
    int (*open)(const struct sender_config *c, void **state);
    /* Begin sending m (see the top of the file); out starts as provider_outcome_init's. */
    enum provider_start (*start)(void *state, const struct provider_message *m, void *tag,
                                 struct provider_outcome *out);
    /*
     * Add the descriptors its sends wait on to fds (at most max; returns how
     * many) and lower *timeout_ms to the longest collect may wait.  NULL:
     * none.
     */
    size_t (*watch)(void *state, struct pollfd *fds, size_t max, int *timeout_ms);
    /*
     * Wait at most timeout_ms for its sends or for one of the n extra
     * descriptors (whose revents it sets).  NULL: the sender polls.
     */
    void (*wait)(void *state, struct pollfd *extra, size_t n, int timeout_ms);
    /* Move the sends on; done(arg, tag, outcome) for each that ended. */
    void (*collect)(void *state, provider_done_fn *done, void *arg);
    /*
     * Move the sends on without reporting any (collect reports them later):
     * for a sender busy elsewhere, so that what its sends receive is read
     * in time and their timeouts measure the gateway, not the sender.  NULL:
     * its sends need no driving.
     */
    void (*drive)(void *state);
    /* How many sends are under way. */
    size_t (*under_way)(const void *state);
    void (*close)(void *state);
};

extern const struct provider_ops provider_http_ops;
extern const struct provider_ops provider_exec_ops;
extern const struct provider_ops provider_log_ops;

struct provider {
    const struct provider_ops *ops;
    void *state;
};

/* At most this many extra descriptors for providers_wait. */
#define PROVIDERS_EXTRA_FDS 4

struct providers {
    struct provider http, exec, log; /* ops NULL: not configured */
    const char *default_name;
    struct pollfd *fds; /* providers_wait's: the extra ones, then the providers' */
    size_t cap_fds;
};

/* Open every provider c configures.  STEPUP_ERR (logged) when one fails to open. */
int providers_open(struct providers *ps, const struct sender_config *c) WARN_UNUSED;
void providers_close(struct providers *ps);

/*
 * The provider for a programme's sms_provider (NULL or "": the default),
 * or NULL when that provider is not configured.
 */
struct provider *providers_pick(struct providers *ps, const char *name);

/*
 * Wait at most timeout_ms for the sends under way of every open provider
 * and for the n extra descriptors (their revents set), then collect: done()
 * for every send that ended.  The waiting is the http provider's
 * (curl_multi_poll, watching the others' descriptors too) when it is open,
 * poll(2) otherwise.
 */
void providers_wait(struct providers *ps, struct pollfd *extra, size_t n, int timeout_ms,
                    provider_done_fn *done, void *arg);

/* Sends under way across the open providers. */
size_t providers_under_way(const struct providers *ps);

/*
 * Move every open provider's sends on without reporting any (their drive):
 * the sender calls it while it waits for the database (db_on_wait), so a
 * slow database does not turn answered sends into timeouts.
 */
void providers_drive(struct providers *ps);

/* Reset an outcome to "nothing happened yet". */
void provider_outcome_init(struct provider_outcome *out);

#endif
