/*
 * ctl_parse.c - stepupctl's value parsers.  See ctl_parse.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/common.h"
#include "ctl_parse.h"

bool ctl_parse_int(const char *text, long min, long max, int *out)
{
    char *end = NULL;
    const char *digits = text[0] == '-' ? text + 1 : text;

    if (!isdigit((unsigned char)digits[0]))
        return false;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

bool ctl_is_uuid(const char *text)
{
    size_t n = strlen(text);
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
            return false;
    }
    return true;
}

bool ctl_parse_duration(const char *text, long long *secs)
{
    char *end = NULL;
    long long mult = 0;

    if (!isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end[0] == '\0' || end[1] != '\0')
        return false;
    switch (end[0]) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return false;
    }
    if (v > 100LL * 365 * 86400 / mult)
        return false;
    *secs = v * mult;
    return true;
}

const char *ctl_outbox_status(const char *text)
{
    static const char *const names[] = { "PENDING", "SENDING", "SENT", "DEAD", "EXPIRED" };
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (strcasecmp(text, names[i]) == 0)
            return names[i];
    }
    return NULL;
}
