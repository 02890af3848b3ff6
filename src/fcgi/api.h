/*
 * api.h - helpers shared by the API handlers (api_*.c).
 */
#ifndef STEPUP_API_H
#define STEPUP_API_H

#include "../lib/db.h"
#include "request.h"

struct json_object;

/*
 * Run one call for a handler: its result, which has one row, or NULL after
 * answering 503 (database unreachable) or 500 (the call failed).
 */
db_result *api_call(struct request *r, struct db_call *call);

/*
 * Answer the outcome of a call's result (its column "outcome"): a
 * RATE_LIMITED one with the limit the result names (columns limit_name,
 * limit_count, limit_seconds, retry_after) as 429, any other through
 * reply_outcome.
 */
void api_reply_outcome(struct request *r, const db_result *res);

/*
 * The request body as exactly one JSON document (validate_json_document),
 * or NULL when it is empty or refused (why is logged): a refused body
 * answers as one without the fields.  The caller puts it.
 */
struct json_object *api_body(const struct request *r);

/*
 * The string member name of object o and its length (it may hold a NUL),
 * or NULL (*len 0) when o is no object or the member is absent or no string.
 */
const char *api_string_member(struct json_object *o, const char *name, size_t *len);

/* Set the caller's credentials: p_api_key_hash and p_token_hash. */
void api_caller_args(const struct request *r, struct db_call *call);

/*
 * Set the request's context, which the call's audit events record:
 * p_request_ref (the request-ref header), p_client_addr (NULL when
 * unknown) and p_user_agent (NULL when absent).
 */
void api_context_args(const struct request *r, struct db_call *call);

/*
 * For a request that failed validation: ask the database whether the
 * caller is authenticated (api-key and session) and, if not, answer 401 or
 * 403.  Returns 1 when the caller is authenticated and the handler should
 * now answer its 400, 0 when an answer has been sent.
 */
int api_authenticated(struct request *r, int allow_impersonation);

/*
 * Issue an OTP with statement (step-up or enrolment, purpose "STEPUP" or
 * "ENROLMENT"): validate the channel, ask for the number the text would
 * go to, make the code and its stored forms (the seal bound to that
 * number), call, answer the outcome, and wake the sender when a text was
 * queued.
 */
void otp_issue(struct request *r, const struct db_statement *statement, const char *purpose);

/*
 * Verify the body's verificationCode against the session's latest
 * challenge of purpose ("STEPUP" or "ENROLMENT"), and answer the outcome.
 */
void otp_verify(struct request *r, const char *purpose);

#endif
