/*
 * sealer.h - stepup-sender's sealer of the audit log.
 *
 * Every audit_seal_interval_ms, the events of the transactions that ended
 * since the last seal (stepup.sender_audit_pending) are hashed, listed,
 * chained to the last seal and signed with the Ed25519 key of
 * audit_key_file, and the seal is recorded (stepup.sender_audit_seal);
 * batches of up to SEALER_BATCH events, several in a row while there is a
 * backlog.  The arithmetic is src/lib/audit.h's.  Each seal is logged
 * with the start of its digest, so the log outside the database anchors
 * the chain's tip.  About once an hour the sealer also makes the log's
 * monthly partitions three months ahead.
 *
 * Sealing takes no lock a request waits on: it reads committed events and
 * writes one row of its own.  Two sealers on one database take turns (the
 * one that loses a race writes nothing and tries again later).
 */
#ifndef STEPUP_SENDER_SEALER_H
#define STEPUP_SENDER_SEALER_H

#include <stdbool.h>
#include "../lib/common.h"
#include "../lib/crypto.h"
#include "../lib/db.h"

#define SEALER_BATCH 10000

struct sealer {
    struct crypto_sign_key *key; /* NULL: not sealing */
    int interval_ms;
    long long last_seal;       /* stepup_now_ms() of the last pass; 0: none yet */
    long long last_partitions; /* likewise, of the last making of partitions */
};

/*
 * Load the key of path (empty or NULL: no sealing, STEPUP_OK).  STEPUP_ERR
 * with the reason logged when the file holds no Ed25519 private key.
 */
int sealer_open(struct sealer *s, const char *path, int interval_ms) WARN_UNUSED;
void sealer_close(struct sealer *s);

/* Seal when due.  Quiet when the database is away (the next round tries again). */
void sealer_tick(struct sealer *s, struct db *db);

/* Milliseconds until the next seal is due (INT_MAX when not sealing). */
int sealer_due_ms(const struct sealer *s);

/*
 * One sealing pass now: seal everything ended so far.  The number of
 * events sealed, or STEPUP_ERR (logged) when the database failed.
 */
int sealer_seal_now(struct sealer *s, struct db *db);

#endif
