/*
 * response.h - the only way a handler answers.
 *
 * Every answer carries the request-ref header and is logged once, here:
 * method, path, route, status and duration, never a secret.
 * Error bodies follow the Weavr Multi API:
 *   400  {"message": "...", "syntaxErrors": {"invalidFields": [{"params": [],
 *         "fieldName": "...", "error": "REQUIRED"}]}}
 *   409  {"errorCode": "..."}
 *   else {"code": "...", "message": "..."}
 * The *_body functions build those bodies without answering (unit tests).
 */
#ifndef STEPUP_RESPONSE_H
#define STEPUP_RESPONSE_H

#include <json-c/json.h>
#include "../lib/common.h"

struct request;

struct json_object *error_body(const char *code, const char *message);
struct json_object *conflict_body(const char *error_code);
struct json_object *invalid_field_body(const char *field, const char *error,
                                       const char *const *params, size_t nparams);

/* Answer with status and a JSON body (taken over and freed), or no body when NULL. */
void reply_json(struct request *r, int status, struct json_object *body);
/* Answer with status and body (copied out), a text of content_type ("text/plain"). */
void reply_text(struct request *r, int status, const char *content_type, const char *body);
/* 204. */
void reply_no_content(struct request *r);
/* A status with extra header lines ("A: 1\r\nB: 2") and no body. */
void reply_headers(struct request *r, int status, const char *headers);

/*
 * Only a status line, no request-ref, no body: for an answer the web server
 * throws away and replaces by an error document that stepup answers again
 * (the gate's refusal under Apache's mod_fcgid: request.h, gate_refusal),
 * so that no header of it joins the answer the client gets.  Logged as
 * every answer is.
 */
void reply_status_only(struct request *r, int status);
/* An error in {"code", "message"} form; extra_header may be NULL ("Allow: GET"). */
void reply_error(struct request *r, int status, const char *code, const char *message,
                 const char *extra_header);
/* 409 {"errorCode": code}. */
void reply_conflict(struct request *r, const char *error_code);
/* 400 for one invalid field. */
void reply_invalid_field(struct request *r, const char *field, const char *error,
                         const char *const *params, size_t nparams);

/*
 * 400 for field with a validator's error name (validate.h); a SIZE carries
 * the params [min, max] ("1", "254"), as Weavr's do.
 */
void reply_field_problem(struct request *r, const char *field, const char *problem, size_t min,
                         size_t max);

/*
 * Answer with what a database function (or the handler) decided: "OK" ->
 * 204; an outcome every route shares (authentication -> 401/403,
 * idempotency -> 409/422); else the outcome as the request's route lists
 * it (its Weavr enums -> 409 {"errorCode"}, and its own).  An outcome the
 * route does not list is a bug: 500, logged.
 */
void reply_outcome(struct request *r, const char *outcome);

/*
 * 500 {"code": "INTERNAL_ERROR"}, after logging "internal error: " and the
 * formatted reason with the request-ref (never a secret in it).
 */
void reply_internal_error(struct request *r, const char *fmt, ...) PRINTF_LIKE(2, 3);

/*
 * 429 {"code": "TOO_MANY_REQUESTS"} for rate limit name (count requests
 * per seconds), with x-ratelimit-limit ("10, 10;w=3600"), x-ratelimit-reset
 * and Retry-After (both retry_after, the seconds until the request would
 * be allowed).
 */
void reply_rate_limited(struct request *r, const char *name, long count, long seconds,
                        long retry_after);

/* 503 with Retry-After: the database cannot be reached. */
void reply_unavailable(struct request *r);

/*
 * The request's route as its log line and the metrics name it: the
 * route's pattern ("/stepup/challenges/otp/{channel}", "*" for the gate),
 * "unmatched" before or without routing.
 */
const char *request_route_name(const struct request *r);

/* The reason phrase for a status ("Not Found"). */
const char *http_reason(int status);

#endif
