/*
 * api.h - helpers shared by the API handlers (api_*.c).
 */
#ifndef STEPUP_API_H
#define STEPUP_API_H

#include "../lib/db.h"
#include "request.h"

/*
 * Run one prepared statement for a handler.  Returns the result, or NULL
 * after answering 503 (database unreachable) or 500 (statement failed).
 */
db_result *api_call(struct request *r, const char *statement, const struct db_params *params);

/* Append the caller's credentials: the api-key hash, then the token hash. */
void api_caller_params(const struct request *r, struct db_params *p);

/*
 * For a request that failed validation: ask the database whether the
 * caller is authenticated (api-key and session) and, if not, answer 401 or
 * 403.  Returns 1 when the caller is authenticated and the handler should
 * now answer its 400, 0 when an answer has been sent.
 */
int api_authenticated(struct request *r, int allow_impersonation);

/*
 * Issue an OTP with statement (step-up or enrolment): validate the
 * channel, make the code and its stored forms, call, answer the outcome,
 * and wake the sender when a text was queued.
 */
void otp_issue(struct request *r, const char *statement);

/*
 * Verify the body's verificationCode against the session's latest
 * challenge of purpose ("STEPUP" or "ENROLMENT"), and answer the outcome.
 */
void otp_verify(struct request *r, const char *purpose);

#endif
