/*
 * fuzz_phone.c - libFuzzer harness: E.164 numbers (src/lib/phone.h), the
 * syntax check and libphonenumber's classification behind it.
 *
 * Input: the number's text.  Checked against phone.h: the syntax is
 * exactly '+', a digit 1-9 and 7..15 digits in all (compared with a
 * model written here); only a number of that syntax can be anything but
 * INVALID; the region is "" or two capital letters, and "" for INVALID;
 * no exception escapes into C (one would abort).
 */
#include <string.h>

#include "../../src/lib/phone.h"
#include "fuzz.h"

/* The syntax as phone.h states it, spelt differently from phone.cc. */
static int model_syntax(const char *s)
{
    size_t n = strlen(s);
    return n >= 8 && n <= 16 && s[0] == '+' && s[1] >= '1' && s[1] <= '9' &&
           strspn(s + 1, "0123456789") == n - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    struct phone_info info;

    int syntax = phone_is_e164_syntax(s);
    FUZZ_CHECK(syntax == model_syntax(s));
    memset(&info, 0x55, sizeof info);
    phone_inspect(s, &info);
    FUZZ_CHECK(info.kind == PHONE_INVALID || info.kind == PHONE_NOT_MOBILE ||
               info.kind == PHONE_MOBILE);
    FUZZ_CHECK(syntax || info.kind == PHONE_INVALID);
    FUZZ_CHECK(info.region[0] == '\0' ||
               (info.region[0] >= 'A' && info.region[0] <= 'Z' && info.region[1] >= 'A' &&
                info.region[1] <= 'Z' && info.region[2] == '\0'));
    FUZZ_CHECK(info.kind != PHONE_INVALID || info.region[0] == '\0');
    const char *name = phone_kind_name(info.kind);
    FUZZ_CHECK(name != NULL && name[0] != '\0');
    free(s);
    return 0;
}
