/*
 * api_otp.c - the OTP mechanics shared by step-up and enrolment.
 *
 * Issuing: the C side makes the secrets - a challenge id, a 6-digit code,
 * its keyed hash (and the sandbox code's, since only the database knows
 * whether the programme is a sandbox), and the code sealed for the outbox -
 * and one call of the operation's function applies every rule and writes
 * everything in one transaction.  Verifying: the offered code is hashed the
 * same way and one call compares, counts and records.  The database never
 * sees a code; its outcome is the answer.
 */
#include <string.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "api.h"
#include "handlers.h"
#include "response.h"
#include "router.h"
#include "statements.h"
#include "../lib/validate.h"

/* The secrets of one new challenge; wiped after use. */
struct new_challenge {
    unsigned char id[16];
    char id_text[CRYPTO_UUID_LEN + 1];
    char code[CRYPTO_OTP_DIGITS + 1];
    unsigned char code_hash[CRYPTO_HASH_LEN];
    unsigned char sandbox_hash[CRYPTO_HASH_LEN];
    unsigned char sealed[CRYPTO_OTP_DIGITS + CRYPTO_SEAL_OVERHEAD];
    size_t sealed_len;
};

/* Draw a code and derive what the database stores of it, for this session. */
static int challenge_make(const struct settings *s, const unsigned char session[CRYPTO_HASH_LEN],
                          struct new_challenge *c)
{
    if (crypto_uuid(c->id, c->id_text) != STEPUP_OK ||
        crypto_otp_code(c->code) != STEPUP_OK ||
        crypto_otp_hash(s->otp_key, session, c->code, c->code_hash) != STEPUP_OK ||
        crypto_otp_hash(s->otp_key, session, STEPUP_SANDBOX_CODE, c->sandbox_hash) != STEPUP_OK ||
        crypto_seal(s->common.outbox_key, c->id, sizeof c->id, c->code, CRYPTO_OTP_DIGITS, c->sealed,
                    &c->sealed_len) != STEPUP_OK)
        return STEPUP_ERR;
    return STEPUP_OK;
}

/*
 * NOTIFY the sender of a queued text, after the commit (see
 * sql/002_api.sql for why not inside it).  Failure costs only latency: the
 * sender polls as well.
 */
static void wake_sender(struct request *r, const char *outbox_id)
{
    struct db_call call;
    db_call_init(&call, &stmt_notify_outbox);
    db_arg_text(&call, "p_outbox_id", outbox_id);
    db_result *res = db_run(r->worker->db, r->ref, &call);
    if (res == NULL)
        log_msg(LOG_WARN, r->ref, "could not notify the sender; it will find the text by polling");
    else
        db_result_free(res);
}

/* Answer an operation's outcome; replays are logged. */
static void otp_reply(struct request *r, db_result *res)
{
    if (strcmp(db_get(res, 0, "replayed"), "t") == 0)
        log_msg(LOG_INFO, r->ref, "idempotent replay of %s", r->idem_ref);
    api_reply_outcome(r, res);
}

void otp_issue(struct request *r, const struct db_statement *statement)
{
    const char *problem = validate_channel(r->param);
    if (problem != NULL) {
        if (api_authenticated(r, 0))
            reply_invalid_field(r, "channel", problem, NULL, 0);
        return;
    }

    unsigned char fingerprint[CRYPTO_HASH_LEN];
    struct new_challenge c;
    if (request_fingerprint(r, fingerprint) != STEPUP_OK ||
        challenge_make(r->worker->settings, r->token_hash, &c) != STEPUP_OK) {
        crypto_wipe(&c, sizeof c);
        reply_internal_error(r, "cannot make a challenge: random or cipher failure");
        return;
    }

    struct db_call call;
    db_call_init(&call, statement);
    api_caller_args(r, &call);
    db_arg_text(&call, "p_channel", r->param);
    db_arg_text(&call, "p_operation", r->route->operation);
    db_arg_text(&call, "p_idem_ref", r->idem_ref);
    db_arg_bytes(&call, "p_request_hash", fingerprint, sizeof fingerprint);
    db_arg_text(&call, "p_challenge_id", c.id_text);
    db_arg_bytes(&call, "p_code_hash", c.code_hash, sizeof c.code_hash);
    db_arg_bytes(&call, "p_sandbox_code_hash", c.sandbox_hash, sizeof c.sandbox_hash);
    db_arg_bytes(&call, "p_code_sealed", c.sealed, c.sealed_len);
    api_context_args(r, &call);

    db_result *res = api_call(r, &call);
    crypto_wipe(&c, sizeof c);
    if (res == NULL)
        return;
    otp_reply(r, res);
    if (!db_is_null(res, 0, "outbox_id"))
        wake_sender(r, db_get(res, 0, "outbox_id"));
    db_result_free(res);
}

/*
 * The verification code of the body, or NULL with *problem set to the
 * Weavr error (REQUIRED, SIZE, REGEX).  The code is copied to out.
 */
static int read_verification_code(const struct request *r, char out[CRYPTO_OTP_DIGITS + 1],
                                  const char **problem)
{
    struct json_object *doc = api_body(r);
    struct json_object *v = NULL;
    size_t len;
    const char *code = api_string_member(doc, "verificationCode", &len);

    *problem = NULL;
    if (code != NULL) {
        *problem = validate_verification_code(code, len); /* its length: "123456\u0000" is 7 */
    } else if (json_object_is_type(doc, json_type_object) &&
               json_object_object_get_ex(doc, "verificationCode", &v) && v != NULL) {
        *problem = "REGEX"; /* a number, an array...: no code */
    } else {
        *problem = "REQUIRED";
    }
    if (*problem == NULL)
        memcpy(out, code, CRYPTO_OTP_DIGITS + 1);
    json_object_put(doc);
    return *problem == NULL ? STEPUP_OK : STEPUP_ERR;
}

void otp_verify(struct request *r, const char *purpose)
{
    char code[CRYPTO_OTP_DIGITS + 1];
    const char *field = "channel";
    const char *problem = validate_channel(r->param);

    if (problem == NULL && read_verification_code(r, code, &problem) != STEPUP_OK)
        field = "verificationCode";
    if (problem != NULL) {
        if (api_authenticated(r, 0))
            reply_field_problem(r, field, problem, CRYPTO_OTP_DIGITS, CRYPTO_OTP_DIGITS);
        return;
    }

    unsigned char fingerprint[CRYPTO_HASH_LEN], code_hash[CRYPTO_HASH_LEN];
    int hashed = crypto_otp_hash(r->worker->settings->otp_key, r->token_hash, code, code_hash);
    crypto_wipe(code, sizeof code);
    if (hashed != STEPUP_OK || request_fingerprint(r, fingerprint) != STEPUP_OK) {
        reply_internal_error(r, "cannot hash the offered code");
        return;
    }

    struct db_call call;
    db_call_init(&call, &stmt_verify_challenge);
    api_caller_args(r, &call);
    db_arg_text(&call, "p_purpose", purpose);
    db_arg_text(&call, "p_channel", r->param);
    db_arg_text(&call, "p_operation", r->route->operation);
    db_arg_text(&call, "p_idem_ref", r->idem_ref);
    db_arg_bytes(&call, "p_request_hash", fingerprint, sizeof fingerprint);
    db_arg_bytes(&call, "p_code_hash", code_hash, sizeof code_hash);
    api_context_args(r, &call);

    db_result *res = api_call(r, &call);
    if (res == NULL)
        return;
    otp_reply(r, res);
    db_result_free(res);
}
