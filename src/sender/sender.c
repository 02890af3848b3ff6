/*
 * sender.c - delivering a batch.  See sender.h.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "retry.h"
#include "sender.h"
#include "text.h"

int sender_init_owner(struct sender *s)
{
    char host[64];
    uint32_t rnd;

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    if (retry_random(&rnd) != STEPUP_OK)
        return STEPUP_ERR;
    snprintf(s->owner, sizeof s->owner, "%s:%ld:%08x", host, (long)getpid(), (unsigned)rnd);
    return STEPUP_OK;
}

/* The 16 bytes of a UUID in text form (the start of the AAD of the sealed code). */
static int uuid_bytes(const char *text, unsigned char out[16])
{
    char hex[33];
    size_t n = 0;
    for (const char *p = text; *p != '\0' && n < 32; p++) {
        if (*p != '-')
            hex[n++] = *p;
    }
    hex[n] = '\0';
    if (n != 32)
        return STEPUP_ERR;
    return crypto_hex_decode(hex, out, 16);
}

/* Keep a result for sender_flush (copied).  On a lack of memory it is dropped, logged. */
static void keep_unrecorded(struct sender *s, const struct outbox_result *r)
{
    if (s->n_unrecorded == s->cap_unrecorded) {
        size_t cap = s->cap_unrecorded != 0 ? 2 * s->cap_unrecorded : 16;
        struct outbox_result *a = realloc(s->unrecorded, cap * sizeof *a);
        if (a == NULL) {
            log_msg(LOG_ERROR, NULL, "out of memory: the result of message %s is lost "
                    "(it will be tried again when its lease runs out)", r->id);
            return;
        }
        s->unrecorded = a;
        s->cap_unrecorded = cap;
    }
    s->unrecorded[s->n_unrecorded++] = *r;
}

/* Keep ids to release for sender_flush. */
static void keep_unreleased(struct sender *s, const char (*ids)[CRYPTO_UUID_LEN + 1], size_t n)
{
    if (n == 0)
        return;
    if (s->n_unreleased + n > s->cap_unreleased) {
        size_t cap = s->cap_unreleased != 0 ? s->cap_unreleased : 16;
        while (cap < s->n_unreleased + n)
            cap *= 2;
        char (*a)[CRYPTO_UUID_LEN + 1] = realloc(s->unreleased, cap * sizeof *a);
        if (a == NULL) {
            log_msg(LOG_ERROR, NULL, "out of memory: %zu claimed messages wait for their lease "
                    "to run out", n);
            return;
        }
        s->unreleased = a;
        s->cap_unreleased = cap;
    }
    memcpy(s->unreleased + s->n_unreleased, ids, n * sizeof *ids);
    s->n_unreleased += n;
}

/* Record r now, or keep it for later. */
static void record(struct sender *s, const struct outbox_result *r)
{
    bool stale = false;
    if (outbox_record(s->db, s->owner, r, &stale) != STEPUP_OK) {
        keep_unrecorded(s, r);
        return;
    }
    if (stale)
        log_msg(LOG_WARN, NULL, "message %s: the lease of attempt %d was lost before its result "
                "was recorded; the message was left to the sender that took it over", r->id,
                r->attempt);
}

/* Release the given claimed rows now, or keep them for later. */
static void release(struct sender *s, const char (*ids)[CRYPTO_UUID_LEN + 1], size_t n)
{
    int released = 0;
    if (n == 0)
        return;
    if (outbox_release(s->db, s->owner, ids, n, &released) != STEPUP_OK) {
        keep_unreleased(s, ids, n);
        return;
    }
    log_msg(LOG_INFO, NULL, "released %d unsent message%s", released, released == 1 ? "" : "s");
}

bool sender_has_unflushed(const struct sender *s)
{
    return s->n_unrecorded > 0 || s->n_unreleased > 0;
}

int sender_flush(struct sender *s)
{
    size_t done = 0;
    while (done < s->n_unrecorded) {
        bool stale = false;
        if (outbox_record(s->db, s->owner, &s->unrecorded[done], &stale) != STEPUP_OK)
            break;
        if (stale)
            log_msg(LOG_WARN, NULL, "message %s: recorded late, after its lease was lost",
                    s->unrecorded[done].id);
        done++;
    }
    if (done > 0) { /* memmove with a NULL array is undefined even for 0 bytes */
        memmove(s->unrecorded, s->unrecorded + done,
                (s->n_unrecorded - done) * sizeof *s->unrecorded);
        s->n_unrecorded -= done;
    }
    if (s->n_unrecorded > 0)
        return STEPUP_ERR;

    if (s->n_unreleased > 0) {
        int released = 0;
        if (outbox_release(s->db, s->owner, s->unreleased, s->n_unreleased, &released) != STEPUP_OK)
            return STEPUP_ERR;
        log_msg(LOG_INFO, NULL, "released %d unsent message%s", released, released == 1 ? "" : "s");
        s->n_unreleased = 0;
    }
    return STEPUP_OK;
}

/*
 * Open the sealed code of row into code (CRYPTO_OTP_DIGITS, NUL-terminated)
 * with the key of the row's key id: a key derived from it for sealing, and
 * the AAD the challenge id's 16 bytes followed by the destination number,
 * so that a row edited to another number does not open.  A row sealed
 * before key ids (no id) opens with the key written without an id, as it
 * is, and the challenge id alone.  STEPUP_ERR with the reason in err
 * (never a key or the code).
 */
static int open_code(const struct crypto_keyring *ring, const struct outbox_row *row,
                     unsigned char code[CRYPTO_OTP_DIGITS + 1], char *err, size_t errlen)
{
    const struct crypto_key *k = crypto_keyring_find(ring, row->key_id);
    unsigned char aad[16 + 64];
    const unsigned char *key;
    size_t aadlen = 16, tolen = strlen(row->to), code_len = 0;
    int rc = STEPUP_ERR;

    if (k == NULL) {
        snprintf(err, errlen, "the code was sealed under outbox_key id %s, which this sender's "
                 "outbox_key does not list", row->key_id[0] != '\0' ? row->key_id : "(none: "
                 "a key written without an id)");
        return STEPUP_ERR;
    }
    if (row->key_id[0] != '\0') {
        if (tolen > sizeof aad - 16)
            goto failed;
        key = crypto_key_for(k, CRYPTO_PURPOSE_OUTBOX_SEAL);
        memcpy(aad + 16, row->to, tolen);
        aadlen += tolen;
    } else {
        key = k->raw;
    }
    if (row->sealed_len > CRYPTO_SEAL_OVERHEAD &&
        row->sealed_len - CRYPTO_SEAL_OVERHEAD == CRYPTO_OTP_DIGITS &&
        uuid_bytes(row->challenge_id, aad) == STEPUP_OK &&
        crypto_open(key, aad, aadlen, row->sealed, row->sealed_len, code, &code_len) ==
            STEPUP_OK &&
        code_len == CRYPTO_OTP_DIGITS) {
        code[CRYPTO_OTP_DIGITS] = '\0';
        rc = STEPUP_OK;
    }
failed:
    if (rc != STEPUP_OK)
        snprintf(err, errlen, "cannot open the sealed code under outbox_key id %s (the row was "
                 "changed, or the key of that id differs from stepup-fcgi's)",
                 row->key_id[0] != '\0' ? row->key_id : k->id);
    return rc;
}

/*
 * Deliver one claimed row: open its code, fill in the text, send it with
 * its provider, and set r to what is to be recorded.
 */
static void deliver(struct sender *s, const struct outbox_row *row, struct outbox_result *r)
{
    const struct sender_config *c = s->config;
    struct provider_outcome out;
    unsigned char code[CRYPTO_OTP_DIGITS + 1];
    char *text = NULL;
    char masked[32];
    struct provider *prov = providers_pick(s->providers, row->provider);
    const char *prov_name = row->provider[0] != '\0' ? row->provider : c->provider;
    long long started = stepup_now_ms();

    provider_outcome_init(&out);
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", row->id);
    r->attempt = row->attempt;
    snprintf(r->provider, sizeof r->provider, "%s", prov_name);
    text_mask_number(row->to, masked, sizeof masked);

    if (prov == NULL) {
        snprintf(out.error, sizeof out.error, "provider %s is not configured in this sender",
                 prov_name);
        goto decide;
    }
    if (open_code(&c->common.outbox_key, row, code, out.error, sizeof out.error) != STEPUP_OK)
        goto decide;
    code[CRYPTO_OTP_DIGITS] = '\0';
    text = text_message(row->body_template, (const char *)code);
    if (text == NULL) {
        snprintf(out.error, sizeof out.error, "out of memory");
        goto decide;
    }

    struct provider_message m = { .id = row->id, .to = row->to, .text = text,
                                  .code = (const char *)code };
    prov->ops->send(prov->state, &m, &out);

decide:
    text_free_secret(text);
    crypto_wipe(code, sizeof code);
    r->duration_ms = (int)(stepup_now_ms() - started);
    r->http_status = out.http_status;
    r->exit_code = out.exit_code;
    snprintf(r->error, sizeof r->error, "%s", out.error);
    snprintf(r->message_id, sizeof r->message_id, "%s", out.message_id);

    enum attempt_status st = retry_decide(out.result, row->attempt, c->max_attempts);
    r->status = attempt_status_name(st);
    if (st == ATTEMPT_RETRY) {
        uint32_t rnd = 0;
        if (retry_random(&rnd) != STEPUP_OK)
            rnd = 0;
        r->retry_after_ms = retry_backoff_ms(row->attempt, c->backoff_base_ms, c->backoff_max_ms,
                                             rnd);
    }

    if (st == ATTEMPT_SENT)
        log_msg(LOG_INFO, NULL, "message %s to %s: attempt %d via %s: SENT in %d ms%s%s", r->id,
                masked, r->attempt, r->provider, r->duration_ms,
                r->message_id[0] != '\0' ? ", gateway id " : "", r->message_id);
    else if (st == ATTEMPT_RETRY)
        log_msg(LOG_WARN, NULL, "message %s to %s: attempt %d via %s failed: %s; retry in %d ms",
                r->id, masked, r->attempt, r->provider, r->error, r->retry_after_ms);
    else
        log_msg(LOG_ERROR, NULL, "message %s to %s: attempt %d via %s failed: %s; %s", r->id,
                masked, r->attempt, r->provider, r->error,
                st == ATTEMPT_DEAD ? "no attempts left: DEAD" : "permanent failure: DEAD");
}

int sender_run_batch(struct sender *s, bool (*stop_requested)(void), int *claimed)
{
    const struct sender_config *c = s->config;
    struct outbox_batch batch;
    long long claimed_at = stepup_now_ms();
    long long budget_ms = (long long)c->lease_seconds * 1000 - sender_config_send_timeout_ms(c) -
                          SENDER_LEASE_MARGIN_MS;

    *claimed = 0;
    if (outbox_claim(s->db, s->owner, c->batch_size, c->lease_seconds, c->max_attempts,
                     &batch) != STEPUP_OK)
        return STEPUP_ERR;
    *claimed = (int)batch.count;
    if (batch.count > 0)
        log_msg(LOG_DEBUG, NULL, "claimed %zu message%s", batch.count, batch.count == 1 ? "" : "s");

    size_t i;
    for (i = 0; i < batch.count; i++) {
        if (stop_requested())
            break;
        if (stepup_now_ms() - claimed_at > budget_ms) {
            log_msg(LOG_INFO, NULL, "the lease would run out before the next send could time out: "
                    "giving back the rest of the batch");
            break;
        }
        struct outbox_result r;
        deliver(s, &batch.rows[i], &r);
        record(s, &r);
    }
    if (i < batch.count) {
        size_t n = batch.count - i;
        char (*ids)[CRYPTO_UUID_LEN + 1] = calloc(n, sizeof *ids);
        if (ids != NULL) {
            for (size_t j = 0; j < n; j++)
                memcpy(ids[j], batch.rows[i + j].id, sizeof ids[j]);
            release(s, (const char (*)[CRYPTO_UUID_LEN + 1])ids, n);
            free(ids);
        } else {
            log_msg(LOG_ERROR, NULL, "out of memory: %zu claimed messages wait for their lease "
                    "to run out", n);
        }
    }
    outbox_batch_free(&batch);
    return STEPUP_OK;
}

void sender_free(struct sender *s)
{
    free(s->unrecorded);
    free(s->unreleased);
    s->unrecorded = NULL;
    s->unreleased = NULL;
    s->n_unrecorded = s->cap_unrecorded = 0;
    s->n_unreleased = s->cap_unreleased = 0;
}
