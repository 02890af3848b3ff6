/*
 * phone.cc - E.164 numbers judged with libphonenumber's numbering-plan data.
 *
 * The only C++ in stepup: a C interface over PhoneNumberUtil.  No exception
 * may cross into C, so every entry point catches everything and answers
 * PHONE_INVALID.  PhoneNumberUtil::GetInstance() is a thread-safe singleton
 * whose query methods are const, so workers may call these concurrently.
 */
#include <cstring>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

extern "C" {
#include "phone.h"
}

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

/*
 * 1 when s is '+' followed by 7..15 ASCII digits, the first of them 1-9, and
 * nothing else (no spaces, no separators); 0 otherwise, including for NULL.
 */
extern "C" int phone_is_e164_syntax(const char *s)
{
    size_t digits = 0;

    if (s == nullptr || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return 0;
    for (const char *p = s + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        if (++digits > 15)
            return 0;
    }
    return digits >= 7 ? 1 : 0;
}

/*
 * Classify e164: PHONE_INVALID unless it has E.164 syntax and the numbering
 * plan assigns it; PHONE_MOBILE for MOBILE and FIXED_LINE_OR_MOBILE (the plan
 * cannot tell, as in the US), PHONE_NOT_MOBILE for any other valid type.
 * out->region is the number's ISO 3166-1 region, "" when the number belongs
 * to no single region (non-geographic "001") or is invalid.
 */
extern "C" void phone_inspect(const char *e164, struct phone_info *out)
{
    out->kind = PHONE_INVALID;
    out->region[0] = '\0';
    if (!phone_is_e164_syntax(e164))
        return;
    try {
        const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
        PhoneNumber number;
        std::string region;

        if (util->Parse(e164, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR)
            return;
        if (!util->IsValidNumber(number))
            return;
        switch (util->GetNumberType(number)) {
        case PhoneNumberUtil::MOBILE:
        case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
            out->kind = PHONE_MOBILE;
            break;
        case PhoneNumberUtil::UNKNOWN:
            return;
        default:
            out->kind = PHONE_NOT_MOBILE;
            break;
        }
        util->GetRegionCodeForNumber(number, &region);
        if (region.size() == 2 && region != "ZZ") {
            out->region[0] = region[0];
            out->region[1] = region[1];
            out->region[2] = '\0';
        }
    } catch (...) {
        out->kind = PHONE_INVALID;
        out->region[0] = '\0';
    }
}

/* The API spelling of a kind: "MOBILE", "NOT_MOBILE" or "INVALID". */
extern "C" const char *phone_kind_name(enum phone_kind kind)
{
    switch (kind) {
    case PHONE_MOBILE:
        return "MOBILE";
    case PHONE_NOT_MOBILE:
        return "NOT_MOBILE";
    case PHONE_INVALID:
        break;
    }
    return "INVALID";
}
