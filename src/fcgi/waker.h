/*
 * waker.h - waking the senders when texts are queued, once per burst.
 *
 * A queued text is worth a NOTIFY stepup_outbox (stepup.api_wake_sender,
 * sql/functions/45_api_wake_sender.sql): a sender asleep on LISTEN claims
 * whatever is pending at once instead of at its next poll.  One wake per
 * text would be one more transaction per issue, on the worker's
 * connection; but a sender needs only to know that there is something to
 * claim, and every wake makes it claim everything pending.  So a worker
 * only pokes the process's waker, and the waker's thread sends one wake
 * for all the pokes that came since its last, at most one every
 * WAKER_WINDOW_MS: a text waits at most that much longer for its sender,
 * and a burst of issues costs one wake a window instead of one each.
 *
 * The thread has a database connection of its own, made when the first
 * wake is sent, so the workers never wait for a wake.  A wake that fails
 * is logged and not tried again: the senders poll as well.
 */
#ifndef STEPUP_FCGI_WAKER_H
#define STEPUP_FCGI_WAKER_H

#include "../lib/db.h"

/* The shortest time between two wakes of one process. */
#define WAKER_WINDOW_MS 10

struct waker;

/*
 * Start the waker's thread, which connects with o (copied) when it first
 * wakes the senders; on_reconnect(arg), if given, is called at each of its
 * reconnects (db_on_reconnect).  NULL (logged) when it cannot start.
 */
struct waker *waker_start(const struct db_options *o, void (*on_reconnect)(void *arg), void *arg);

/*
 * A text was queued by the request ref, whose transaction has committed:
 * the senders will be woken within WAKER_WINDOW_MS (ref names the request
 * in the log if that fails).  Never waits for the database.  A NULL waker
 * does nothing.
 */
void waker_poke(struct waker *w, const char *ref);

/* Send the wake still owed, if any, stop the thread and free everything. */
void waker_stop(struct waker *w);

#endif
