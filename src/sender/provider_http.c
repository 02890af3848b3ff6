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
 * Many requests are under way at once, in one thread, with libcurl's
 * multi interface: one easy handle per send slot (sends_in_flight of them,
 * made when first needed and reused), one multi handle whose connection
 * cache keeps up to sends_in_flight kept-alive connections to the gateway
 * (HTTP/2 gateways multiplex over fewer).  start adds a transfer, wait is
 * curl_multi_poll (which also watches the sender's other descriptors: its
 * signals, the exec provider's pipes), collect runs curl_multi_perform and
 * reads what ended.  A transfer that outlives http_timeout_ms is aborted by
 * libcurl in collect.  While the sender waits for the database, drive runs
 * the transfers on (db_on_wait), so that an answer that came is read in
 * time: a slow database must not make an answered send look timed out,
 * and be sent again.  The body holds the code: it is wiped when its
 * transfer ends, and errors never quote it (each transfer keeps the code
 * until then to scrub error texts).
 */
#include <poll.h>
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

/* The first RESPONSE_KEEP bytes of an answer. */
struct response {
    char data[RESPONSE_KEEP + 1];
    size_t len;
};

/* One send slot: its easy handle (kept) and, while tag is set, a transfer. */
struct transfer {
    CURL *easy;
    void *tag;                /* start's; NULL: the slot is free */
    char *body;               /* the request (secret), wiped at the end */
    char code[16];            /* the code, to scrub error texts (secret) */
    char errbuf[CURL_ERROR_SIZE];
    struct response *resp;
};

struct http_state {
    const struct sender_config *c;
    CURLM *multi;
    struct curl_slist *headers;
    struct transfer *slots;
    size_t cap, busy;
    size_t *free_slots;       /* a stack of the indexes of free slots */
    size_t n_free;
    struct curl_waitfd *waitfds; /* wait's copy of the extra descriptors */
};

/* libcurl write callback: keep the start of the answer, accept the rest. */
static size_t collect_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
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

/* Wipe and free what a transfer held, and give its slot back. */
static void end_transfer(struct http_state *st, struct transfer *t)
{
    text_free_secret(t->body);
    t->body = NULL;
    crypto_wipe(t->code, sizeof t->code);
    if (t->resp != NULL) {
        crypto_wipe(t->resp, sizeof *t->resp);
        free(t->resp);
        t->resp = NULL;
    }
    t->tag = NULL;
    st->busy--;
    st->free_slots[st->n_free++] = (size_t)(t - st->slots);
}

/* Free the handles and the headers (state may be half built; nothing is under way). */
static void http_close(void *state)
{
    struct http_state *st = state;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->cap && st->slots != NULL; i++) {
        struct transfer *t = &st->slots[i];
        if (t->tag != NULL) {
            curl_multi_remove_handle(st->multi, t->easy);
            end_transfer(st, t);
        }
        if (t->easy != NULL)
            curl_easy_cleanup(t->easy);
    }
    if (st->multi != NULL)
        curl_multi_cleanup(st->multi);
    curl_slist_free_all(st->headers);
    free(st->slots);
    free(st->free_slots);
    free(st->waitfds);
    free(st);
}

/*
 * The multi handle, sends_in_flight slots and the header list: the
 * configured lines, a Content-Type for the body type unless one of them
 * sets it, and an empty Expect.  STEPUP_ERR when libcurl cannot allocate
 * them.
 */
static int http_open(const struct sender_config *c, void **state)
{
    struct http_state *st = calloc(1, sizeof *st);
    bool has_type = false;

    if (st == NULL)
        return STEPUP_ERR;
    st->c = c;
    st->cap = (size_t)c->sends_in_flight;
    st->slots = calloc(st->cap, sizeof *st->slots);
    st->free_slots = calloc(st->cap, sizeof *st->free_slots);
    st->waitfds = calloc(st->cap + PROVIDERS_EXTRA_FDS, sizeof *st->waitfds);
    st->multi = curl_multi_init();
    if (st->slots == NULL || st->free_slots == NULL || st->waitfds == NULL || st->multi == NULL)
        goto failed;
    for (size_t i = 0; i < st->cap; i++)
        st->free_slots[st->n_free++] = st->cap - 1 - i;
    /* Keep a kept-alive connection for every send that may be under way. */
    if (curl_multi_setopt(st->multi, CURLMOPT_MAXCONNECTS, (long)st->cap) != CURLM_OK)
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

/* Set the options of one request on t's easy handle; false when libcurl refused one. */
static bool set_options(struct http_state *st, struct transfer *t)
{
    const struct sender_config *c = st->c;
    CURL *h = t->easy;

    curl_easy_reset(h);
    return curl_easy_setopt(h, CURLOPT_URL, c->http_url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->headers) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body)) == CURLE_OK &&
           (strcmp(c->http_method, "POST") == 0 ||
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->http_method) == CURLE_OK) &&
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->http_connect_timeout_ms) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->http_timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USERAGENT, "stepup-sender/" PACKAGE_VERSION) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_answer) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, t->resp) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PRIVATE, t) == CURLE_OK &&
           (c->http_ca_file[0] == '\0' ||
            curl_easy_setopt(h, CURLOPT_CAINFO, c->http_ca_file) == CURLE_OK);
}

/* Add a transfer for m (see the top of the file); out says why when it could not start. */
static enum provider_start http_start(void *state, const struct provider_message *m, void *tag,
                                      struct provider_outcome *out)
{
    struct http_state *st = state;
    const struct sender_config *c = st->c;

    if (st->n_free == 0) { /* the sender never starts more than sends_in_flight */
        snprintf(out->error, sizeof out->error, "no free send slot (a bug)");
        return PROVIDER_FINISHED;
    }
    struct transfer *t = &st->slots[st->free_slots[--st->n_free]];
    st->busy++;
    t->tag = tag;
    t->errbuf[0] = '\0';
    snprintf(t->code, sizeof t->code, "%s", m->code);
    t->body = text_body(c->http_body, c->http_body_type, m->to, m->text, m->id);
    t->resp = calloc(1, sizeof *t->resp);
    if (t->easy == NULL)
        t->easy = curl_easy_init();
    if (t->body == NULL || t->resp == NULL || t->easy == NULL) {
        snprintf(out->error, sizeof out->error, "out of memory");
        goto not_started;
    }
    if (!set_options(st, t)) {
        snprintf(out->error, sizeof out->error, "libcurl refused an option");
        goto not_started;
    }
    if (curl_multi_add_handle(st->multi, t->easy) != CURLM_OK) {
        snprintf(out->error, sizeof out->error, "libcurl refused the transfer");
        goto not_started;
    }
    return PROVIDER_STARTED;

not_started:
    end_transfer(st, t);
    return PROVIDER_FINISHED;
}

/* What one finished transfer says (see the top of the file). */
static void outcome_of(struct http_state *st, struct transfer *t, CURLcode rc,
                       struct provider_outcome *out)
{
    const struct sender_config *c = st->c;

    if (rc != CURLE_OK) {
        char safe[CURL_ERROR_SIZE];
        text_safe_error(t->errbuf, strlen(t->errbuf), t->code, safe, sizeof safe);
        snprintf(out->error, sizeof out->error, "%s%s%.160s", curl_easy_strerror(rc),
                 safe[0] != '\0' ? ": " : "", safe);
        return;
    }
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    out->http_status = (int)status;
    if (status >= 200 && status <= 299) {
        out->result = PROVIDER_SENT;
        text_answer_id(t->resp->data, c->http_id_field, out->message_id, sizeof out->message_id);
        return;
    }
    out->result = sender_status_in(c->http_permanent_statuses, c->n_http_permanent_statuses,
                                   (int)status)
                      ? PROVIDER_PERMANENT
                      : PROVIDER_RETRY;
    char said[200];
    text_safe_error(t->resp->data, t->resp->len, t->code, said, sizeof said);
    snprintf(out->error, sizeof out->error, "HTTP %ld%s%s", status, said[0] != '\0' ? ": " : "",
             said);
}

/* curl_multi_poll on the transfers and the extra descriptors. */
static void http_wait(void *state, struct pollfd *extra, size_t n, int timeout_ms)
{
    struct http_state *st = state;
    if (n > st->cap + PROVIDERS_EXTRA_FDS)
        n = st->cap + PROVIDERS_EXTRA_FDS;
    for (size_t i = 0; i < n; i++) {
        st->waitfds[i].fd = extra[i].fd;
        st->waitfds[i].events = (short)(((extra[i].events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
                                        ((extra[i].events & POLLPRI) ? CURL_WAIT_POLLPRI : 0) |
                                        ((extra[i].events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
        st->waitfds[i].revents = 0;
    }
    CURLMcode rc = curl_multi_poll(st->multi, st->waitfds, (unsigned)n, timeout_ms, NULL);
    if (rc != CURLM_OK)
        log_msg(LOG_WARN, NULL, "http provider: curl_multi_poll: %s", curl_multi_strerror(rc));
    for (size_t i = 0; i < n; i++) {
        short r = st->waitfds[i].revents;
        extra[i].revents = (short)(((r & CURL_WAIT_POLLIN) ? POLLIN : 0) |
                                   ((r & CURL_WAIT_POLLPRI) ? POLLPRI : 0) |
                                   ((r & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
    }
}

/* Run the transfers on, and report those that ended. */
static void http_collect(void *state, provider_done_fn *done, void *arg)
{
    struct http_state *st = state;
    int running = 0, left = 0;
    CURLMsg *msg;

    if (st->busy == 0)
        return;
    CURLMcode mrc = curl_multi_perform(st->multi, &running);
    if (mrc != CURLM_OK)
        log_msg(LOG_WARN, NULL, "http provider: curl_multi_perform: %s", curl_multi_strerror(mrc));
    while ((msg = curl_multi_info_read(st->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct provider_outcome out;
        CURLcode rc = msg->data.result;
        CURL *easy = msg->easy_handle;
        char *priv = NULL;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        struct transfer *t = (struct transfer *)priv;
        provider_outcome_init(&out);
        outcome_of(st, t, rc, &out);
        curl_multi_remove_handle(st->multi, easy);
        /* curl keeps pointers to the body and the error buffer: point them away. */
        (void)curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
        (void)curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
        void *tag = t->tag;
        end_transfer(st, t);
        done(arg, tag, &out);
    }
}

/* Run the transfers on; collect reports those that ended (curl queues them). */
static void http_drive(void *state)
{
    struct http_state *st = state;
    int running = 0;
    if (st->busy == 0)
        return;
    CURLMcode mrc = curl_multi_perform(st->multi, &running);
    if (mrc != CURLM_OK)
        log_msg(LOG_WARN, NULL, "http provider: curl_multi_perform: %s", curl_multi_strerror(mrc));
}

static size_t http_under_way(const void *state)
{
    const struct http_state *st = state;
    return st->busy;
}

const struct provider_ops provider_http_ops = {
    .name = "http", .open = http_open, .start = http_start, .wait = http_wait,
    .collect = http_collect, .drive = http_drive, .under_way = http_under_way,
    .close = http_close,
};
