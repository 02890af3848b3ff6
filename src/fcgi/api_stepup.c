/*
 * api_stepup.c - step-up challenges: issue an OTP to the enrolled device
 * and verify it, which steps the session up.  The mechanics are shared
 * with enrolment in api_otp.c; the rules are in the SQL functions.
 */
#include "api.h"
#include "handlers.h"
#include "statements.h"

/* POST /stepup/challenges/otp/{channel} */
void handle_stepup_issue(struct request *r)
{
    otp_issue(r, &stmt_issue_challenge, "STEPUP");
}

/* POST /stepup/challenges/otp/{channel}/verify */
void handle_stepup_verify(struct request *r)
{
    otp_verify(r, "STEPUP");
}
