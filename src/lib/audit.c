/*
 * audit.c - hashes of audit events and seals.  See audit.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "audit.h"

const char *const audit_event_columns[AUDIT_EVENT_NCOLUMNS] = {
    "seq", "at_us", "xact_id", "event", "programme_id", "identity_id", "user_id",
    "session_id", "challenge_id", "request_ref", "client_addr", "user_agent", "actor", "detail",
};

static void put_be(unsigned char *out, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const unsigned char *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | in[i];
    return v;
}

/* A digest context that cannot fail for SHA-256 short of memory: abort then. */
static EVP_MD_CTX *sha256_begin(const char *domain)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort();
    EVP_DigestUpdate(ctx, domain, strlen(domain) + 1); /* with its NUL */
    return ctx;
}

static void sha256_end(EVP_MD_CTX *ctx, unsigned char out[CRYPTO_HASH_LEN])
{
    unsigned int len = CRYPTO_HASH_LEN;
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
}

void audit_event_hash(const char *const values[AUDIT_EVENT_NCOLUMNS],
                      unsigned char out[CRYPTO_HASH_LEN])
{
    EVP_MD_CTX *ctx = sha256_begin("stepup-audit-event-v1");
    for (size_t i = 0; i < AUDIT_EVENT_NCOLUMNS; i++) {
        unsigned char len[4];
        size_t n = values[i] != NULL ? strlen(values[i]) : 0;
        put_be(len, values[i] != NULL ? (uint32_t)n : 0xffffffffu, 4);
        EVP_DigestUpdate(ctx, len, sizeof len);
        if (n > 0)
            EVP_DigestUpdate(ctx, values[i], n);
    }
    sha256_end(ctx, out);
}

int audit_row_entry(const db_result *r, int row, struct audit_entry *e)
{
    const char *values[AUDIT_EVENT_NCOLUMNS];
    for (size_t c = 0; c < AUDIT_EVENT_NCOLUMNS; c++)
        values[c] = db_is_null(r, row, audit_event_columns[c])
                        ? NULL : db_get(r, row, audit_event_columns[c]);
    audit_event_hash(values, e->hash);
    if (values[0] == NULL || audit_parse_i64(values[0], &e->seq) != STEPUP_OK) {
        e->seq = INT64_MAX;
        return STEPUP_ERR;
    }
    if (values[1] == NULL || audit_parse_i64(values[1], &e->at_us) != STEPUP_OK)
        return STEPUP_ERR;
    return STEPUP_OK;
}

void audit_entry_put(unsigned char out[AUDIT_ENTRY_LEN], const struct audit_entry *e)
{
    put_be(out, (uint64_t)e->seq, 8);
    put_be(out + 8, (uint64_t)e->at_us, 8);
    memcpy(out + 16, e->hash, CRYPTO_HASH_LEN);
}

void audit_entry_get(const unsigned char in[AUDIT_ENTRY_LEN], struct audit_entry *e)
{
    e->seq = (int64_t)get_be(in, 8);
    e->at_us = (int64_t)get_be(in + 8, 8);
    memcpy(e->hash, in + 16, CRYPTO_HASH_LEN);
}

void audit_seal_digest(const unsigned char prev[CRYPTO_HASH_LEN], int64_t seal_no,
                       uint64_t xact_from, uint64_t xact_to, uint32_t count,
                       const unsigned char *entries, size_t entries_len,
                       unsigned char out[CRYPTO_HASH_LEN])
{
    unsigned char head[CRYPTO_HASH_LEN + 8 * 3 + 4];
    memcpy(head, prev, CRYPTO_HASH_LEN);
    put_be(head + CRYPTO_HASH_LEN, (uint64_t)seal_no, 8);
    put_be(head + CRYPTO_HASH_LEN + 8, xact_from, 8);
    put_be(head + CRYPTO_HASH_LEN + 16, xact_to, 8);
    put_be(head + CRYPTO_HASH_LEN + 24, count, 4);
    EVP_MD_CTX *ctx = sha256_begin("stepup-audit-seal-v1");
    EVP_DigestUpdate(ctx, head, sizeof head);
    if (entries_len > 0)
        EVP_DigestUpdate(ctx, entries, entries_len);
    sha256_end(ctx, out);
}

int audit_parse_i64(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return STEPUP_ERR;
    *out = v;
    return STEPUP_OK;
}

int audit_parse_u64(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return STEPUP_ERR;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return STEPUP_ERR;
    *out = v;
    return STEPUP_OK;
}
