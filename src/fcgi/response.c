/*
 * response.c - every answer of stepup-fcgi goes through here.  See response.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "request.h"
#include "response.h"

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

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Write the status line, headers and body; log the answer once. */
static void reply_raw(struct request *r, int status, const char *body, const char *extra_header)
{
    FCGX_Stream *out = r->worker->fcgx.out;

    if (r->status != 0) {
        log_msg(LOG_ERROR, r->ref, "bug: second answer (%d after %d) dropped", status, r->status);
        return;
    }
    r->status = status;
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
        snprintf(line, sizeof line, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                 strlen(body));
        FCGX_PutS(line, out);
    }
    FCGX_PutS("\r\n", out);
    if (body != NULL)
        FCGX_PutS(body, out);

    log_msg(status >= 500 ? LOG_WARN : LOG_INFO, r->ref, "%s %s -> %d (%ld ms)",
            r->method != NULL ? r->method : "-", r->path, status, elapsed_ms(&r->started));
}

void reply_json(struct request *r, int status, struct json_object *body)
{
    const char *text = body != NULL
                           ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE)
                           : NULL;
    reply_raw(r, status, text, NULL);
    json_object_put(body);
}

void reply_no_content(struct request *r)
{
    reply_raw(r, 204, NULL, NULL);
}

void reply_headers(struct request *r, int status, const char *headers)
{
    reply_raw(r, status, NULL, headers);
}

void reply_error(struct request *r, int status, const char *code, const char *message,
                 const char *extra_header)
{
    struct json_object *body = error_body(code, message);
    reply_raw(r, status,
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

/*
 * What each outcome of the database functions means over HTTP.  Conflict
 * outcomes are the endpoints' Weavr enums and go out as {"errorCode"}.
 */
static const struct outcome_reply {
    const char *outcome;
    int status;
    const char *code;    /* the body's code; NULL: the outcome itself */
    const char *message; /* NULL for a 409, whose body is {"errorCode": code} */
} outcome_replies[] = {
    { "API_KEY_UNKNOWN", 401, "UNAUTHORISED", "Unknown api-key" },
    { "TOKEN_INVALID", 401, "UNAUTHORISED", "Missing, unknown or expired session token" },
    { "FORBIDDEN", 403, "FORBIDDEN", "This token may not perform this operation" },
    { "USER_UNKNOWN", 403, "FORBIDDEN", "Invalid credentials" },
    { "IDEMPOTENCY_MISMATCH", 422, "IDEMPOTENCY_REF_MISMATCH",
      "This idempotency-ref was used for another operation or payload" },
    { "NOT_STEPPED_UP", 403, "STEP_UP_REQUIRED",
      "This session must be stepped up with a one-time password first" },
    { "IDEMPOTENCY_IN_FLIGHT", 409, "IDEMPOTENCY_REF_IN_FLIGHT", NULL },
    { "CHANNEL_NOT_SUPPORTED", 409, NULL, NULL },
    { "CHANNEL_NOT_REGISTERED", 409, NULL, NULL },
    { "MOBILE_NUMBER_INVALID", 409, NULL, NULL },
    { "MOBILE_COUNTRY_NOT_SUPPORTED", 409, NULL, NULL },
    { "RETRY_IN_15SEC", 409, NULL, NULL },
    { "CHALLENGE_LIMIT_EXCEEDED", 409, NULL, NULL },
    { "STATE_INVALID", 409, NULL, NULL },
    { "VERIFICATION_CODE_EXPIRED", 409, NULL, NULL },
    { "VERIFICATION_CODE_INVALID", 409, NULL, NULL },
    { "ONE_CHALLENGE_LIMIT_REMAINING", 409, NULL, NULL },
    { "ALREADY_VERIFIED", 409, NULL, NULL },
    { "CHANNEL_ALREADY_REGISTERED", 409, NULL, NULL },
    { "MOBILE_NUMBER_NOT_AVAILABLE", 409, NULL, NULL },
    { "CREDENTIALS_INACTIVE", 409, NULL, NULL },
};

void reply_outcome(struct request *r, const char *outcome)
{
    if (strcmp(outcome, "OK") == 0) {
        reply_no_content(r);
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(outcome_replies); i++) {
        const struct outcome_reply *o = &outcome_replies[i];
        if (strcmp(o->outcome, outcome) != 0)
            continue;
        const char *code = o->code != NULL ? o->code : o->outcome;
        if (o->status == 409)
            reply_conflict(r, code);
        else
            reply_error(r, o->status, code, o->message, NULL);
        return;
    }
    log_msg(LOG_ERROR, r->ref, "bug: unknown outcome '%s'", outcome);
    reply_error(r, 500, "INTERNAL_ERROR", "Internal error", NULL);
}
