/*
 * sender.h - delivering claimed messages: open the code, fill it into the
 * text, hand the text to a provider, decide what becomes of the message,
 * record it.  main.c owns the loop, the signals and the configuration;
 * this module owns one batch at a time.
 *
 * Leases are never renewed: before each send the sender checks that its
 * lease outlives the send's timeout by SENDER_LEASE_MARGIN_MS, and gives
 * back the rest of the batch otherwise (sender_config.c insists that a lease can
 * hold at least one send).  So a message another sender may reclaim is
 * never being sent here.
 *
 * Results the database did not take (it went away) are kept and written
 * by sender_flush before anything new is claimed, together with releases
 * that failed the same way.
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

struct sender {
    const struct sender_config *config; /* swapped by main.c on SIGHUP */
    struct providers *providers;        /* opened from config */
    struct db *db;
    char owner[OUTBOX_OWNER_MAX];       /* host:pid:random, lease_owner of our claims */

    /* waiting for the database */
    struct outbox_result *unrecorded;
    size_t n_unrecorded, cap_unrecorded;
    char (*unreleased)[CRYPTO_UUID_LEN + 1];
    size_t n_unreleased, cap_unreleased;
};

/* Fill s->owner with "host:pid:8 hex digits". */
int sender_init_owner(struct sender *s) WARN_UNUSED;

/*
 * Claim one batch and deliver it.  stop_requested is called before each
 * send; when it says true, the unsent rest of the batch is released and
 * the function returns.  *claimed is the number of rows claimed.
 * STEPUP_ERR when the claim failed (the database is away).
 */
int sender_run_batch(struct sender *s, bool (*stop_requested)(void), int *claimed) WARN_UNUSED;

/* Write what the database did not take earlier.  STEPUP_OK when nothing is left. */
int sender_flush(struct sender *s) WARN_UNUSED;

/* True when results or releases still wait for the database. */
bool sender_has_unflushed(const struct sender *s);

void sender_free(struct sender *s);

#endif
