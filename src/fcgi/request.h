/*
 * request.h - one HTTP request as stepup-fcgi sees it.
 *
 * A worker owns one struct worker for its lifetime (its FastCGI request
 * slot and its database connection) and fills a fresh struct request for
 * every accepted request.  Handlers receive the request and answer through
 * response.h; they never touch FastCGI or libpq directly.
 */
#ifndef STEPUP_REQUEST_H
#define STEPUP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <fcgiapp.h>

#include "../lib/crypto.h"
#include "../lib/db.h"
#include "../lib/settings.h"

struct route;

struct worker {
    int id;
    const struct settings *settings;
    struct db *db;
    FCGX_Request fcgx;
};

#define REQUEST_PATH_MAX 1024
#define REQUEST_PARAM_MAX 64

struct request {
    struct worker *worker;
    char ref[CRYPTO_UUID_LEN + 1]; /* request-ref: response header and logs */

    /* From the FastCGI parameters; NULL when absent.  Owned by libfcgi. */
    const char *method;
    const char *remote_addr;
    const char *user_agent;
    const char *api_key;      /* "api-key" header, NULL when absent or empty */
    const char *bearer;       /* token of "Authorization: Bearer", NULL when absent/empty/"null" */
    const char *idem_ref;     /* "idempotency-ref" header, NULL when absent or empty */
    /* SHA-256 of api_key and of bearer (how both are stored); zero when absent. */
    unsigned char key_hash[CRYPTO_HASH_LEN];
    unsigned char token_hash[CRYPTO_HASH_LEN];
    char path[REQUEST_PATH_MAX]; /* the URL path, without the query */
    bool authorizer;          /* FastCGI role AUTHORIZER, not RESPONDER */

    /* The body, read in full (NUL-terminated); owned by the request. */
    char *body;
    size_t body_len;

    /* Filled by the router. */
    const struct route *route;
    char param[REQUEST_PARAM_MAX]; /* the {channel} path segment */

    /* Filled by response.c. */
    int status; /* 0 until answered */
    struct timespec started; /* for the duration in the log line */
};

/*
 * Fill r from the accepted FastCGI request: headers, path, a new
 * request-ref and the body (at most max_body bytes).  Returns STEPUP_OK, or
 * the HTTP status to answer with (400, 413) when the request cannot be read.
 */
int request_init(struct request *r, struct worker *w, size_t max_body);
void request_release(struct request *r);

/* The token of an Authorization header value, or NULL ("Bearer x" -> "x"). */
const char *request_bearer_token(const char *authorization);

/* A keyed hash of method, path and body: what idempotency compares. */
int request_fingerprint(const struct request *r, unsigned char out[CRYPTO_HASH_LEN]) WARN_UNUSED;

#endif
