/*
 * phone.h - E.164 numbers, judged with libphonenumber's numbering-plan data.
 *
 * A C interface over the C++ library, so that the rest of stepup stays C.
 */
#ifndef STEPUP_PHONE_H
#define STEPUP_PHONE_H

#include "common.h"

enum phone_kind {
    PHONE_INVALID,    /* not a number any plan assigns */
    PHONE_NOT_MOBILE, /* a valid number that cannot receive SMS (fixed line, ...) */
    PHONE_MOBILE      /* mobile, or "fixed line or mobile" where the plan cannot tell */
};

struct phone_info {
    enum phone_kind kind;
    char region[3]; /* ISO 3166-1 alpha-2 ("GB"), "" when no single region */
};

/* 1 when s has the shape of E.164: '+', a non-zero digit, 7..15 digits in all. */
int phone_is_e164_syntax(const char *s);

/* Classify an E.164 number; never fails (bad input is PHONE_INVALID). */
void phone_inspect(const char *e164, struct phone_info *out);

/* "MOBILE", "NOT_MOBILE" or "INVALID". */
const char *phone_kind_name(enum phone_kind kind);

#endif
