/*
 * sender.c - the sends in flight: claiming, starting, ending, recording.  See
 * sender.h.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
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

/* Room for one more result (grown; on a lack of memory false, logged). */
static bool results_room(struct sender *s)
{
    if (s->n_results < s->cap_results)
        return true;
    size_t cap = s->cap_results != 0 ? 2 * s->cap_results : 64;
    struct outbox_result *a = realloc(s->results, cap * sizeof *a);
    if (a == NULL)
        return false;
    s->results = a;
    s->cap_results = cap;
    return true;
}

/* Keep a result until it is recorded.  On a lack of memory it is dropped, logged. */
static void keep_result(struct sender *s, const struct outbox_result *r)
{
    if (!results_room(s)) {
        log_msg(LOG_ERROR, NULL, "out of memory: the result of message %s is lost "
                "(it will be tried again when its lease runs out)", r->id);
        return;
    }
    if (s->n_results == 0)
        s->oldest_result_at = stepup_now_ms();
    s->results[s->n_results++] = *r;
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

/* The most results one call records. */
#define RECORD_BATCH_MAX 256

/*
 * Record the results that wait, in calls of at most RECORD_BATCH_MAX.
 * STEPUP_OK when none is left; STEPUP_ERR when the database did not take
 * them (they stay, for the next try).
 */
static int record_results(struct sender *s)
{
    bool stale[RECORD_BATCH_MAX];
    size_t done = 0;
    int rc = STEPUP_OK;

    while (done < s->n_results) {
        size_t n = s->n_results - done;
        if (n > RECORD_BATCH_MAX)
            n = RECORD_BATCH_MAX;
        if (outbox_record_batch(s->db, s->owner, s->results + done, n, stale) != STEPUP_OK) {
            rc = STEPUP_ERR;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (stale[i])
                log_msg(LOG_WARN, NULL, "message %s: the lease of attempt %d was lost before its "
                        "result was recorded; the message was left to the sender that took it "
                        "over", s->results[done + i].id, s->results[done + i].attempt);
        }
        done += n;
    }
    if (done > 0) { /* memmove with a NULL array is undefined even for 0 bytes */
        memmove(s->results, s->results + done, (s->n_results - done) * sizeof *s->results);
        s->n_results -= done;
        s->oldest_result_at = stepup_now_ms();
    }
    s->record_failed = rc != STEPUP_OK;
    return rc;
}

bool sender_has_unflushed(const struct sender *s)
{
    return s->n_results > 0 || s->n_unreleased > 0;
}

int sender_flush(struct sender *s)
{
    if (record_results(s) != STEPUP_OK)
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

/* Free a slot's row and mark it free. */
static void free_slot(struct sender *s, struct sender_slot *slot)
{
    free(slot->row.to);
    free(slot->row.body_template);
    crypto_wipe(&slot->row, sizeof slot->row);
    slot->busy = false;
    s->n_sending--;
}

/*
 * A send ended (provider_done_fn; tag is its slot): decide what becomes of
 * the message, log it, keep the result for recording, free the slot.
 */
static void send_ended(void *arg, void *tag, const struct provider_outcome *out)
{
    struct sender *s = arg;
    struct sender_slot *slot = tag;
    const struct sender_config *c = s->config;
    const struct outbox_row *row = &slot->row;
    struct outbox_result r;
    char masked[32];

    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", row->id);
    r.attempt = row->attempt;
    snprintf(r.provider, sizeof r.provider, "%s", slot->provider);
    r.duration_ms = (int)(stepup_now_ms() - slot->started);
    r.http_status = out->http_status;
    r.exit_code = out->exit_code;
    snprintf(r.error, sizeof r.error, "%s", out->error);
    snprintf(r.message_id, sizeof r.message_id, "%s", out->message_id);
    text_mask_number(row->to, masked, sizeof masked);

    enum attempt_status st = retry_decide(out->result, row->attempt, c->max_attempts);
    r.status = attempt_status_name(st);
    if (st == ATTEMPT_RETRY) {
        uint32_t rnd = 0;
        if (retry_random(&rnd) != STEPUP_OK)
            rnd = 0;
        r.retry_after_ms = retry_backoff_ms(row->attempt, c->backoff_base_ms, c->backoff_max_ms,
                                            rnd);
    }

    if (st == ATTEMPT_SENT)
        log_msg(LOG_INFO, NULL, "message %s to %s: attempt %d via %s: SENT in %d ms%s%s", r.id,
                masked, r.attempt, r.provider, r.duration_ms,
                r.message_id[0] != '\0' ? ", gateway id " : "", r.message_id);
    else if (st == ATTEMPT_RETRY)
        log_msg(LOG_WARN, NULL, "message %s to %s: attempt %d via %s failed: %s; retry in %d ms",
                r.id, masked, r.attempt, r.provider, r.error, r.retry_after_ms);
    else
        log_msg(LOG_ERROR, NULL, "message %s to %s: attempt %d via %s failed: %s; %s", r.id,
                masked, r.attempt, r.provider, r.error,
                st == ATTEMPT_DEAD ? "no attempts left: DEAD" : "permanent failure: DEAD");
    keep_result(s, &r);
    free_slot(s, slot);
}

/*
 * Hand one claimed row, moved into a free slot, to its provider: open its
 * code, fill in the text, start the send, wipe both.  A send that could not
 * start, or ended at once, is decided here.
 */
static void start_send(struct sender *s, struct sender_slot *slot)
{
    const struct sender_config *c = s->config;
    const struct outbox_row *row = &slot->row;
    struct provider_outcome out;
    unsigned char code[CRYPTO_OTP_DIGITS + 1];
    char *text = NULL;
    struct provider *prov = providers_pick(s->providers, row->provider);
    enum provider_start started = PROVIDER_FINISHED;

    provider_outcome_init(&out);
    slot->busy = true;
    s->n_sending++;
    slot->started = stepup_now_ms();
    snprintf(slot->provider, sizeof slot->provider, "%s",
             row->provider[0] != '\0' ? row->provider : c->provider);

    if (prov == NULL) {
        snprintf(out.error, sizeof out.error, "provider %s is not configured in this sender",
                 slot->provider);
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
    started = prov->ops->start(prov->state, &m, slot, &out);

decide:
    text_free_secret(text);
    crypto_wipe(code, sizeof code);
    if (started == PROVIDER_FINISHED)
        send_ended(s, slot, &out);
}

/* A free slot (there is one: claims never take more than are free). */
static struct sender_slot *free_slot_of(struct sender *s)
{
    for (size_t i = 0; i < s->n_slots; i++) {
        if (!s->slots[i].busy)
            return &s->slots[i];
    }
    return NULL;
}

/* Slots neither sending nor holding a result that waits to be recorded. */
static size_t free_slots(const struct sender *s)
{
    size_t used = s->n_sending + s->n_results;
    return used < s->n_slots ? s->n_slots - used : 0;
}

/*
 * Claim up to limit rows and hand each to its provider while its lease
 * allows and no stop is asked for; give back the rest.
 */
static int claim_and_start(struct sender *s, size_t limit, bool (*stop_requested)(void),
                           int *claimed)
{
    const struct sender_config *c = s->config;
    struct outbox_batch batch;
    long long claimed_at = stepup_now_ms(); /* the lease began no sooner */

    if (outbox_claim(s->db, s->owner, (int)limit, c->lease_seconds, c->max_attempts, &batch) !=
        STEPUP_OK)
        return STEPUP_ERR;
    *claimed = (int)batch.count;
    if (batch.count < limit) {
        /* the outbox has no more due now: look again when the next one is due */
        int due = -1, wait_ms = c->poll_interval_ms;
        if (outbox_next_due(s->db, &due) == STEPUP_OK && due >= 0 && due < wait_ms)
            wait_ms = due;
        if (wait_ms < SENDER_MIN_CLAIM_WAIT_MS)
            wait_ms = SENDER_MIN_CLAIM_WAIT_MS;
        s->next_claim_at = stepup_now_ms() + wait_ms;
    }
    if (batch.count > 0)
        log_msg(LOG_DEBUG, NULL, "claimed %zu message%s", batch.count, batch.count == 1 ? "" : "s");

    size_t i;
    bool out_of_time = false;
    for (i = 0; i < batch.count; i++) {
        struct outbox_row *row = &batch.rows[i];
        const char *prov = row->provider[0] != '\0' ? row->provider : c->provider;
        if (stop_requested())
            break;
        if (stepup_now_ms() - claimed_at > sender_config_start_window_ms(c, prov)) {
            out_of_time = true;
            break;
        }
        struct sender_slot *slot = free_slot_of(s);
        if (slot == NULL) { /* not expected: give the rest back */
            log_msg(LOG_ERROR, NULL, "bug: no free send slot");
            break;
        }
        slot->row = *row; /* the slot owns its strings now */
        row->to = NULL;
        row->body_template = NULL;
        start_send(s, slot);
    }
    if (out_of_time)
        log_msg(LOG_INFO, NULL, "the lease would run out before the next send could time out: "
                "giving back the rest of the claim");
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

int sender_pump(struct sender *s, bool may_claim, bool (*stop_requested)(void), int *claimed)
{
    const struct sender_config *c = s->config;
    long long now = stepup_now_ms();
    size_t batch = (size_t)c->batch_size;
    /* what a claim would find free once the results are recorded */
    size_t room = s->n_slots > s->n_sending ? s->n_slots - s->n_sending : 0;
    bool record = s->n_results > 0 &&
                  (s->record_failed || s->n_sending == 0 || s->n_results >= batch ||
                   now - s->oldest_result_at >= SENDER_RECORD_DELAY_MS);
    /* a whole batch, or whatever the results about to be recorded free */
    bool claim = may_claim && now >= s->next_claim_at && (room >= batch || (record && room > 0));

    *claimed = 0;
    /*
     * While sends are in flight, only over a live connection: a reconnect
     * can block for as long as connect_timeout says, and the loop must
     * keep ending sends at their timeouts.  It waits until they have ended.
     */
    if (s->n_sending > 0 && !db_connected(s->db))
        return STEPUP_OK;
    if ((record || claim) && s->n_results > 0 && record_results(s) != STEPUP_OK)
        return STEPUP_ERR;
    if (!claim)
        return STEPUP_OK;
    if (sender_flush(s) != STEPUP_OK) /* releases that failed earlier */
        return STEPUP_ERR;
    size_t limit = free_slots(s);
    if (limit > batch)
        limit = batch;
    if (limit == 0)
        return STEPUP_OK;
    return claim_and_start(s, limit, stop_requested, claimed);
}

void sender_wait(struct sender *s, int max_ms)
{
    long long now = stepup_now_ms();
    int wait_ms = max_ms;
    bool drained = s->next_claim_at > now;

    /* after a failure, or with the database away: the next turn, no sooner */
    if (s->n_results > 0 && !s->record_failed && db_connected(s->db)) {
        long long left = s->oldest_result_at + SENDER_RECORD_DELAY_MS - now;
        if (left < wait_ms)
            wait_ms = left > 0 ? (int)left : 0;
    }
    if (drained) {
        long long left = s->next_claim_at - now;
        if (left < wait_ms)
            wait_ms = (int)left;
        if (wait_ms > SENDER_NOTIFY_CHECK_MS)
            wait_ms = SENDER_NOTIFY_CHECK_MS;
    }
    struct pollfd wake = { .fd = s->wake_fd, .events = POLLIN };
    providers_wait(s->providers, &wake, s->wake_fd >= 0 ? 1 : 0, wait_ms, send_ended, s);
    /* a NOTIFY (it does not wake this wait: the next one is at most SENDER_NOTIFY_CHECK_MS away) */
    if (drained && db_connected(s->db) && db_wait_notify(s->db, 0, NULL) == 1)
        sender_notified(s);
}

size_t sender_sending(const struct sender *s)
{
    return s->n_sending;
}

int sender_claim_due_ms(const struct sender *s)
{
    long long left = s->next_claim_at - stepup_now_ms();
    if (left <= 0)
        return -1;
    return left > INT_MAX ? INT_MAX : (int)left;
}

void sender_notified(struct sender *s)
{
    s->next_claim_at = 0;
}

int sender_init_slots(struct sender *s)
{
    size_t n = (size_t)s->config->sends_in_flight;
    if (s->n_sending > 0)
        return STEPUP_ERR; /* only with nothing in flight */
    if (s->slots != NULL && s->n_slots == n)
        return STEPUP_OK;
    struct sender_slot *slots = calloc(n, sizeof *slots);
    if (slots == NULL) {
        log_msg(LOG_ERROR, NULL, "out of memory");
        return STEPUP_ERR;
    }
    free(s->slots);
    s->slots = slots;
    s->n_slots = n;
    return STEPUP_OK;
}

void sender_free(struct sender *s)
{
    for (size_t i = 0; i < s->n_slots; i++) {
        if (s->slots[i].busy)
            free_slot(s, &s->slots[i]);
    }
    free(s->slots);
    free(s->results);
    free(s->unreleased);
    s->slots = NULL;
    s->results = NULL;
    s->unreleased = NULL;
    s->n_slots = s->n_sending = 0;
    s->n_results = s->cap_results = 0;
    s->n_unreleased = s->cap_unreleased = 0;
}
