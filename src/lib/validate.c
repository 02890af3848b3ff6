/*
 * validate.c - pure checks of input values.  See validate.h.
 */
#include <string.h>

#include "validate.h"

const char *validate_channel(const char *channel)
{
    if (channel == NULL || channel[0] == '\0')
        return "REQUIRED";
    return strcmp(channel, "SMS") == 0 ? NULL : "NOT_IN";
}

const char *validate_verification_code(const char *code)
{
    if (code == NULL)
        return "REQUIRED";
    if (strlen(code) != 6)
        return "SIZE";
    for (const char *p = code; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return "REGEX";
    return NULL;
}

const char *validate_email(const char *email)
{
    if (email == NULL || email[0] == '\0')
        return "REQUIRED";
    if (strlen(email) > 254)
        return "SIZE";
    const char *at = strchr(email, '@');
    if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return "REGEX";
    for (const char *p = email; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "REGEX";
    return NULL;
}
