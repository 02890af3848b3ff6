/*
 * retry.h - what becomes of a message after an attempt: the status to
 * record and, for a retry, the back-off (exponential, with jitter).  Pure
 * functions but retry_random, unit-tested in tests/unit/check_sender.c.
 */
#ifndef STEPUP_SENDER_RETRY_H
#define STEPUP_SENDER_RETRY_H

#include <stdint.h>
#include "../lib/common.h"
#include "provider.h"

/* The status of an attempt, as stored in stepup.sms_attempts.status. */
enum attempt_status { ATTEMPT_SENT, ATTEMPT_RETRY, ATTEMPT_DEAD, ATTEMPT_PERMANENT };

/* "SENT", "RETRY", "DEAD" or "PERMANENT". */
const char *attempt_status_name(enum attempt_status s);

/*
 * The status of attempt number attempt (from 1) with the provider's
 * result: SENT, PERMANENT, or for a failure RETRY while attempt <
 * max_attempts, else DEAD.
 */
enum attempt_status retry_decide(enum provider_result r, int attempt, int max_attempts);

/*
 * The wait before the next attempt after failed attempt number attempt
 * (from 1): d = min(max_ms, base_ms * 2^(attempt - 1)), then a point in
 * [d/2, d] chosen by rnd (uniform random bits), so that messages that
 * failed together do not come back together.
 */
int retry_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t rnd);

/* 32 random bits from OpenSSL's RAND_bytes. */
int retry_random(uint32_t *out) WARN_UNUSED;

#endif
