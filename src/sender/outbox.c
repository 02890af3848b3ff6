/*
 * outbox.c - the stepup.sender_* calls.  See outbox.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "outbox.h"

static const struct db_arg_def claim_args[] = {
    { "p_owner", DB_TEXT }, { "p_limit", DB_INT }, { "p_lease_seconds", DB_INT },
    { "p_max_attempts", DB_INT },
};
static const struct db_statement claim_st = {
    .name = "sender_claim", .function = "stepup.sender_claim", DB_ARGS(claim_args),
};
static const struct db_arg_def record_args[] = {
    { "p_id", DB_UUID }, { "p_owner", DB_TEXT }, { "p_attempt", DB_INT }, { "p_status", DB_TEXT },
    { "p_provider", DB_TEXT }, { "p_duration_ms", DB_INT }, { "p_http_status", DB_INT },
    { "p_exit_code", DB_INT }, { "p_error", DB_TEXT }, { "p_provider_message_id", DB_TEXT },
    { "p_retry_after_ms", DB_INT },
};
static const struct db_statement record_st = {
    .name = "sender_record", .function = "stepup.sender_record", .result = "recorded",
    DB_ARGS(record_args),
};
static const struct db_arg_def release_args[] = {
    { "p_owner", DB_TEXT }, { "p_ids", DB_UUID_ARRAY },
};
static const struct db_statement release_st = {
    .name = "sender_release", .function = "stepup.sender_release", .result = "released",
    DB_ARGS(release_args),
};
static const struct db_statement next_due_st = {
    .name = "sender_next_due", .function = "stepup.sender_next_due", .result = "due_ms",
};

static const struct db_arg_def prune_args[] = { { "p_batch", DB_INT } };
static const struct db_statement prune_limits_st = {
    .name = "sender_prune_limits", .function = "stepup.sender_prune_limits", .result = "pruned",
    DB_ARGS(prune_args),
};

const struct db_statement *const outbox_statements[] = {
    &claim_st, &record_st, &release_st, &next_due_st, &prune_limits_st,
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
    struct db_call call;
    db_result *res;
    int rc = STEPUP_ERR;

    out->rows = NULL;
    out->count = 0;
    db_call_init(&call, &claim_st);
    db_arg_text(&call, "p_owner", owner);
    db_arg_int(&call, "p_limit", limit);
    db_arg_int(&call, "p_lease_seconds", lease_seconds);
    db_arg_int(&call, "p_max_attempts", max_attempts);
    res = db_run(db, NULL, &call);
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
        out->count++;
        snprintf(r->id, sizeof r->id, "%s", db_get(res, i, "id"));
        snprintf(r->challenge_id, sizeof r->challenge_id, "%s", db_get(res, i, "challenge_id"));
        r->to = strdup(db_get(res, i, "to_number"));
        r->body_template = strdup(db_get(res, i, "body_template"));
        if (r->to == NULL || r->body_template == NULL)
            goto done;
        /* 0 (the row is then failed by the sender) when it is missing or too long */
        if (db_get_bytes(res, i, "code_sealed", r->sealed, sizeof r->sealed, &r->sealed_len) !=
            STEPUP_OK)
            r->sealed_len = 0;
        r->attempt = atoi(db_get(res, i, "attempt"));
        snprintf(r->provider, sizeof r->provider, "%s", db_get(res, i, "provider"));
        snprintf(r->key_id, sizeof r->key_id, "%s", db_get(res, i, "key_id"));
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
    struct db_call call;

    db_call_init(&call, &record_st);
    db_arg_text(&call, "p_id", r->id);
    db_arg_text(&call, "p_owner", owner);
    db_arg_int(&call, "p_attempt", r->attempt);
    db_arg_text(&call, "p_status", r->status);
    db_arg_text(&call, "p_provider", r->provider);
    db_arg_int(&call, "p_duration_ms", r->duration_ms);
    if (r->http_status >= 0)
        db_arg_int(&call, "p_http_status", r->http_status);
    else
        db_arg_null(&call, "p_http_status");
    if (r->exit_code != -1)
        db_arg_int(&call, "p_exit_code", r->exit_code);
    else
        db_arg_null(&call, "p_exit_code");
    db_arg_text(&call, "p_error", r->error[0] != '\0' ? r->error : NULL);
    db_arg_text(&call, "p_provider_message_id", r->message_id[0] != '\0' ? r->message_id : NULL);
    db_arg_int(&call, "p_retry_after_ms", r->retry_after_ms);

    db_result *res = db_run(db, NULL, &call);
    if (res == NULL)
        return STEPUP_ERR;
    *stale = strcmp(db_get(res, 0, "recorded"), "OK") != 0;
    db_result_free(res);
    return STEPUP_OK;
}

int outbox_release(struct db *db, const char *owner, const char (*ids)[CRYPTO_UUID_LEN + 1],
                   size_t n, int *released)
{
    struct db_call call;
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
    db_call_init(&call, &release_st);
    db_arg_text(&call, "p_owner", owner);
    db_arg_text(&call, "p_ids", array);
    db_result *res = db_run(db, NULL, &call);
    free(array);
    if (res == NULL)
        return STEPUP_ERR;
    *released = atoi(db_get(res, 0, "released"));
    db_result_free(res);
    return STEPUP_OK;
}

int outbox_next_due(struct db *db, int *ms)
{
    struct db_call call;
    db_call_init(&call, &next_due_st);
    db_result *res = db_run(db, NULL, &call);
    if (res == NULL)
        return STEPUP_ERR;
    *ms = db_is_null(res, 0, "due_ms") ? -1 : atoi(db_get(res, 0, "due_ms"));
    db_result_free(res);
    return STEPUP_OK;
}

int outbox_prune_limits(struct db *db, int batch, int *pruned)
{
    struct db_call call;
    db_call_init(&call, &prune_limits_st);
    db_arg_int(&call, "p_batch", batch);
    db_result *res = db_run(db, NULL, &call);
    if (res == NULL)
        return STEPUP_ERR;
    *pruned = atoi(db_get(res, 0, "pruned"));
    db_result_free(res);
    return STEPUP_OK;
}
