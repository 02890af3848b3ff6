/*
 * programme_settings.c - the per-programme settings table.  See
 * programme_settings.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "programme_settings.h"

#define DEFAULT_TEMPLATE "{programme} verification code: {code}. It expires in {minutes} minutes."

const struct programme_setting programme_settings[] = {
    { "sandbox", "sandbox", PS_FLAG, NULL, "off", 0, 0,
      "sandbox: the code is always `123456` and no text is queued" },
    { "sms", "sms_enabled", PS_FLAG, NULL, "on", 0, 0,
      "SMS channel on or off (off: 409 `CHANNEL_NOT_SUPPORTED`)" },
    { "countries", "countries", PS_LIST, "CC,CC...", "any", 0, 0,
      "ISO 3166-1 alpha-2 countries allowed for enrolled numbers, as numbering-plan data places "
      "the number (409 `MOBILE_COUNTRY_NOT_SUPPORTED`); `any`: every country" },
    { "retry-seconds", "retry_seconds", PS_INT, "N", "15", 0, 86400,
      "minimum seconds between two challenges of one session (409 `RETRY_IN_15SEC`)" },
    { "issue-limit", "issue_limit", PS_INT, "N", "2", 0, 1000000,
      "challenges per session (409 `CHALLENGE_LIMIT_EXCEEDED`); a new login starts afresh" },
    { "verify-attempts", "verify_attempts", PS_INT_OFF, "N", "5", 0, 1000000,
      "wrong codes per challenge; values outside 1..5 act as 5; `off`: no limit" },
    { "expiry-seconds", "expiry_seconds", PS_INT, "N", "300", 1, 86400,
      "lifetime of a challenge" },
    { "session-ttl", "session_ttl_seconds", PS_INT, "N", "300", 1, 2592000,
      "a session ends this many seconds after its last activity" },
    { "sms-template", "sms_template", PS_TEXT, "TEXT", DEFAULT_TEMPLATE, 0, 480,
      "the text message, at most 480 characters: `{code}` is required; `{programme}` and "
      "`{minutes}` are filled in" },
    { "sms-provider", "sms_provider", PS_CHOICE, "NAME", "default", 0, 0,
      "`stepup-sender`'s provider for this programme's texts: `http`, `exec` or `log`; "
      "`default`: the sender's `provider` setting" },
};
const size_t programme_nsettings = ARRAY_LEN(programme_settings);

const struct programme_setting *programme_setting_find(const char *option)
{
    for (size_t i = 0; i < programme_nsettings; i++) {
        if (strcmp(programme_settings[i].option, option) == 0)
            return &programme_settings[i];
    }
    return NULL;
}

/* A decimal integer of at most 9 digits (what an integer column takes), or STEPUP_ERR. */
static int parse_number(const char *text, long *out)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 9 || p[digits] != '\0')
        return STEPUP_ERR;
    errno = 0;
    *out = strtol(text, NULL, 10);
    return errno == 0 ? STEPUP_OK : STEPUP_ERR;
}

/* "A,B,C" as a JSON array of strings; NULL (reason in err) for an empty item. */
static struct json_object *parse_list(const char *option, const char *text, char *err,
                                      size_t errlen)
{
    struct json_object *list = json_object_new_array();
    const char *p = text;

    for (;;) {
        size_t n = strcspn(p, ",");
        if (n == 0) {
            snprintf(err, errlen, "--%s: expected 'any' or items separated by single commas, got '%s'",
                     option, text);
            json_object_put(list);
            return NULL;
        }
        json_object_array_add(list, json_object_new_string_len(p, (int)n));
        if (p[n] == '\0')
            return list;
        p += n + 1;
    }
}

int programme_setting_add(struct json_object *obj, const struct programme_setting *ps,
                          const char *arg, int negated, char *err, size_t errlen)
{
    struct json_object *value = NULL;
    long n;

    switch (ps->kind) {
    case PS_FLAG:
        value = json_object_new_boolean(!negated);
        break;
    case PS_INT:
    case PS_INT_OFF:
        if (ps->kind == PS_INT_OFF && strcasecmp(arg, "off") == 0)
            break; /* null */
        if (parse_number(arg, &n) != STEPUP_OK) {
            snprintf(err, errlen, "--%s: expected an integer%s, got '%s'", ps->option,
                     ps->kind == PS_INT_OFF ? " or 'off'" : "", arg);
            return STEPUP_ERR;
        }
        value = json_object_new_int64(n);
        break;
    case PS_TEXT:
        value = json_object_new_string(arg);
        break;
    case PS_LIST:
        if (strcasecmp(arg, "any") == 0)
            break; /* null */
        value = parse_list(ps->option, arg, err, errlen);
        if (value == NULL)
            return STEPUP_ERR;
        break;
    case PS_CHOICE:
        if (strcmp(arg, "default") != 0)
            value = json_object_new_string(arg);
        break;
    }
    json_object_object_add(obj, ps->key, value);
    return STEPUP_OK;
}

/* "--sandbox | --no-sandbox", "--retry-seconds N", "--verify-attempts N|off", ... */
static void option_text(const struct programme_setting *ps, char *out, size_t outlen, int md)
{
    const char *q = md ? "`" : "";
    switch (ps->kind) {
    case PS_FLAG:
        snprintf(out, outlen, "%s--%s%s / %s--no-%s%s", q, ps->option, q, q, ps->option, q);
        break;
    case PS_INT_OFF:
        snprintf(out, outlen, "%s--%s %s%s / %soff%s", q, ps->option, ps->metavar, q, q, q);
        break;
    case PS_LIST:
        snprintf(out, outlen, "%s--%s %s%s / %sany%s", q, ps->option, ps->metavar, q, q, q);
        break;
    case PS_CHOICE:
        snprintf(out, outlen, "%s--%s %s%s / %sdefault%s", q, ps->option, ps->metavar, q, q, q);
        break;
    case PS_INT:
    case PS_TEXT:
        snprintf(out, outlen, "%s--%s %s%s", q, ps->option, ps->metavar, q);
        break;
    }
}

/* "; 0 to 86400" for a bounded integer, "" otherwise. */
static void bounds_text(const struct programme_setting *ps, char *out, size_t outlen)
{
    if (ps->kind == PS_INT || ps->kind == PS_INT_OFF)
        snprintf(out, outlen, "; %ld to %ld", ps->min, ps->max);
    else
        out[0] = '\0';
}

void programme_settings_usage(FILE *out)
{
    char opt[96], bounds[48];
    for (size_t i = 0; i < programme_nsettings; i++) {
        const struct programme_setting *ps = &programme_settings[i];
        option_text(ps, opt, sizeof opt, 0);
        bounds_text(ps, bounds, sizeof bounds);
        fprintf(out, "        %s\n            %s%s; default %s\n", opt, ps->doc, bounds, ps->def);
    }
}

void programme_settings_markdown(FILE *out)
{
    char opt[96], bounds[48];
    fprintf(out, "| option | default | meaning |\n");
    fprintf(out, "|---|---|---|\n");
    for (size_t i = 0; i < programme_nsettings; i++) {
        const struct programme_setting *ps = &programme_settings[i];
        option_text(ps, opt, sizeof opt, 1);
        bounds_text(ps, bounds, sizeof bounds);
        fprintf(out, "| %s | `%s` | %s%s |\n", opt, ps->def, ps->doc, bounds);
    }
}

void programme_settings_json(FILE *out)
{
    static const char *const kinds[] = {
        [PS_FLAG] = "flag", [PS_INT] = "int", [PS_INT_OFF] = "int-or-off",
        [PS_TEXT] = "text", [PS_LIST] = "list", [PS_CHOICE] = "choice",
    };
    struct json_object *all = json_object_new_array();
    char err[128];

    for (size_t i = 0; i < programme_nsettings; i++) {
        const struct programme_setting *ps = &programme_settings[i];
        struct json_object *o = json_object_new_object(), *stored = json_object_new_object();
        struct json_object *v = NULL;
        json_object_object_add(o, "option", json_object_new_string(ps->option));
        json_object_object_add(o, "key", json_object_new_string(ps->key));
        json_object_object_add(o, "kind", json_object_new_string(kinds[ps->kind]));
        json_object_object_add(o, "default", json_object_new_string(ps->def));
        /* the default as the settings object carries it (false, 15, null, ...) */
        if (programme_setting_add(stored, ps, ps->def, strcmp(ps->def, "off") == 0, err,
                                  sizeof err) == STEPUP_OK &&
            json_object_object_get_ex(stored, ps->key, &v))
            json_object_object_add(o, "defaultValue", json_object_get(v));
        if (ps->kind == PS_INT || ps->kind == PS_INT_OFF || ps->kind == PS_TEXT) {
            json_object_object_add(o, "min", json_object_new_int64(ps->min));
            json_object_object_add(o, "max", json_object_new_int64(ps->max));
        }
        json_object_put(stored);
        json_object_array_add(all, o);
    }
    fprintf(out, "%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(all);
}
