/*
 * ctl_parse.h - the parsers of stepupctl's command-line values.  Pure
 * functions (tests/unit/check_ctl.c); the commands report what they refuse.
 */
#ifndef STEPUP_CTL_PARSE_H
#define STEPUP_CTL_PARSE_H

#include <stdbool.h>

/*
 * A decimal integer in [min, max] into *out: digits with an optional
 * leading '-', nothing else (strtol's blanks and '+' are refused).
 */
bool ctl_parse_int(const char *text, long min, long max, int *out);

/* True for a UUID in its canonical text form (8-4-4-4-12 hex digits). */
bool ctl_is_uuid(const char *text);

/*
 * A duration: a number and one unit s, m, h or d ("45s", "90m", "12h",
 * "30d"), at most 100 years, in seconds into *secs.
 */
bool ctl_parse_duration(const char *text, long long *secs);

/*
 * An outbox status (PENDING, SENDING, SENT, DEAD or EXPIRED, in any case)
 * in its stored, upper-case spelling; NULL for anything else.
 */
const char *ctl_outbox_status(const char *text);

#endif
