/*
 * sender_config.c - stepup-sender's configuration: its declarative table, and the
 * checks that span several keys.  The parser, and the keys every program
 * reads, are the shared ones of src/lib/config.c.  See sender_config.h.
 *
 * As in stepup.conf, error messages never contain a value: values may be
 * secrets (outbox_key, a password in db_conninfo, an API key in a header).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/secret_file.h"
#include "sender_config.h"

#define FIELD(f) offsetof(struct sender_config, f)

#define DEFAULT_BODY "{\"to\": \"{to}\", \"text\": \"{text}\", \"messageId\": \"{message_id}\"}"

static const struct setting_def sender_defs[] = {
    {"provider", SETTING_STRING, FIELD(provider), 0, 0, "log",
     "provider of the programmes whose sms_provider is not set: http, exec or log"},
    {"poll_interval_ms", SETTING_INT, FIELD(poll_interval_ms), 10, 3600000, "5000",
     "longest idle wait (10..3600000 ms) before looking at the outbox without a NOTIFY"},
    {"batch_size", SETTING_INT, FIELD(batch_size), 1, 1000, "64",
     "most messages one claim takes (1..1000, at most sends_in_flight); the sender claims again "
     "as soon as that many of its sends_in_flight are free, or as results are recorded, so the "
     "pipeline stays full. Each claim is a round trip and a commit: 64 measured twice the "
     "throughput of 20 into a fast gateway"},
    {"sends_in_flight", SETTING_INT, FIELD(sends_in_flight), 1, 1000, "256",
     "messages one sender has in flight at once (1..1000): claimed and not yet recorded, across "
     "its providers (a connection to the gateway each over HTTP/1.1, fewer with HTTP/2; a "
     "program each for exec). A gateway that answers in 200 ms needs 100 at once for 500 "
     "messages/s, and each slot also waits for its batch's result to be recorded and the next "
     "claim (tens of ms on a busy database): 256 measured 970 messages/s there where 128 gave "
     "470 on a loaded machine. Most gateways take that many concurrent requests (nginx's "
     "default is 512 connections a worker); lower it to what your gateway's contract allows "
     "(its 429 answers are retried with back-off). A sender killed with SIGKILL may send at "
     "most this many messages twice"},
    {"lease_seconds", SETTING_INT, FIELD(lease_seconds), 1, 86400, "300",
     "how long a claim lasts (1..86400 s); a killed sender's messages are retried after it. "
     "At least twice the longest send (http_timeout_ms, exec_timeout_ms) plus 2 s: a send is "
     "started only while the lease outlives its timeout by 2 s, so a lease is never renewed"},
    {"max_attempts", SETTING_INT, FIELD(max_attempts), 1, 1000, "5",
     "attempts (1..1000) before a message is DEAD"},
    {"backoff_base_ms", SETTING_INT, FIELD(backoff_base_ms), 1, 86400000, "2000",
     "back-off after the first failure (ms); it doubles with each attempt, with random jitter "
     "(the wait is between half and all of it)"},
    {"backoff_max_ms", SETTING_INT, FIELD(backoff_max_ms), 1, 86400000, "300000",
     "longest back-off (ms)"},
    {"http_url", SETTING_STRING, FIELD(http_url), 0, 0, "",
     "http provider: the gateway's URL (http or https)"},
    {"http_method", SETTING_STRING, FIELD(http_method), 0, 0, "POST",
     "http provider: POST or PUT"},
    {"http_header", SETTING_LIST, FIELD(http_headers), 0, 0, "",
     "http provider: a request header \"Name: value\" (e.g. an API key or Authorization: Basic ...); "
     "repeat the key for more headers"},
    {"http_body", SETTING_STRING, FIELD(http_body), 0, 0, DEFAULT_BODY,
     "http provider: the request body; {to}, {text} and {message_id} (the outbox id) are replaced, "
     "escaped for http_body_type. In the file, quote it and write \\\" for a quote"},
    {"http_body_type", SETTING_STRING, FIELD(http_body_type_text), 0, 0, "json",
     "http provider: json (values JSON-escaped, Content-Type application/json) or form "
     "(values URL-encoded, application/x-www-form-urlencoded), unless a header sets Content-Type"},
    {"http_connect_timeout_ms", SETTING_INT, FIELD(http_connect_timeout_ms), 1, 600000, "5000",
     "http provider: connect timeout (ms)"},
    {"http_timeout_ms", SETTING_INT, FIELD(http_timeout_ms), 1, 3600000, "15000",
     "http provider: timeout of the whole request (ms); a timed-out send is retried"},
    {"http_permanent_statuses", SETTING_STRING, FIELD(http_permanent_statuses_text), 0, 0,
     "400,401,403,404,422",
     "http provider: statuses that fail a message for good (DEAD at once, no retry); other "
     "non-2xx statuses and network errors are retried"},
    {"http_id_field", SETTING_STRING, FIELD(http_id_field), 0, 0, "messageId",
     "http provider: the field of a JSON answer holding the gateway's message id (a.b for a nested "
     "field; empty: none)"},
    {"http_ca_file", SETTING_STRING, FIELD(http_ca_file), 0, 0, "",
     "http provider: CA certificates (PEM) to verify the gateway with; empty: the system's"},
    {"exec_program", SETTING_STRING, FIELD(exec_program), 0, 0, "",
     "exec provider: the program to run (absolute path), with the number as its argument and the "
     "text on its standard input; exit status 0 means sent"},
    {"exec_timeout_ms", SETTING_INT, FIELD(exec_timeout_ms), 1, 3600000, "15000",
     "exec provider: the program is killed after this long (ms) and the send retried"},
    {"exec_permanent_exit_codes", SETTING_STRING, FIELD(exec_permanent_exit_codes_text), 0, 0, "",
     "exec provider: exit statuses that fail a message for good (e.g. 2,3); others are retried"},
    {"audit_key_file", SETTING_STRING, FIELD(audit_key_file), 0, 0, "",
     "the Ed25519 private key (PEM, `openssl genpkey -algorithm ed25519`) that seals the audit "
     "log; empty: this sender does not seal (run exactly one sealer per database, or more: they "
     "take turns)"},
    {"audit_seal_interval_ms", SETTING_INT, FIELD(audit_seal_interval_ms), 100, 600000, "2000",
     "how often (ms) the sealer seals the audit events committed since its last seal"},
};

static const struct setting_section sender_sections[] = {
    CONFIG_COMMON_SECTION(struct sender_config),
    { sender_defs, ARRAY_LEN(sender_defs), 0 },
};

/*
 * The table's check of a whole file: sender_config_check, and that the
 * audit signing key it names, when it can be opened, is its owner's alone
 * (so --check-config says what start-up and a reload would: the sealer
 * reads the key itself, and says so when it is missing).
 */
static int check_loaded(void *obj, char *err, size_t errlen)
{
    const struct sender_config *c = obj;
    if (sender_config_check(obj, err, errlen) != STEPUP_OK)
        return STEPUP_ERR;
    if (c->audit_key_file == NULL || c->audit_key_file[0] == '\0')
        return STEPUP_OK;
    int fd = open(c->audit_key_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return STEPUP_OK;
    int rc = secret_file_check(fd, c->audit_key_file, err, errlen);
    close(fd);
    return rc;
}

const struct setting_table sender_config_table = {
    "stepup-sender", sender_sections, ARRAY_LEN(sender_sections), sizeof(struct sender_config),
    check_loaded, NULL, /* a reload applies every key (main.c: reload) */
};

void sender_config_defaults(struct sender_config *c)
{
    memset(c, 0, sizeof *c);
    config_defaults(&sender_config_table, c);
}

int sender_config_set(struct sender_config *c, const char *key, const char *value, char *err,
                      size_t errlen)
{
    return config_set(&sender_config_table, c, key, value, err, errlen);
}

void sender_config_free(struct sender_config *c)
{
    config_free(&sender_config_table, c);
}

int sender_config_send_timeout_ms(const struct sender_config *c)
{
    return c->http_timeout_ms > c->exec_timeout_ms ? c->http_timeout_ms : c->exec_timeout_ms;
}

int sender_config_provider_timeout_ms(const struct sender_config *c, const char *provider)
{
    if (strcmp(provider, "http") == 0)
        return c->http_timeout_ms;
    if (strcmp(provider, "exec") == 0)
        return c->exec_timeout_ms;
    return 0;
}

long long sender_config_start_window_ms(const struct sender_config *c, const char *provider)
{
    return (long long)c->lease_seconds * 1000 - sender_config_provider_timeout_ms(c, provider) -
           SENDER_LEASE_MARGIN_MS;
}

bool sender_status_in(const int *list, size_t n, int code)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == code)
            return true;
    }
    return false;
}

/*
 * Parse "400,401, 403" (blanks allowed around items; empty: no item) into
 * out, each in [min, max].  STEPUP_ERR with a reason naming key.
 */
static int parse_code_list(const char *key, const char *text, int min, int max, int *out,
                           size_t *n, char *err, size_t errlen)
{
    const char *p = text;

    *n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return STEPUP_OK;
    for (;;) {
        char *end;
        long v;
        while (*p == ' ' || *p == '\t')
            p++;
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || !isdigit((unsigned char)*p) || errno != 0 || v < min || v > max ||
            *n >= SENDER_MAX_STATUSES) {
            snprintf(err, errlen, "%s: expected up to %d comma-separated numbers in %d..%d", key,
                     SENDER_MAX_STATUSES, min, max);
            return STEPUP_ERR;
        }
        out[(*n)++] = (int)v;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return STEPUP_OK;
        if (*p != ',') {
            snprintf(err, errlen, "%s: expected up to %d comma-separated numbers in %d..%d", key,
                     SENDER_MAX_STATUSES, min, max);
            return STEPUP_ERR;
        }
        p++;
    }
}

/* True for a known provider name. */
static bool provider_name_ok(const char *name)
{
    return strcmp(name, "http") == 0 || strcmp(name, "exec") == 0 || strcmp(name, "log") == 0;
}

/* "Name: value" with a token name and no control characters. */
static bool header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (colon == NULL || colon == h)
        return false;
    for (const char *p = h; p < colon; p++) {
        if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
            return false;
    }
    for (const char *p = h; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return false;
    }
    return true;
}

int sender_config_check(struct sender_config *c, char *err, size_t errlen)
{
    if (!provider_name_ok(c->provider)) {
        snprintf(err, errlen, "provider: expected http, exec or log");
        return STEPUP_ERR;
    }
    if (strcmp(c->http_method, "POST") != 0 && strcmp(c->http_method, "PUT") != 0) {
        snprintf(err, errlen, "http_method: expected POST or PUT");
        return STEPUP_ERR;
    }
    if (strcmp(c->http_body_type_text, "json") == 0) {
        c->http_body_type = BODY_JSON;
    } else if (strcmp(c->http_body_type_text, "form") == 0) {
        c->http_body_type = BODY_FORM;
    } else {
        snprintf(err, errlen, "http_body_type: expected json or form");
        return STEPUP_ERR;
    }
    if (parse_code_list("http_permanent_statuses", c->http_permanent_statuses_text, 100, 599,
                        c->http_permanent_statuses, &c->n_http_permanent_statuses, err,
                        errlen) != STEPUP_OK ||
        parse_code_list("exec_permanent_exit_codes", c->exec_permanent_exit_codes_text, 1, 255,
                        c->exec_permanent_exit_codes, &c->n_exec_permanent_exit_codes, err,
                        errlen) != STEPUP_OK)
        return STEPUP_ERR;
    for (size_t i = 0; i < c->http_headers.count; i++) {
        if (!header_ok(c->http_headers.items[i])) {
            snprintf(err, errlen, "http_header #%zu: expected \"Name: value\"", i + 1);
            return STEPUP_ERR;
        }
    }
    if (c->http_url[0] != '\0' && strncasecmp(c->http_url, "http://", 7) != 0 &&
        strncasecmp(c->http_url, "https://", 8) != 0) {
        snprintf(err, errlen, "http_url: expected an http:// or https:// URL");
        return STEPUP_ERR;
    }
    if (strcmp(c->provider, "http") == 0 && c->http_url[0] == '\0') {
        snprintf(err, errlen, "provider is http but http_url is not set");
        return STEPUP_ERR;
    }
    if (c->exec_program[0] != '\0' && c->exec_program[0] != '/') {
        snprintf(err, errlen, "exec_program: expected an absolute path");
        return STEPUP_ERR;
    }
    if (strcmp(c->provider, "exec") == 0 && c->exec_program[0] == '\0') {
        snprintf(err, errlen, "provider is exec but exec_program is not set");
        return STEPUP_ERR;
    }
    if (c->batch_size > c->sends_in_flight) {
        snprintf(err, errlen, "batch_size must not exceed sends_in_flight (a claim takes at most "
                 "the free send slots)");
        return STEPUP_ERR;
    }
    if (c->backoff_base_ms > c->backoff_max_ms) {
        snprintf(err, errlen, "backoff_base_ms must not exceed backoff_max_ms");
        return STEPUP_ERR;
    }
    /* Sends may start during the first lease - timeout - margin ms of a
     * claim: at least one timeout's worth, so a batch always gets going. */
    if ((long)c->lease_seconds * 1000 <
        2L * sender_config_send_timeout_ms(c) + SENDER_LEASE_MARGIN_MS) {
        snprintf(err, errlen,
                 "lease_seconds must be at least twice the longest send timeout (http_timeout_ms, "
                 "exec_timeout_ms) plus %d ms", SENDER_LEASE_MARGIN_MS);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

int sender_config_load(struct sender_config *c, const char *path, char *err, size_t errlen)
{
    return config_load(&sender_config_table, c, path, err, errlen); /* checks too */
}
