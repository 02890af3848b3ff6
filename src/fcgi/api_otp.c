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
#include <stdio.h>
#include <string.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "api.h"
#include "handlers.h"
#include "response.h"
#include "router.h"
#include "statements.h"
#include "waker.h"
#include "../lib/validate.h"

/* The secrets of one new challenge; wiped after use. */
struct new_challenge {
    unsigned char id[16];
    char id_text[CRYPTO_UUID_LEN + 1];
    char key_id[CRYPTO_KEYNAME_MAX + 1];      /* the otp_key its hashes were made with */
    char seal_key_id[CRYPTO_KEYNAME_MAX + 1]; /* the outbox_key its code was sealed with */
    char code[CRYPTO_OTP_DIGITS + 1];
    unsigned char code_hash[CRYPTO_HASH_LEN];
    unsigned char sandbox_hash[CRYPTO_HASH_LEN];
    unsigned char sealed[CRYPTO_OTP_DIGITS + CRYPTO_SEAL_OVERHEAD];
    size_t sealed_len;
};

/*
 * Draw a code and derive what the database stores of it, for this session,
 * under keys derived from the newest otp_key and outbox_key: the seal's
 * AAD is the challenge id's 16 bytes followed by to, the number the text
 * will go to (NULL: none, no text will be queued).
 */
#define OTP_DESTINATION_MAX 64
static int challenge_make(const struct settings *s, const unsigned char session[CRYPTO_HASH_LEN],
                          const char *to, struct new_challenge *c)
{
    const struct crypto_key *otp = crypto_keyring_newest(&s->otp_key);
    const struct crypto_key *outbox = crypto_keyring_newest(&s->common.outbox_key);
    unsigned char aad[16 + OTP_DESTINATION_MAX];
    size_t tolen = to != NULL ? strlen(to) : 0;

    if (otp == NULL || outbox == NULL || tolen > OTP_DESTINATION_MAX)
        return STEPUP_ERR;
    snprintf(c->key_id, sizeof c->key_id, "%s", otp->id);
    snprintf(c->seal_key_id, sizeof c->seal_key_id, "%s", outbox->id);
    if (crypto_uuid(c->id, c->id_text) != STEPUP_OK || crypto_otp_code(c->code) != STEPUP_OK)
        return STEPUP_ERR;
    memcpy(aad, c->id, sizeof c->id);
    if (tolen > 0)
        memcpy(aad + sizeof c->id, to, tolen);
    const unsigned char *hash_key = crypto_key_for(otp, CRYPTO_PURPOSE_OTP_HASH);
    if (crypto_otp_hash(hash_key, session, c->code, c->code_hash) != STEPUP_OK ||
        crypto_otp_hash(hash_key, session, STEPUP_SANDBOX_CODE, c->sandbox_hash) != STEPUP_OK ||
        crypto_seal(crypto_key_for(outbox, CRYPTO_PURPOSE_OUTBOX_SEAL), aad, sizeof c->id + tolen,
                    c->code, CRYPTO_OTP_DIGITS, c->sealed, &c->sealed_len) != STEPUP_OK)
        return STEPUP_ERR;
    return STEPUP_OK;
}

/*
 * The offered code hashed under every key of the otp_key ring, newest
 * first, one 32-byte hash after another in hashes, and their ids as a SQL
 * array in ids; the key written without an id (if any) adds its hash as
 * stepup hashed before key ids, under its bytes as they are, with the id
 * "" (rows of before key ids have none).  The database compares a
 * challenge with the hash of its own key.
 */
#define CODE_HASHES_MAX (CRYPTO_KEYRING_MAX + 1)
static int code_hashes(const struct crypto_keyring *ring,
                       const unsigned char session[CRYPTO_HASH_LEN], const char *code,
                       unsigned char hashes[CODE_HASHES_MAX * CRYPTO_HASH_LEN], size_t *n,
                       char ids[CODE_HASHES_MAX * (CRYPTO_KEYNAME_MAX + 3) + 3])
{
    size_t used = 0;
    int rc = STEPUP_OK;

    *n = 0;
    ids[used++] = '{';
    for (size_t i = 0; i < ring->count && rc == STEPUP_OK; i++) {
        const struct crypto_key *k = &ring->keys[i];
        rc = crypto_otp_hash(crypto_key_for(k, CRYPTO_PURPOSE_OTP_HASH), session, code,
                             hashes + CRYPTO_HASH_LEN * (*n)++);
        used += (size_t)sprintf(ids + used, "%s\"%s\"", i > 0 ? "," : "", k->id);
    }
    const struct crypto_key *legacy = crypto_keyring_find(ring, NULL);
    if (rc == STEPUP_OK && legacy != NULL) {
        rc = crypto_otp_hash(legacy->raw, session, code, hashes + CRYPTO_HASH_LEN * (*n)++);
        used += (size_t)sprintf(ids + used, ",\"\"");
    }
    ids[used++] = '}';
    ids[used] = '\0';
    return rc;
}

/* Answer an operation's outcome; replays are logged. */
static void otp_reply(struct request *r, db_result *res)
{
    if (strcmp(db_get(res, 0, "replayed"), "t") == 0)
        log_msg(LOG_INFO, r->ref, "idempotent replay of %s", r->idem_ref);
    api_reply_outcome(r, res);
}

/*
 * The number a code issued now would be texted to (api_issue_destination)
 * into to, "" when there is none: STEPUP_OK, or STEPUP_ERR after answering
 * (503 or 500).
 */
static int issue_destination(struct request *r, const char *purpose, char *to, size_t tolen)
{
    struct db_call call;
    db_call_init(&call, &stmt_issue_destination);
    db_arg_bytes(&call, "p_token_hash", r->token_hash, sizeof r->token_hash);
    db_arg_text(&call, "p_purpose", purpose);
    db_arg_text(&call, "p_channel", r->param);
    db_result *res = api_call(r, &call);
    if (res == NULL)
        return STEPUP_ERR;
    snprintf(to, tolen, "%s", db_is_null(res, 0, "destination") ? "" : db_get(res, 0, "destination"));
    db_result_free(res);
    return STEPUP_OK;
}

void otp_issue(struct request *r, const struct db_statement *statement, const char *purpose)
{
    const char *problem = validate_channel(r->param);
    if (problem != NULL) {
        if (api_authenticated(r, 0))
            reply_invalid_field(r, "channel", problem, NULL, 0);
        return;
    }

    unsigned char fingerprint[CRYPTO_HASH_LEN];
    char to[OTP_DESTINATION_MAX + 2];
    struct new_challenge c;
    if (issue_destination(r, purpose, to, sizeof to) != STEPUP_OK)
        return;
    if (request_fingerprint(r, fingerprint) != STEPUP_OK ||
        challenge_make(r->worker->settings, r->token_hash, to[0] != '\0' ? to : NULL, &c) !=
            STEPUP_OK) {
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
    db_arg_text(&call, "p_key_id", c.key_id);
    db_arg_text(&call, "p_seal_key_id", c.seal_key_id);
    db_arg_text(&call, "p_sealed_to", to[0] != '\0' ? to : NULL);
    api_context_args(r, &call);

    db_result *res = api_call(r, &call);
    crypto_wipe(&c, sizeof c);
    if (res == NULL)
        return;
    otp_reply(r, res);
    if (!db_is_null(res, 0, "outbox_id"))
        waker_poke(r->worker->waker, r->ref); /* committed: the senders may claim it */
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

    unsigned char fingerprint[CRYPTO_HASH_LEN], hashes[CODE_HASHES_MAX * CRYPTO_HASH_LEN];
    char key_ids[CODE_HASHES_MAX * (CRYPTO_KEYNAME_MAX + 3) + 3];
    size_t nhashes = 0;
    int hashed = code_hashes(&r->worker->settings->otp_key, r->token_hash, code, hashes, &nhashes,
                             key_ids);
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
    db_arg_bytes(&call, "p_code_hashes", hashes, nhashes * CRYPTO_HASH_LEN);
    db_arg_text(&call, "p_key_ids", key_ids);
    api_context_args(r, &call);

    db_result *res = api_call(r, &call);
    if (res == NULL)
        return;
    otp_reply(r, res);
    db_result_free(res);
}
