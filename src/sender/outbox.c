/*
 * outbox.c - the stepup.sender_* calls.  See outbox.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../lib/log.h"
#include "outbox.h"

static const struct db_arg_def claim_args[] = {
    { "p_owner", DB_TEXT }, { "p_limit", DB_INT }, { "p_lease_seconds", DB_INT },
    { "p_max_attempts", DB_INT },
};
static const struct db_statement claim_st = {
    .name = "sender_claim", .function = "stepup.sender_claim", DB_ARGS(claim_args),
};
static const struct db_arg_def record_batch_args[] = {
    { "p_owner", DB_TEXT }, { "p_results", DB_JSONB },
};
static const struct db_statement record_batch_st = {
    .name = "sender_record_batch", .function = "stepup.sender_record_batch",
    DB_ARGS(record_batch_args),
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
    &claim_st, &record_batch_st, &release_st, &next_due_st, &prune_limits_st,
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

/* Add a member that is a number, or null when it is absent (below 0; exit codes: -1). */
static int add_int(struct json_object *o, const char *key, int v, bool present)
{
    struct json_object *n = present ? json_object_new_int(v) : NULL;
    if (present && n == NULL)
        return STEPUP_ERR;
    return json_object_object_add(o, key, n) == 0 ? STEPUP_OK : STEPUP_ERR;
}

/* Add a member that is a string, or null when it is "". */
static int add_text(struct json_object *o, const char *key, const char *v)
{
    struct json_object *s = v != NULL && v[0] != '\0' ? json_object_new_string(v) : NULL;
    if (v != NULL && v[0] != '\0' && s == NULL)
        return STEPUP_ERR;
    return json_object_object_add(o, key, s) == 0 ? STEPUP_OK : STEPUP_ERR;
}

/* The results as sender_record_batch's JSON array (NULL: out of memory). */
static struct json_object *results_json(const struct outbox_result *r, size_t n)
{
    struct json_object *a = json_object_new_array_ext((int)n);
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        if (o == NULL || json_object_array_add(a, o) != 0) {
            json_object_put(o);
            goto failed;
        }
        if (add_text(o, "id", r[i].id) != STEPUP_OK ||
            add_int(o, "attempt", r[i].attempt, true) != STEPUP_OK ||
            add_text(o, "status", r[i].status) != STEPUP_OK ||
            add_text(o, "provider", r[i].provider) != STEPUP_OK ||
            add_int(o, "duration_ms", r[i].duration_ms, true) != STEPUP_OK ||
            add_int(o, "http_status", r[i].http_status, r[i].http_status >= 0) != STEPUP_OK ||
            add_int(o, "exit_code", r[i].exit_code, r[i].exit_code != -1) != STEPUP_OK ||
            add_text(o, "error", r[i].error) != STEPUP_OK ||
            add_text(o, "provider_message_id", r[i].message_id) != STEPUP_OK ||
            add_int(o, "retry_after_ms", r[i].retry_after_ms, true) != STEPUP_OK)
            goto failed;
    }
    return a;

failed:
    json_object_put(a);
    return NULL;
}

int outbox_record_batch(struct db *db, const char *owner, const struct outbox_result *results,
                        size_t n, bool *stale)
{
    struct db_call call;
    struct json_object *doc;

    for (size_t i = 0; i < n; i++)
        stale[i] = false;
    if (n == 0)
        return STEPUP_OK;
    doc = results_json(results, n);
    if (doc == NULL) {
        log_msg(LOG_ERROR, NULL, "out of memory writing %zu results", n);
        return STEPUP_ERR;
    }
    db_call_init(&call, &record_batch_st);
    db_arg_text(&call, "p_owner", owner);
    db_arg_text(&call, "p_results", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    db_result *res = db_run(db, NULL, &call);
    json_object_put(doc);
    if (res == NULL)
        return STEPUP_ERR;
    for (int row = 0; row < db_rows(res); row++) {
        int k = atoi(db_get(res, row, "stale"));
        if (k >= 1 && (size_t)k <= n)
            stale[k - 1] = true;
    }
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
