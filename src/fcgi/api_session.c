/*
 * api_session.c - POST /login_with_password and POST /logout.
 *
 * Login costs two round trips: one to count the attempt against the login
 * limits and fetch the user's password hash, then, once the password
 * (scrypt, in C) has been checked, one to open the session when it
 * matched, or else to record the refusal as an audit event (see
 * sql/functions/40_api_login.sql).  Unknown e-mail addresses spend the
 * same scrypt time and the same second call as known ones; a login over a
 * limit (429) spends neither, known or not.
 */
#include <string.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "api.h"
#include "handlers.h"
#include "response.h"
#include "statements.h"
#include "../lib/validate.h"

/* Answer 200 with the Weavr login body. */
static void reply_login(struct request *r, const char *token, const char *identity_id,
                        const char *identity_type, const char *user_id, const char *role)
{
    struct json_object *identity = json_object_new_object();
    json_object_object_add(identity, "type", json_object_new_string(identity_type));
    json_object_object_add(identity, "id", json_object_new_string(identity_id));
    struct json_object *credentials = json_object_new_object();
    json_object_object_add(credentials, "type", json_object_new_string(role));
    json_object_object_add(credentials, "id", json_object_new_string(user_id));

    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "token", json_object_new_string(token));
    json_object_object_add(body, "tokenType", json_object_new_string("AUTH"));
    json_object_object_add(body, "identity", identity);
    json_object_object_add(body, "credentials", credentials);
    reply_json(r, 200, body);
}

/*
 * Record a refused login (its outcome, and the user the lookup found, if
 * any).  1 when recorded; 0 when the call failed and an answer was sent.
 */
static int record_login_failed(struct request *r, const db_result *found, const char *outcome)
{
    struct db_call call;

    db_call_init(&call, &stmt_login_failed);
    db_arg_bytes(&call, "p_api_key_hash", r->key_hash, sizeof r->key_hash);
    db_arg_text(&call, "p_user_id",
                db_is_null(found, 0, "user_id") ? NULL : db_get(found, 0, "user_id"));
    db_arg_text(&call, "p_outcome", outcome);
    api_context_args(r, &call);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return 0;
    db_result_free(res);
    return 1;
}

void handle_login(struct request *r)
{
    struct json_object *doc = api_body(r);
    size_t email_len, password_len = 0;
    const char *email = api_string_member(doc, "email", &email_len);
    struct json_object *pw_obj = NULL;
    const char *password = NULL;
    unsigned char token_hash[CRYPTO_HASH_LEN];
    char token[CRYPTO_TOKEN_LEN + 1];
    db_result *found = NULL, *opened = NULL;
    struct db_call call;

    if (doc != NULL && json_object_is_type(doc, json_type_object) &&
        json_object_object_get_ex(doc, "password", &pw_obj))
        password = api_string_member(pw_obj, "value", &password_len);

    /* Neither holds a NUL once valid: C reads them whole. */
    const char *problem = validate_email(email, email_len);
    if (problem != NULL) {
        reply_field_problem(r, "email", problem, 1, VALIDATE_EMAIL_MAX);
        goto done;
    }
    problem = validate_password(password, password_len);
    if (problem != NULL) {
        reply_field_problem(r, "password.value", problem, 1, VALIDATE_PASSWORD_MAX);
        goto done;
    }

    db_call_init(&call, &stmt_login_lookup);
    db_arg_bytes(&call, "p_api_key_hash", r->key_hash, sizeof r->key_hash);
    db_arg_text(&call, "p_email", email);
    api_context_args(r, &call);
    found = api_call(r, &call);
    if (found == NULL)
        goto done;

    const char *outcome = db_get(found, 0, "outcome");
    if (strcmp(outcome, "API_KEY_UNKNOWN") == 0 || strcmp(outcome, "RATE_LIMITED") == 0) {
        api_reply_outcome(r, found); /* before any password is checked */
        goto done;
    }
    int match = 0;
    if (strcmp(outcome, "USER_UNKNOWN") == 0) {
        /* Spend the time a known user's check would take, so timing tells nothing. */
        char spent[CRYPTO_PASSWORD_HASH_MAX];
        if (crypto_password_hash(password, CRYPTO_SCRYPT_LOG2N_DEFAULT, spent, sizeof spent) !=
            STEPUP_OK)
            log_msg(LOG_WARN, r->ref, "password hashing failed");
    } else {
        match = crypto_password_verify(password, db_get(found, 0, "password_hash"));
        if (match < 0)
            log_msg(LOG_ERROR, r->ref, "malformed password hash for user %s",
                    db_get(found, 0, "user_id"));
    }
    if (strcmp(outcome, "OK") != 0 || match != 1) {
        const char *refused = strcmp(outcome, "OK") != 0 ? outcome : "PASSWORD_MISMATCH";
        if (record_login_failed(r, found, refused))
            reply_outcome(r, refused);
        goto done;
    }

    if (crypto_random_token(token) != STEPUP_OK) {
        reply_internal_error(r, "cannot draw a session token");
        goto done;
    }
    crypto_sha256(token, CRYPTO_TOKEN_LEN, token_hash);
    db_call_init(&call, &stmt_login_session);
    db_arg_bytes(&call, "p_api_key_hash", r->key_hash, sizeof r->key_hash);
    db_arg_text(&call, "p_user_id", db_get(found, 0, "user_id"));
    db_arg_bytes(&call, "p_token_hash", token_hash, sizeof token_hash);
    api_context_args(r, &call);
    opened = api_call(r, &call);
    if (opened == NULL)
        goto done;
    outcome = db_get(opened, 0, "outcome");
    if (strcmp(outcome, "OK") != 0)
        reply_outcome(r, outcome);
    else
        reply_login(r, token, db_get(found, 0, "identity_id"), db_get(found, 0, "identity_type"),
                    db_get(found, 0, "user_id"), db_get(found, 0, "role"));

done:
    crypto_wipe(token, sizeof token);
    if (opened != NULL)
        db_result_free(opened);
    if (found != NULL)
        db_result_free(found);
    json_object_put(doc);
}

void handle_logout(struct request *r)
{
    struct db_call call;

    db_call_init(&call, &stmt_logout);
    api_caller_args(r, &call);
    api_context_args(r, &call);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return;
    reply_outcome(r, db_get(res, 0, "outcome"));
    db_result_free(res);
}
