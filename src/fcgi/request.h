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
#include "../lib/validate.h"
#include "client_addr.h"
#include "settings.h"

struct route;
struct metrics;
struct waker;

struct settings_store;

struct worker {
    int id;
    struct settings_store *store;     /* main()'s: reloaded on SIGHUP (reload.h) */
    const struct settings *settings;  /* the store's current copy, for one request */
    struct db *db;
    struct metrics *metrics;          /* main()'s: the process counters (metrics.h) */
    struct waker *waker;              /* main()'s: wakes the senders (waker.h); may be NULL */
    FCGX_Request fcgx;
};

#define REQUEST_PATH_MAX 1024
#define REQUEST_PARAM_MAX 64

struct request {
    struct worker *worker;
    char ref[CRYPTO_UUID_LEN + 1]; /* request-ref: response header and logs */

    /* From the FastCGI parameters; NULL when absent.  Owned by libfcgi. */
    const char *method;
    const char *remote_addr;  /* REMOTE_ADDR: the peer of the web server */
    const char *user_agent;   /* as stored: user_agent_buf, or NULL when absent */
    const char *api_key;      /* "api-key" header, NULL when absent or empty */
    const char *bearer;       /* token of "Authorization: Bearer", NULL when absent/empty/"null" */
    const char *idem_ref;     /* "idempotency-ref" header, NULL when absent or empty */
    /* SHA-256 of api_key and of bearer (how both are stored); zero when absent. */
    unsigned char key_hash[CRYPTO_HASH_LEN];
    unsigned char token_hash[CRYPTO_HASH_LEN];
    char path[REQUEST_PATH_MAX]; /* the URL path, without the query */
    /* The User-Agent header as recorded: ill-formed UTF-8 replaced, cut to a whole character. */
    char user_agent_buf[VALIDATE_USER_AGENT_MAX + 1];
    bool authorizer;          /* FastCGI role AUTHORIZER, not RESPONDER */
    /*
     * The error document of a gate's refusal (REDIRECT_STEPUP_GATE set):
     * Apache's mod_fcgid turns every refusal of an authorizer into a bare
     * 401, so its configuration sends that 401 back here, and the
     * responder answers as the gate did (401 or 403, with its body).
     */
    bool gate_refusal;
    /*
     * Authorizer: the web server replaces a refusal by an error document
     * that asks again (STEPUP_GATE_REFUSAL=error-document, set by
     * apache-fcgid.conf.in): refuse with a bare status and record nothing,
     * the second ask answers the client and writes the audit event.
     */
    bool refusal_asked_again;
    /* The client: REMOTE_ADDR or what a trusted proxy forwards (client_addr.h); "" unknown. */
    char client_addr[CLIENT_ADDR_MAX];
    /* Authorizer: the gate's name (STEPUP_GATE, else the gate_name setting). */
    const char *gate;

    /* The body, read in full (NUL-terminated); owned by the request. */
    char *body;
    size_t body_len;

    /* Filled by the router. */
    const struct route *route;
    char param[REQUEST_PARAM_MAX]; /* the {channel} path segment */

    /* Filled by response.c. */
    int status; /* 0 until answered */
    struct timespec started; /* when request_init began */
    long long duration_us;   /* from started to the answer (response.c): log line, metrics */
};

/* Whether an accepted request could be read, and if not, why. */
enum request_status {
    REQUEST_OK,
    REQUEST_NO_METHOD,     /* no REQUEST_METHOD parameter: not an HTTP request */
    REQUEST_BAD_LENGTH,    /* CONTENT_LENGTH is not a number */
    REQUEST_TOO_LARGE,     /* the body is longer than max_body_bytes */
    REQUEST_SHORT_BODY,    /* the body ended before CONTENT_LENGTH */
    REQUEST_NO_MEMORY,
};

/*
 * Fill r from the accepted FastCGI request: headers, path, a new
 * request-ref and the body (at most max_body bytes).  Whatever it returns,
 * r can be answered (its ref and method are set) and must be released.
 */
enum request_status request_init(struct request *r, struct worker *w, size_t max_body);
void request_release(struct request *r);

/* The client address (client_addr.h) as a database argument: NULL when unknown. */
const char *request_client_addr(const struct request *r);

/* The pure parts of request_init, for the unit tests. */

/* The token of an Authorization header value, or NULL ("Bearer x" -> "x"). */
const char *request_bearer_token(const char *authorization);

/*
 * The body length a CONTENT_LENGTH value announces (NULL or "": 0) into
 * *len: REQUEST_OK, REQUEST_BAD_LENGTH (not a plain decimal number) or
 * REQUEST_TOO_LARGE (above max).
 */
enum request_status request_content_length(const char *value, size_t max, size_t *len);

/*
 * The path of the URL into out: REQUEST_URI up to its query ('?') or
 * fragment ('#'), else SCRIPT_NAME followed by PATH_INFO (either may be
 * NULL); truncated to outlen - 1 bytes.
 */
void request_url_path(const char *uri, const char *script, const char *info, char *out,
                      size_t outlen);

/* A keyed hash of method, path and body: what idempotency compares. */
int request_fingerprint(const struct request *r, unsigned char out[CRYPTO_HASH_LEN]) WARN_UNUSED;

#endif
