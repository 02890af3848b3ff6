/*
 * outbox.c - the stepup.sender_* calls.  See outbox.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "outbox.h"

#define STMT_CLAIM "sender_claim"
#define STMT_RECORD "sender_record"
#define STMT_RELEASE "sender_release"
#define STMT_NEXT_DUE "sender_next_due"

const struct db_statement outbox_statements[] = {
    { STMT_CLAIM,
      "SELECT c.id, c.challenge_id, c.to_number, c.body_template,"
      " encode(c.code_sealed, 'hex'), c.attempt, c.provider"
      " FROM stepup.sender_claim($1::text, $2::integer, $3::integer, $4::integer) c" },
    { STMT_RECORD,
      "SELECT stepup.sender_record($1::uuid, $2::text, $3::integer, $4::text, $5::text,"
      " $6::integer, $7::integer, $8::integer, $9::text, $10::text, $11::integer)" },
    { STMT_RELEASE, "SELECT stepup.sender_release($1::text, $2::uuid[])" },
    { STMT_NEXT_DUE, "SELECT stepup.sender_next_due()" },
};
const size_t outbox_nstatements = ARRAY_LEN(outbox_statements);

void outbox_batch_free(struct outbox_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        struct outbox_row *r = &b->rows[i];
        free(r->to);
        free(r->body_template);
        crypto_wipe(r->sealed, sizeof r->sealed);
    }
    free(b->rows);
    b->rows = NULL;
    b->count = 0;
}

int outbox_claim(struct db *db, const char *owner, int limit, int lease_seconds,
                 int max_attempts, struct outbox_batch *out)
{
    char limit_s[16], lease_s[16], max_s[16];
    struct db_params p = { 0 };
    db_result *res;
    int rc = STEPUP_ERR;

    out->rows = NULL;
    out->count = 0;
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    snprintf(lease_s, sizeof lease_s, "%d", lease_seconds);
    snprintf(max_s, sizeof max_s, "%d", max_attempts);
    db_param_text(&p, owner);
    db_param_text(&p, limit_s);
    db_param_text(&p, lease_s);
    db_param_text(&p, max_s);
    res = db_run(db, NULL, STMT_CLAIM, &p);
    if (res == NULL)
        return STEPUP_ERR;

    int n = db_rows(res);
    if (n == 0) {
        rc = STEPUP_OK;
        goto done;
    }
    out->rows = calloc((size_t)n, sizeof *out->rows);
    if (out->rows == NULL)
        goto done;
    for (int i = 0; i < n; i++) {
        struct outbox_row *r = &out->rows[i];
        const char *hex = db_value(res, i, 4);
        size_t hexlen = strlen(hex);
        out->count++;
        snprintf(r->id, sizeof r->id, "%s", db_value(res, i, 0));
        snprintf(r->challenge_id, sizeof r->challenge_id, "%s", db_value(res, i, 1));
        r->to = strdup(db_value(res, i, 2));
        r->body_template = strdup(db_value(res, i, 3));
        if (r->to == NULL || r->body_template == NULL)
            goto done;
        r->sealed_len = 0;
        if (hexlen % 2 == 0 && hexlen / 2 <= sizeof r->sealed && hexlen > 0 &&
            crypto_hex_decode(hex, r->sealed, hexlen / 2) == STEPUP_OK)
            r->sealed_len = hexlen / 2;
        r->attempt = atoi(db_value(res, i, 5));
        snprintf(r->provider, sizeof r->provider, "%s", db_value(res, i, 6));
    }
    rc = STEPUP_OK;

done:
    if (rc != STEPUP_OK) {
        /* Claimed rows we cannot handle come back when their lease runs out. */
        log_msg(LOG_ERROR, NULL, "out of memory reading a claimed batch");
        outbox_batch_free(out);
    }
    db_result_free(res);
    return rc;
}

int outbox_record(struct db *db, const char *owner, const struct outbox_result *r, bool *stale)
{
    char attempt_s[16], duration_s[16], http_s[16], exit_s[16], retry_s[16];
    struct db_params p = { 0 };

    snprintf(attempt_s, sizeof attempt_s, "%d", r->attempt);
    snprintf(duration_s, sizeof duration_s, "%d", r->duration_ms);
    snprintf(http_s, sizeof http_s, "%d", r->http_status);
    snprintf(exit_s, sizeof exit_s, "%d", r->exit_code);
    snprintf(retry_s, sizeof retry_s, "%d", r->retry_after_ms);
    db_param_text(&p, r->id);
    db_param_text(&p, owner);
    db_param_text(&p, attempt_s);
    db_param_text(&p, r->status);
    db_param_text(&p, r->provider);
    db_param_text(&p, duration_s);
    db_param_text(&p, r->http_status >= 0 ? http_s : NULL);
    db_param_text(&p, r->exit_code != -1 ? exit_s : NULL);
    db_param_text(&p, r->error[0] != '\0' ? r->error : NULL);
    db_param_text(&p, r->message_id[0] != '\0' ? r->message_id : NULL);
    db_param_text(&p, retry_s);

    db_result *res = db_run(db, NULL, STMT_RECORD, &p);
    if (res == NULL)
        return STEPUP_ERR;
    *stale = strcmp(db_value(res, 0, 0), "OK") != 0;
    db_result_free(res);
    return STEPUP_OK;
}

int outbox_release(struct db *db, const char *owner, const char (*ids)[CRYPTO_UUID_LEN + 1],
                   size_t n, int *released)
{
    struct db_params p = { 0 };
    /* "{uuid,uuid,...}": UUIDs need no quoting in an array literal. */
    char *array = malloc(n * (CRYPTO_UUID_LEN + 1) + 3);
    size_t len = 0;

    if (array == NULL)
        return STEPUP_ERR;
    array[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            array[len++] = ',';
        memcpy(array + len, ids[i], strlen(ids[i]));
        len += strlen(ids[i]);
    }
    array[len++] = '}';
    array[len] = '\0';
    db_param_text(&p, owner);
    db_param_text(&p, array);
    db_result *res = db_run(db, NULL, STMT_RELEASE, &p);
    free(array);
    if (res == NULL)
        return STEPUP_ERR;
    *released = atoi(db_value(res, 0, 0));
    db_result_free(res);
    return STEPUP_OK;
}

int outbox_next_due(struct db *db, int *ms)
{
    db_result *res = db_run(db, NULL, STMT_NEXT_DUE, NULL);
    if (res == NULL)
        return STEPUP_ERR;
    *ms = db_is_null(res, 0, 0) ? -1 : atoi(db_value(res, 0, 0));
    db_result_free(res);
    return STEPUP_OK;
}
