/*
 * response.c - every answer of stepup-fcgi goes through here.  See response.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "request.h"
#include "response.h"
#include "router.h"

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

struct json_object *error_body(const char *code, const char *message)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message", json_object_new_string(message));
    return o;
}

struct json_object *conflict_body(const char *error_code)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "errorCode", json_object_new_string(error_code));
    return o;
}

struct json_object *invalid_field_body(const char *field, const char *error,
                                       const char *const *params, size_t nparams)
{
    struct json_object *plist = json_object_new_array();
    for (size_t i = 0; i < nparams; i++)
        json_object_array_add(plist, json_object_new_string(params[i]));

    struct json_object *item = json_object_new_object();
    json_object_object_add(item, "params", plist);
    json_object_object_add(item, "fieldName", json_object_new_string(field));
    json_object_object_add(item, "error", json_object_new_string(error));

    struct json_object *fields = json_object_new_array();
    json_object_array_add(fields, item);
    struct json_object *syntax = json_object_new_object();
    json_object_object_add(syntax, "invalidFields", fields);

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string("Invalid request"));
    json_object_object_add(o, "syntaxErrors", syntax);
    return o;
}

static long long elapsed_us(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - since->tv_sec) * 1000000 +
           (now.tv_nsec - since->tv_nsec) / 1000;
}

const char *request_route_name(const struct request *r)
{
    return r->route != NULL ? r->route->pattern : "unmatched";
}

/*
 * Take the request's one answer: 1 when status is its first (recorded in
 * r->status, with r->duration_us), 0 when it was answered already (a bug:
 * logged, dropped).
 */
static int answer_first(struct request *r, int status)
{
    if (r->status != 0) {
        log_msg(LOG_ERROR, r->ref, "bug: second answer (%d after %d) dropped", status, r->status);
        return 0;
    }
    r->status = status;
    r->duration_us = elapsed_us(&r->started);
    return 1;
}

/* The one log line of an answer: method, path, route, status, duration, and note. */
static void answer_log(const struct request *r, const char *note)
{
    log_msg(r->status >= 500 ? LOG_WARN : LOG_INFO, r->ref, "%s %s route=%s -> %d (%ld ms%s)",
            r->method != NULL ? r->method : "-", r->path, request_route_name(r), r->status,
            (long)(r->duration_us / 1000), note);
}

/* Write the status line, headers and body (of content_type); log the answer once. */
static void reply_raw(struct request *r, int status, const char *content_type, const char *body,
                      const char *extra_header)
{
    FCGX_Stream *out = r->worker->fcgx.out;

    if (!answer_first(r, status))
        return;
    /*
     * Each piece is written as it is, not with FCGX_FPrintF, whose printf
     * knows no %zu; only the fixed-size parts go through snprintf.
     */
    char line[128];
    snprintf(line, sizeof line, "Status: %d %s\r\nrequest-ref: %s\r\n", status,
             http_reason(status), r->ref);
    FCGX_PutS(line, out);
    FCGX_PutS("Cache-Control: no-store\r\n", out);
    if (extra_header != NULL) {
        FCGX_PutS(extra_header, out);
        FCGX_PutS("\r\n", out);
    }
    if (body != NULL) {
        FCGX_PutS("Content-Type: ", out);
        FCGX_PutS(content_type, out);
        snprintf(line, sizeof line, "\r\nContent-Length: %zu\r\n", strlen(body));
        FCGX_PutS(line, out);
    }
    FCGX_PutS("\r\n", out);
    if (body != NULL)
        FCGX_PutS(body, out);
    answer_log(r, "");
}

#define JSON_TYPE "application/json"

void reply_json(struct request *r, int status, struct json_object *body)
{
    const char *text = body != NULL
                           ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE)
                           : NULL;
    reply_raw(r, status, JSON_TYPE, text, NULL);
    json_object_put(body);
}

void reply_text(struct request *r, int status, const char *content_type, const char *body)
{
    reply_raw(r, status, content_type, body, NULL);
}

void reply_no_content(struct request *r)
{
    reply_raw(r, 204, NULL, NULL, NULL);
}

void reply_headers(struct request *r, int status, const char *headers)
{
    reply_raw(r, status, NULL, NULL, headers);
}

void reply_status_only(struct request *r, int status)
{
    char line[64];
    if (!answer_first(r, status))
        return;
    snprintf(line, sizeof line, "Status: %d %s\r\n\r\n", status, http_reason(status));
    FCGX_PutS(line, r->worker->fcgx.out);
    answer_log(r, ", refusal passed to the error document");
}

void reply_error(struct request *r, int status, const char *code, const char *message,
                 const char *extra_header)
{
    struct json_object *body = error_body(code, message);
    reply_raw(r, status, JSON_TYPE,
              json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE),
              extra_header);
    json_object_put(body);
}

void reply_conflict(struct request *r, const char *error_code)
{
    reply_json(r, 409, conflict_body(error_code));
}

void reply_invalid_field(struct request *r, const char *field, const char *error,
                         const char *const *params, size_t nparams)
{
    reply_json(r, 400, invalid_field_body(field, error, params, nparams));
}

void reply_field_problem(struct request *r, const char *field, const char *problem, size_t min,
                         size_t max)
{
    char lo[24], hi[24];
    const char *const params[] = { lo, hi };
    int sized = strcmp(problem, "SIZE") == 0;

    snprintf(lo, sizeof lo, "%zu", min);
    snprintf(hi, sizeof hi, "%zu", max);
    reply_invalid_field(r, field, problem, sized ? params : NULL, sized ? 2 : 0);
}

/* The outcomes every route that authenticates shares. */
static const struct outcome_reply shared_outcomes[] = {
    { "API_KEY_UNKNOWN", 401, "UNAUTHORISED", "Unknown api-key" },
    { "TOKEN_INVALID", 401, "UNAUTHORISED", "Missing, unknown or expired session token" },
    { "FORBIDDEN", 403, "FORBIDDEN", "This token may not perform this operation" },
    { "IDEMPOTENCY_MISMATCH", 422, "IDEMPOTENCY_REF_MISMATCH",
      "This idempotency-ref was used for another operation or payload" },
    { "IDEMPOTENCY_IN_FLIGHT", 409, "IDEMPOTENCY_REF_IN_FLIGHT", NULL },
    OUTCOMES_END,
};

/* The entry of outcome in table (ended by OUTCOMES_END), or NULL. */
static const struct outcome_reply *find_outcome(const struct outcome_reply *table,
                                                const char *outcome)
{
    for (; table != NULL && table->outcome != NULL; table++) {
        if (strcmp(table->outcome, outcome) == 0)
            return table;
    }
    return NULL;
}

void reply_outcome(struct request *r, const char *outcome)
{
    if (strcmp(outcome, "OK") == 0) {
        reply_no_content(r);
        return;
    }
    const struct outcome_reply *o = find_outcome(shared_outcomes, outcome);
    if (o == NULL && r->route != NULL)
        o = find_outcome(r->route->outcomes, outcome);
    if (o == NULL) {
        reply_internal_error(r, "outcome '%s' is not one of %s's", outcome,
                             r->route != NULL ? r->route->operation : "this request");
        return;
    }
    const char *code = o->code != NULL ? o->code : o->outcome;
    if (o->status == 409)
        reply_conflict(r, code);
    else
        reply_error(r, o->status, code, o->message, NULL);
}

void reply_internal_error(struct request *r, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    log_msg(LOG_ERROR, r->ref, "internal error: %s", reason);
    reply_error(r, 500, "INTERNAL_ERROR", "Internal error", NULL);
}

void reply_rate_limited(struct request *r, const char *name, long count, long seconds,
                        long retry_after)
{
    char headers[160], message[160];
    snprintf(headers, sizeof headers,
             "x-ratelimit-limit: %ld, %ld;w=%ld\r\nx-ratelimit-reset: %ld\r\nRetry-After: %ld",
             count, count, seconds, retry_after, retry_after);
    snprintf(message, sizeof message, "Rate limit %s reached: try again in %ld seconds", name,
             retry_after);
    reply_error(r, 429, "TOO_MANY_REQUESTS", message, headers);
}

void reply_unavailable(struct request *r)
{
    reply_error(r, 503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable",
                "Retry-After: 1");
}
