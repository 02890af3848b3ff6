/*
 * sealer.c - sealing the audit log.  See sealer.h.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/audit.h"
#include "../lib/log.h"
#include "sealer.h"

#define PARTITIONS_INTERVAL_S 3600
#define PARTITIONS_AHEAD 3
#define SEALER_ROUNDS 20 /* batches in a row while a backlog lasts */

static const struct db_arg_def pending_args[] = { { "p_limit", DB_INT } };
static const struct db_statement pending_st = {
    .name = "sender_audit_pending", .function = "stepup.sender_audit_pending",
    DB_ARGS(pending_args),
};
static const struct db_arg_def seal_args[] = {
    { "p_seal_no", DB_BIGINT }, { "p_xact_from", DB_TEXT }, { "p_xact_to", DB_TEXT },
    { "p_first_at_us", DB_BIGINT }, { "p_last_at_us", DB_BIGINT }, { "p_event_count", DB_INT },
    { "p_entries", DB_BYTEA }, { "p_prev_digest", DB_BYTEA }, { "p_digest", DB_BYTEA },
    { "p_signature", DB_BYTEA }, { "p_key_id", DB_TEXT },
};
static const struct db_statement seal_st = {
    .name = "sender_audit_seal", .function = "stepup.sender_audit_seal", .result = "sealed",
    DB_ARGS(seal_args),
};
static const struct db_arg_def partitions_args[] = { { "p_months", DB_INT } };
static const struct db_statement partitions_st = {
    .name = "sender_audit_partitions", .function = "stepup.sender_audit_partitions",
    DB_ARGS(partitions_args),
};

int sealer_open(struct sealer *s, const char *path, int interval_ms)
{
    memset(s, 0, sizeof *s);
    s->interval_ms = interval_ms;
    if (path == NULL || path[0] == '\0')
        return STEPUP_OK;
    char err[512];
    s->key = crypto_sign_key_load(path, true, err, sizeof err);
    if (s->key == NULL) {
        log_msg(LOG_ERROR, NULL, "audit_key_file: %s", err);
        return STEPUP_ERR;
    }
    char id[CRYPTO_KEY_ID_LEN + 1];
    crypto_sign_key_id(s->key, id);
    log_msg(LOG_INFO, NULL, "audit: sealing with key %s every %d ms", id, interval_ms);
    return STEPUP_OK;
}

void sealer_close(struct sealer *s)
{
    crypto_sign_key_free(s->key);
    s->key = NULL;
}

int sealer_due_ms(const struct sealer *s)
{
    if (s->key == NULL)
        return INT_MAX;
    if (s->last_seal == 0)
        return 0;
    long long left = s->interval_ms - (stepup_now_ms() - s->last_seal);
    return left < 0 ? 0 : (int)left;
}

/* The xid8 of a row, or STEPUP_ERR (a bug: logged). */
static int row_u64(const db_result *r, int row, const char *column, uint64_t *out)
{
    if (audit_parse_u64(db_get(r, row, column), out) != STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "bug: audit: %s is not a number: %s", column,
                db_get(r, row, column));
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

/* entry a before b by seq */
static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const struct audit_entry *)a)->seq, y = ((const struct audit_entry *)b)->seq;
    return x < y ? -1 : x > y;
}

/*
 * One seal of up to limit events: 1 when a seal was written (or lost a
 * race), 0 when nothing was left to seal, STEPUP_ERR on failure.  *sealed
 * is the number of events; *full says the batch was full (seal again).
 */
static int seal_once(struct sealer *s, struct db *db, int limit, int *sealed, bool *full)
{
    struct db_call call;
    *sealed = 0;
    *full = false;
    db_call_init(&call, &pending_st);
    db_arg_int(&call, "p_limit", limit);
    db_result *r = db_run(db, NULL, &call);
    if (r == NULL)
        return STEPUP_ERR;
    int rows = db_rows(r), status = STEPUP_ERR;
    struct audit_entry *entries = NULL;
    unsigned char *packed = NULL;
    if (rows == 0) {
        db_result_free(r);
        return 0;
    }

    uint64_t xact_from, xact_to, last_xact;
    int64_t tip_no;
    unsigned char prev[CRYPTO_HASH_LEN] = { 0 };
    size_t prevlen = 0;
    if (row_u64(r, 0, "xact_from", &xact_from) != STEPUP_OK ||
        row_u64(r, 0, "xact_to", &xact_to) != STEPUP_OK ||
        audit_parse_i64(db_get(r, 0, "tip_seal_no"), &tip_no) != STEPUP_OK)
        goto out;
    if (!db_is_null(r, 0, "tip_digest") &&
        (db_get_bytes(r, 0, "tip_digest", prev, sizeof prev, &prevlen) != STEPUP_OK ||
         prevlen != sizeof prev)) {
        log_msg(LOG_ERROR, NULL, "audit: the last seal's digest is not 32 bytes");
        goto out;
    }

    /* A full batch: seal the transactions it holds whole, up to the last one's start. */
    int take = rows;
    if (rows >= limit) {
        if (row_u64(r, rows - 1, "xact_id", &last_xact) != STEPUP_OK)
            goto out;
        uint64_t x;
        while (take > 0 && row_u64(r, take - 1, "xact_id", &x) == STEPUP_OK && x == last_xact)
            take--;
        if (take == 0) { /* one transaction bigger than the batch: ask for more */
            db_result_free(r);
            return seal_once(s, db, limit * 2, sealed, full);
        }
        xact_to = last_xact;
        *full = true;
    }

    entries = calloc((size_t)take, sizeof *entries);
    packed = malloc((size_t)take * AUDIT_ENTRY_LEN);
    if (entries == NULL || packed == NULL) {
        log_msg(LOG_ERROR, NULL, "audit: out of memory for %d events", take);
        goto out;
    }
    int64_t first_at = INT64_MAX, last_at = INT64_MIN;
    for (int i = 0; i < take; i++) {
        if (audit_row_entry(r, i, &entries[i]) != STEPUP_OK) {
            log_msg(LOG_ERROR, NULL, "bug: audit: an event without seq or time");
            goto out;
        }
        if (entries[i].at_us < first_at)
            first_at = entries[i].at_us;
        if (entries[i].at_us > last_at)
            last_at = entries[i].at_us;
    }
    qsort(entries, (size_t)take, sizeof *entries, by_seq);
    for (int i = 0; i < take; i++)
        audit_entry_put(packed + (size_t)i * AUDIT_ENTRY_LEN, &entries[i]);

    unsigned char digest[CRYPTO_HASH_LEN], sig[CRYPTO_SIGNATURE_LEN];
    int64_t seal_no = tip_no + 1;
    audit_seal_digest(prev, seal_no, xact_from, xact_to, (uint32_t)take, packed,
                      (size_t)take * AUDIT_ENTRY_LEN, digest);
    if (crypto_sign(s->key, digest, sizeof digest, sig) != STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "audit: signing failed");
        goto out;
    }
    char id[CRYPTO_KEY_ID_LEN + 1], from_text[24], to_text[24];
    crypto_sign_key_id(s->key, id);
    snprintf(from_text, sizeof from_text, "%llu", (unsigned long long)xact_from);
    snprintf(to_text, sizeof to_text, "%llu", (unsigned long long)xact_to);

    struct db_call sc;
    db_call_init(&sc, &seal_st);
    db_arg_int(&sc, "p_seal_no", seal_no);
    db_arg_text(&sc, "p_xact_from", from_text);
    db_arg_text(&sc, "p_xact_to", to_text);
    db_arg_int(&sc, "p_first_at_us", first_at);
    db_arg_int(&sc, "p_last_at_us", last_at);
    db_arg_int(&sc, "p_event_count", take);
    db_arg_bytes(&sc, "p_entries", packed, (size_t)take * AUDIT_ENTRY_LEN);
    db_arg_bytes(&sc, "p_prev_digest", prev, sizeof prev);
    db_arg_bytes(&sc, "p_digest", digest, sizeof digest);
    db_arg_bytes(&sc, "p_signature", sig, sizeof sig);
    db_arg_text(&sc, "p_key_id", id);
    db_result *w = db_run(db, NULL, &sc);
    if (w == NULL)
        goto out;
    bool written = strcmp(db_get(w, 0, "sealed"), "t") == 0;
    db_result_free(w);
    if (written) {
        char hex[2 * CRYPTO_HASH_LEN + 1];
        crypto_hex_encode(digest, sizeof digest, hex);
        hex[16] = '\0';
        log_msg(LOG_INFO, NULL, "audit: seal %lld covers %d events (seq %lld..%lld), digest %s",
                (long long)seal_no, take, (long long)entries[0].seq,
                (long long)entries[take - 1].seq, hex);
        *sealed = take;
    } else {
        log_msg(LOG_DEBUG, NULL, "audit: another sealer extended the chain first");
        *full = false;
    }
    status = 1;

out:
    free(entries);
    free(packed);
    db_result_free(r);
    return status;
}

int sealer_seal_now(struct sealer *s, struct db *db)
{
    if (s->key == NULL)
        return 0;
    s->last_seal = stepup_now_ms();
    int total = 0;
    for (int round = 0; round < SEALER_ROUNDS; round++) {
        int sealed = 0;
        bool full = false;
        int rc = seal_once(s, db, SEALER_BATCH, &sealed, &full);
        if (rc == STEPUP_ERR)
            return total > 0 ? total : STEPUP_ERR;
        total += sealed;
        if (rc == 0 || !full)
            break;
    }
    return total;
}

static void ensure_partitions(struct sealer *s, struct db *db)
{
    if (s->last_partitions != 0 &&
        stepup_now_ms() - s->last_partitions < PARTITIONS_INTERVAL_S * 1000LL)
        return;
    struct db_call call;
    db_call_init(&call, &partitions_st);
    db_arg_int(&call, "p_months", PARTITIONS_AHEAD);
    db_result *r = db_run(db, NULL, &call);
    if (r == NULL)
        return; /* tried again at the next tick */
    s->last_partitions = stepup_now_ms();
    for (int i = 0; i < db_rows(r); i++) {
        if (strcmp(db_get(r, i, "created"), "t") == 0)
            log_msg(LOG_INFO, NULL, "audit: made the partition %s", db_get(r, i, "partition_name"));
        else if (db_is_null(r, i, "from_at") && strcmp(db_get(r, i, "estimated_rows"), "0") != 0)
            log_msg(LOG_WARN, NULL, "audit: %s events are in the default partition; "
                    "stepupctl partitions tells more", db_get(r, i, "estimated_rows"));
    }
    db_result_free(r);
}

void sealer_tick(struct sealer *s, struct db *db)
{
    if (s->key == NULL || sealer_due_ms(s) > 0)
        return;
    ensure_partitions(s, db);
    if (sealer_seal_now(s, db) == STEPUP_ERR)
        log_msg(LOG_DEBUG, NULL, "audit: could not seal now; later");
}
