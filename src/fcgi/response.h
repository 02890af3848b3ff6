/*
 * response.h - the only way a handler answers.
 *
 * Every answer carries the request-ref header and is logged once, here.
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
/* 204. */
void reply_no_content(struct request *r);
/* A status with extra header lines ("A: 1\r\nB: 2") and no body. */
void reply_headers(struct request *r, int status, const char *headers);
/* An error in {"code", "message"} form; extra_header may be NULL ("Allow: GET"). */
void reply_error(struct request *r, int status, const char *code, const char *message,
                 const char *extra_header);
/* 409 {"errorCode": code}. */
void reply_conflict(struct request *r, const char *error_code);
/* 400 for one invalid field. */
void reply_invalid_field(struct request *r, const char *field, const char *error,
                         const char *const *params, size_t nparams);

/*
 * Answer with what a database function decided: "OK" -> ok_status (204 or
 * 200 with ok_body), authentication outcomes -> 401/403, idempotency
 * outcomes -> 409/422, any other known outcome -> 409 {"errorCode"}.  An
 * unknown outcome is a bug: 500, logged.
 */
void reply_outcome(struct request *r, const char *outcome);

/* The reason phrase for a status ("Not Found"). */
const char *http_reason(int status);

#endif
