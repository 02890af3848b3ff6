/*
 * sender.h - delivering claimed messages, many at once: claim as many as
 * there are free send slots, open each code, fill it into the text, hand
 * the text to a provider, and, as the sends end, decide what becomes of
 * each message and record the results in batches.  main.c owns the loop,
 * the signals and the configuration; this module owns the sends in flight.
 *
 * A sender has sends_in_flight slots.  A message holds one from its claim
 * until its result is recorded, so a sender never holds more claims than
 * that: the most messages a SIGKILL can leave sent but unrecorded (and so
 * sent twice).  Results are recorded in one call once batch_size of them
 * wait, the oldest has waited SENDER_RECORD_DELAY_MS, no send is left in
 * flight, or a claim follows (every result is recorded before the next
 * claim).  A claim takes at most batch_size messages: when that many slots
 * are free, or when recording frees some (so claims stay batched while a
 * slot never idles much longer than SENDER_RECORD_DELAY_MS).
 *
 * Leases are never renewed: a message is handed to its provider only while
 * its claim is younger than sender_config_start_window_ms (lease less that
 * send's timeout less SENDER_LEASE_MARGIN_MS), and given back unsent
 * otherwise (sender_config.c insists that a lease can hold at least one
 * send).  So a message another sender may reclaim is never being sent here.
 *
 * Results the database did not take (it went away) are kept and written by
 * sender_flush before anything new is claimed, together with releases that
 * failed the same way.  While sends are in flight the database is used
 * only over a live connection: reconnecting (which may block) waits until
 * they have ended, so that the loop keeps ending each at its timeout.
 */
#ifndef STEPUP_SENDER_SENDER_H
#define STEPUP_SENDER_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include "../lib/common.h"
#include "../lib/db.h"
#include "sender_config.h"
#include "outbox.h"
#include "provider.h"

/* The longest a result waits for others to be recorded with (ms). */
#define SENDER_RECORD_DELAY_MS 10
/* While sends are in flight and the outbox had no more, how often NOTIFYs are looked for (ms). */
#define SENDER_NOTIFY_CHECK_MS 50
/* Do not claim again sooner than this after a claim came back short (ms). */
#define SENDER_MIN_CLAIM_WAIT_MS 20

/* One message claimed and handed to a provider, until it ends. */
struct sender_slot {
    bool busy;
    struct outbox_row row;  /* owns its strings */
    char provider[16];      /* the provider's name, as recorded */
    long long started;      /* stepup_now_ms() when it was handed over */
};

struct sender {
    const struct sender_config *config; /* swapped by main.c on SIGHUP (nothing in flight) */
    struct providers *providers;        /* opened from config */
    struct db *db;
    char owner[OUTBOX_OWNER_MAX];       /* host:pid:random, lease_owner of our claims */
    int wake_fd;                        /* main.c's: readable when a signal waits (-1: none) */

    /* the sends in flight: config->sends_in_flight slots */
    struct sender_slot *slots;
    size_t n_slots, n_sending;
    /* the results not recorded yet (ended sends, and those the database did not take) */
    struct outbox_result *results;
    size_t n_results, cap_results;
    long long oldest_result_at;         /* stepup_now_ms() when the oldest of them came */
    bool record_failed;                 /* the last try to record them failed */
    /* releases the database did not take */
    char (*unreleased)[CRYPTO_UUID_LEN + 1];
    size_t n_unreleased, cap_unreleased;
    /* no claim before this stepup_now_ms(): the outbox had no more due (0: claim) */
    long long next_claim_at;
};

/* Fill s->owner with "host:pid:8 hex digits". */
int sender_init_owner(struct sender *s) WARN_UNUSED;

/*
 * Make the send slots for s->config (again after a reload, which happens
 * with nothing in flight).  STEPUP_ERR (logged) when out of memory.
 */
int sender_init_slots(struct sender *s) WARN_UNUSED;

/*
 * One turn of the pipeline, without waiting: record the results that are
 * due (all of them when a claim follows), then, when may_claim and
 * batch_size slots are free and the outbox may hold due messages, claim
 * as many as are free (at most batch_size) and hand each to its provider.
 * stop_requested is called before each hand-over; when it says true, the
 * rest of the claim is released.  *claimed: the rows claimed.  STEPUP_ERR
 * when the database did not answer (results kept, nothing claimed).
 */
int sender_pump(struct sender *s, bool may_claim, bool (*stop_requested)(void),
                int *claimed) WARN_UNUSED;

/*
 * Wait for the sends in flight (at most until the pipeline has something
 * to do, and never longer than max_ms) or for s->wake_fd, then collect the
 * sends that ended into results.  Looks for NOTIFYs when the outbox had no
 * more due.
 */
void sender_wait(struct sender *s, int max_ms);

/* Sends handed to a provider and not ended yet. */
size_t sender_sending(const struct sender *s);

/*
 * The time (ms, >= 0) until sender_pump would claim again, for the idle
 * wait; -1 when it may claim now.
 */
int sender_claim_due_ms(const struct sender *s);

/* Write what the database did not take earlier.  STEPUP_OK when nothing is left. */
int sender_flush(struct sender *s) WARN_UNUSED;

/* True when results or releases still wait for the database. */
bool sender_has_unflushed(const struct sender *s);

/* A NOTIFY came: the outbox may hold due messages again. */
void sender_notified(struct sender *s);

void sender_free(struct sender *s);

#endif
