/*
 * waker.c - waking the senders when texts are queued, once per burst.
 * See waker.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "statements.h"
#include "waker.h"

struct waker {
    pthread_mutex_t lock;
    pthread_cond_t cond;              /* a poke, or the stop */
    bool pending;                     /* a wake is owed: texts were queued since the last */
    bool stopping;
    char ref[CRYPTO_UUID_LEN + 1];    /* the request that first owed it, for the log */
    struct db *db;                    /* the thread's own; connects at the first wake */
    pthread_t thread;
};

/* The waker's only statement: prepared on its connection. */
static const struct db_statement *const waker_statements[] = { &stmt_wake_sender };

/* Send one wake (the thread, without the lock); a failure is logged, not retried. */
static void wake(struct waker *w, const char *ref)
{
    struct db_call call;
    db_call_init(&call, &stmt_wake_sender);
    db_result *res = db_run(w->db, ref, &call);
    if (res == NULL) {
        log_msg(LOG_WARN, ref, "could not wake the senders; they will find the text by polling");
        return;
    }
    db_result_free(res);
}

/* The monotonic time ms from now, as pthread_cond_timedwait takes it (the condition's clock). */
static struct timespec deadline_in(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/*
 * The thread: wait for a poke; send one wake for everything owed; then
 * let WAKER_WINDOW_MS pass (pokes meanwhile only mark a wake owed, sent
 * when it has passed) unless stopping.  At the stop, a wake still owed is
 * sent first.
 */
static void *waker_main(void *arg)
{
    struct waker *w = arg;
    char ref[CRYPTO_UUID_LEN + 1];

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->pending && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->pending)
            break; /* stopping, nothing owed */
        w->pending = false;
        memcpy(ref, w->ref, sizeof ref);
        pthread_mutex_unlock(&w->lock);
        wake(w, ref);
        pthread_mutex_lock(&w->lock);
        struct timespec until = deadline_in(WAKER_WINDOW_MS);
        while (!w->stopping && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct waker *waker_start(const struct db_options *o, void (*on_reconnect)(void *arg), void *arg)
{
    struct waker *w = calloc(1, sizeof *w);
    pthread_condattr_t attr;
    bool attr_made = false, lock_made = false, cond_made = false;

    if (w == NULL)
        goto failed;
    w->db = db_new(o, waker_statements, ARRAY_LEN(waker_statements));
    if (w->db == NULL)
        goto failed;
    if (on_reconnect != NULL)
        db_on_reconnect(w->db, on_reconnect, arg);
    lock_made = pthread_mutex_init(&w->lock, NULL) == 0;
    attr_made = lock_made && pthread_condattr_init(&attr) == 0;
    cond_made = attr_made && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                pthread_cond_init(&w->cond, &attr) == 0;
    if (attr_made)
        pthread_condattr_destroy(&attr);
    if (!cond_made || pthread_create(&w->thread, NULL, waker_main, w) != 0)
        goto failed;
    return w;

failed:
    log_msg(LOG_ERROR, NULL, "cannot start the thread that wakes the senders");
    if (w != NULL) {
        if (cond_made)
            pthread_cond_destroy(&w->cond);
        if (lock_made)
            pthread_mutex_destroy(&w->lock);
        db_free(w->db);
        free(w);
    }
    return NULL;
}

void waker_poke(struct waker *w, const char *ref)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    if (!w->pending) {
        w->pending = true;
        snprintf(w->ref, sizeof w->ref, "%s", ref != NULL ? ref : "-");
    }
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void waker_stop(struct waker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    db_free(w->db);
    free(w);
}
