/*
 * provider_http.c - the http provider: one request per message to a
 * gateway, with libcurl.
 *
 * The request: http_method to http_url with the http_header lines (plus a
 * Content-Type for http_body_type unless one is given) and http_body with
 * {to}, {text} and {message_id} filled in.  The answer: 2xx is sent (the
 * gateway's message id is taken from the JSON field http_id_field when the
 * answer has one); a status in http_permanent_statuses is a permanent
 * failure; anything else - another status, a network error, a timeout - is
 * retried.  A timeout is the one case where the gateway may have taken the
 * message anyway: the retry can send it twice (at-least-once).
 *
 * One easy handle is kept for the life of the provider, so connections to
 * the gateway are reused.  The body holds the code: it is wiped after each
 * request, and errors never quote it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "config.h" /* autoconf: PACKAGE_VERSION */
#include "../lib/crypto.h"
#include "../lib/log.h"
#include "provider.h"
#include "text.h"

#define RESPONSE_KEEP 16384

struct http_state {
    const struct sender_config *c;
    CURL *curl;
    struct curl_slist *headers;
};

/* The first RESPONSE_KEEP bytes of an answer. */
struct response {
    char data[RESPONSE_KEEP + 1];
    size_t len;
};

/* libcurl write callback: keep the start of the answer, accept the rest. */
static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct response *r = userdata;
    size_t n = size * nmemb, keep = RESPONSE_KEEP - r->len;
    if (n < keep)
        keep = n;
    memcpy(r->data + r->len, ptr, keep);
    r->len += keep;
    r->data[r->len] = '\0';
    return n; /* take it all, keep the start */
}

/* Free the handle and the headers (state may be half built). */
static void http_close(void *state)
{
    struct http_state *st = state;
    if (st == NULL)
        return;
    curl_slist_free_all(st->headers);
    if (st->curl != NULL)
        curl_easy_cleanup(st->curl);
    free(st);
}

/*
 * One easy handle and the header list: the configured lines, a
 * Content-Type for the body type unless one of them sets it, and an empty
 * Expect.  STEPUP_ERR when libcurl cannot allocate them.
 */
static int http_open(const struct sender_config *c, void **state)
{
    struct http_state *st = calloc(1, sizeof *st);
    bool has_type = false;

    if (st == NULL)
        return STEPUP_ERR;
    st->c = c;
    st->curl = curl_easy_init();
    if (st->curl == NULL)
        goto failed;
    for (size_t i = 0; i < c->http_headers.count; i++) {
        struct curl_slist *l = curl_slist_append(st->headers, c->http_headers.items[i]);
        if (l == NULL)
            goto failed;
        st->headers = l;
        if (strncasecmp(c->http_headers.items[i], "Content-Type:", 13) == 0)
            has_type = true;
    }
    if (!has_type) {
        const char *h = c->http_body_type == BODY_JSON
                            ? "Content-Type: application/json"
                            : "Content-Type: application/x-www-form-urlencoded";
        struct curl_slist *l = curl_slist_append(st->headers, h);
        if (l == NULL)
            goto failed;
        st->headers = l;
    }
    /* No "Expect: 100-continue" round trip. */
    struct curl_slist *l = curl_slist_append(st->headers, "Expect:");
    if (l == NULL)
        goto failed;
    st->headers = l;
    *state = st;
    return STEPUP_OK;

failed:
    http_close(st);
    return STEPUP_ERR;
}

/* One request for one message; out says how it went (see the top of the file). */
static void http_send(void *state, const struct provider_message *m, struct provider_outcome *out)
{
    struct http_state *st = state;
    const struct sender_config *c = st->c;
    CURL *h = st->curl;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct response *resp = calloc(1, sizeof *resp);
    char *body = text_body(c->http_body, c->http_body_type, m->to, m->text, m->id);
    CURLcode rc;

    if (resp == NULL || body == NULL) {
        snprintf(out->error, sizeof out->error, "out of memory");
        goto done;
    }
    curl_easy_reset(h);
    if (curl_easy_setopt(h, CURLOPT_URL, c->http_url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->headers) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK ||
        (strcmp(c->http_method, "POST") != 0 &&
         curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->http_method) != CURLE_OK) ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->http_connect_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->http_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "stepup-sender/" PACKAGE_VERSION) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, resp) != CURLE_OK ||
        (c->http_ca_file[0] != '\0' &&
         curl_easy_setopt(h, CURLOPT_CAINFO, c->http_ca_file) != CURLE_OK)) {
        snprintf(out->error, sizeof out->error, "libcurl refused an option");
        goto done;
    }

    rc = curl_easy_perform(h);
    /* curl keeps pointers to the body and the error buffer: point them away. */
    (void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (rc != CURLE_OK) {
        char safe[CURL_ERROR_SIZE];
        text_safe_error(errbuf, strlen(errbuf), m->code, safe, sizeof safe);
        snprintf(out->error, sizeof out->error, "%s%s%.160s", curl_easy_strerror(rc),
                 safe[0] != '\0' ? ": " : "", safe);
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    out->http_status = (int)status;
    if (status >= 200 && status <= 299) {
        out->result = PROVIDER_SENT;
        text_answer_id(resp->data, c->http_id_field, out->message_id, sizeof out->message_id);
        goto done;
    }
    out->result = sender_status_in(c->http_permanent_statuses, c->n_http_permanent_statuses,
                                   (int)status)
                      ? PROVIDER_PERMANENT
                      : PROVIDER_RETRY;
    char said[200];
    text_safe_error(resp->data, resp->len, m->code, said, sizeof said);
    snprintf(out->error, sizeof out->error, "HTTP %ld%s%s", status, said[0] != '\0' ? ": " : "",
             said);

done:
    text_free_secret(body);
    if (resp != NULL) {
        crypto_wipe(resp, sizeof *resp);
        free(resp);
    }
}

const struct provider_ops provider_http_ops = {
    .name = "http", .open = http_open, .send = http_send, .close = http_close,
};
