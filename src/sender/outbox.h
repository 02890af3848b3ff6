/*
 * outbox.h - stepup-sender's calls to the database: the stepup.sender_*
 * functions of sql/functions/50_sender.sql, as statements prepared once
 * per connection (through src/lib/db.h, the one module that talks to
 * libpq), with every argument named once, in outbox.c.
 */
#ifndef STEPUP_SENDER_OUTBOX_H
#define STEPUP_SENDER_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include "../lib/common.h"
#include "../lib/crypto.h"
#include "../lib/db.h"

#define OUTBOX_SEALED_MAX 64
#define OUTBOX_OWNER_MAX 128

extern const struct db_statement *const outbox_statements[];
extern const size_t outbox_nstatements;

/* One claimed message. */
struct outbox_row {
    char id[CRYPTO_UUID_LEN + 1];
    char challenge_id[CRYPTO_UUID_LEN + 1];
    char *to;
    char *body_template;
    unsigned char sealed[OUTBOX_SEALED_MAX];
    size_t sealed_len;    /* 0 when the stored value was unusable */
    int attempt;          /* to quote to outbox_record_batch */
    char provider[16];    /* the programme's sms_provider; "" for the default */
    char key_id[CRYPTO_KEYNAME_MAX + 2]; /* of the outbox_key it was sealed with; "": before key ids */
};

struct outbox_batch {
    struct outbox_row *rows;
    size_t count;
};

/*
 * Claim up to limit due messages for owner under a lease of lease_seconds
 * (sender_claim).  STEPUP_OK with the batch (possibly empty), which the
 * caller frees with outbox_batch_free; STEPUP_ERR (logged) when the call
 * failed.
 */
int outbox_claim(struct db *db, const char *owner, int limit, int lease_seconds,
                 int max_attempts, struct outbox_batch *out) WARN_UNUSED;
void outbox_batch_free(struct outbox_batch *b);

/* The result of one attempt, for sender_record_batch. */
struct outbox_result {
    char id[CRYPTO_UUID_LEN + 1];
    int attempt;
    const char *status;   /* SENT, RETRY, DEAD or PERMANENT (a literal) */
    char provider[16];
    int duration_ms;
    int http_status;      /* -1: none */
    int exit_code;        /* -1: none */
    char error[256];      /* "" : none */
    char message_id[128]; /* "" : none */
    int retry_after_ms;
};

/*
 * Record n results for owner in one call and one transaction
 * (sender_record_batch, which applies sender_record's rule to each in
 * turn).  STEPUP_OK with stale[i] set for each result whose lease had
 * been lost (sender_record said STALE); STEPUP_ERR (logged) when the call
 * failed: none of them was recorded; keep them all and try again.
 */
int outbox_record_batch(struct db *db, const char *owner, const struct outbox_result *results,
                        size_t n, bool *stale) WARN_UNUSED;

/* Give back the n messages ids[] owner claimed and did not send (sender_release). */
int outbox_release(struct db *db, const char *owner, const char (*ids)[CRYPTO_UUID_LEN + 1],
                   size_t n, int *released) WARN_UNUSED;

/* Milliseconds until the next message is due, -1 when none waits (sender_next_due). */
int outbox_next_due(struct db *db, int *ms) WARN_UNUSED;

/*
 * Housekeeping of the rate limits, not of the outbox, but the sender is
 * the daemon that is always running: delete up to batch counters whose
 * window has ended (sender_prune_limits); how many into *pruned.
 */
int outbox_prune_limits(struct db *db, int batch, int *pruned) WARN_UNUSED;

#endif
