/*
 * request.c - read one accepted FastCGI request into a struct request.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "request.h"

/* A header value, or NULL when the header is absent or empty. */
static const char *header(FCGX_ParamArray envp, const char *name)
{
    const char *v = FCGX_GetParam(name, envp);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

const char *request_bearer_token(const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer", 6) != 0)
        return NULL;
    const char *t = authorization + 6;
    if (*t != ' ' && *t != '\t')
        return NULL;
    while (*t == ' ' || *t == '\t')
        t++;
    if (*t == '\0' || strcmp(t, "null") == 0)
        return NULL;
    return t;
}

void request_url_path(const char *uri, const char *script, const char *info, char *out,
                      size_t outlen)
{
    if (outlen == 0)
        return;
    if (uri != NULL) {
        size_t n = strcspn(uri, "?#");
        if (n >= outlen)
            n = outlen - 1;
        memcpy(out, uri, n);
        out[n] = '\0';
        return;
    }
    snprintf(out, outlen, "%s%s", script != NULL ? script : "", info != NULL ? info : "");
}

enum request_status request_content_length(const char *value, size_t max, size_t *len)
{
    *len = 0;
    if (value == NULL || value[0] == '\0')
        return REQUEST_OK;
    if (strspn(value, "0123456789") != strlen(value) || strlen(value) > 19)
        return REQUEST_BAD_LENGTH;
    unsigned long long v = strtoull(value, NULL, 10);
    if (v > max)
        return REQUEST_TOO_LARGE;
    *len = (size_t)v;
    return REQUEST_OK;
}

enum request_status request_init(struct request *r, struct worker *w, size_t max_body)
{
    FCGX_ParamArray envp = w->fcgx.envp;
    unsigned char id[16];

    memset(r, 0, sizeof *r);
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    r->worker = w;
    if (crypto_uuid(id, r->ref) != STEPUP_OK)
        snprintf(r->ref, sizeof r->ref, "00000000-0000-4000-8000-000000000000");

    r->method = FCGX_GetParam("REQUEST_METHOD", envp);
    r->remote_addr = header(envp, "REMOTE_ADDR");
    /* Only recorded, never interpreted: repaired rather than refused. */
    const char *user_agent = header(envp, "HTTP_USER_AGENT");
    if (user_agent != NULL) {
        validate_utf8_repair(user_agent, r->user_agent_buf, sizeof r->user_agent_buf);
        r->user_agent = r->user_agent_buf;
    }
    r->api_key = header(envp, "HTTP_API_KEY");
    r->bearer = request_bearer_token(header(envp, "HTTP_AUTHORIZATION"));
    r->idem_ref = header(envp, "HTTP_IDEMPOTENCY_REF");
    if (r->api_key != NULL)
        crypto_sha256(r->api_key, strlen(r->api_key), r->key_hash);
    if (r->bearer != NULL)
        crypto_sha256(r->bearer, strlen(r->bearer), r->token_hash);
    request_url_path(FCGX_GetParam("REQUEST_URI", envp), FCGX_GetParam("SCRIPT_NAME", envp),
                     FCGX_GetParam("PATH_INFO", envp), r->path, sizeof r->path);
    const char *role = FCGX_GetParam("FCGI_ROLE", envp);
    r->authorizer = role != NULL && strcmp(role, "AUTHORIZER") == 0;
    client_addr_find(r->remote_addr, header(envp, "HTTP_X_FORWARDED_FOR"),
                     w->settings->trusted_proxies, r->client_addr);
    /* The variable the web server sets for the protected location, else the
     * setting; in an error document of the gate, Apache's REDIRECT_ copy. */
    r->gate = header(envp, "STEPUP_GATE");
    const char *refused_gate = header(envp, "REDIRECT_STEPUP_GATE");
    r->gate_refusal = !r->authorizer && refused_gate != NULL &&
                      header(envp, "REDIRECT_STATUS") != NULL;
    const char *refusal = header(envp, "STEPUP_GATE_REFUSAL");
    r->refusal_asked_again = r->authorizer && refusal != NULL &&
                             strcmp(refusal, "error-document") == 0;
    if (r->gate == NULL && r->gate_refusal)
        r->gate = refused_gate;
    if (r->gate == NULL)
        r->gate = w->settings->gate_name;
    if (r->method == NULL)
        return REQUEST_NO_METHOD;

    size_t len;
    enum request_status st = request_content_length(FCGX_GetParam("CONTENT_LENGTH", envp),
                                                    max_body, &len);
    if (st != REQUEST_OK)
        return st;
    r->body = malloc(len + 1);
    if (r->body == NULL)
        return REQUEST_NO_MEMORY;
    size_t got = 0;
    while (got < len) {
        int n = FCGX_GetStr(r->body + got, (int)(len - got), w->fcgx.in);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    r->body[got] = '\0';
    r->body_len = got;
    if (got != len) {
        log_msg(LOG_WARN, r->ref, "request body ended after %zu of %zu bytes", got, len);
        return REQUEST_SHORT_BODY;
    }
    return REQUEST_OK;
}

const char *request_client_addr(const struct request *r)
{
    return r->client_addr[0] != '\0' ? r->client_addr : NULL;
}

void request_release(struct request *r)
{
    free(r->body);
    r->body = NULL;
}

int request_fingerprint(const struct request *r, unsigned char out[CRYPTO_HASH_LEN])
{
    /*
     * HMAC(K, method NUL path NUL SHA-256(body)), K derived from the newest
     * otp_key for this purpose alone: neither the method nor the path holds
     * a NUL, so no two requests share an encoding.  It is keyed because a
     * body may hold a verification code, which a plain hash stored for
     * idempotency would give away to a search of 10^6.
     */
    unsigned char buf[32 + REQUEST_PATH_MAX + 1 + CRYPTO_HASH_LEN];
    size_t mlen = strnlen(r->method, 31), plen = strlen(r->path), n = 0;

    memcpy(buf + n, r->method, mlen), n += mlen;
    buf[n++] = '\0';
    memcpy(buf + n, r->path, plen), n += plen;
    buf[n++] = '\0';
    crypto_sha256(r->body, r->body_len, buf + n), n += CRYPTO_HASH_LEN;
    const struct crypto_key *root = crypto_keyring_newest(&r->worker->settings->otp_key);
    return root != NULL ? crypto_hmac_sha256(crypto_key_for(root, CRYPTO_PURPOSE_IDEMPOTENCY),
                                             CRYPTO_KEY_LEN, buf, n, out)
                        : STEPUP_ERR;
}
