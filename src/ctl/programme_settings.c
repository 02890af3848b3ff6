/*
 * programme_settings.c - the per-programme settings table.  See
 * programme_settings.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl_parse.h"
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
    { "session-max-seconds", "session_max_seconds", PS_INT, "N", "43200", 1, 2592000,
      "a session ends this many seconds after login, however active" },
    { "sms-template", "sms_template", PS_TEXT, "TEXT", DEFAULT_TEMPLATE, 0, 480,
      "the text message, at most 480 characters: `{code}` is required; `{programme}` and "
      "`{minutes}` are filled in" },
    { "sms-provider", "sms_provider", PS_CHOICE, "NAME", "default", 0, 0,
      "`stepup-sender`'s provider for this programme's texts: `http`, `exec` or `log`; "
      "`default`: the sender's `provider` setting" },
    { "gates", "gates", PS_NAMES, "NAME,NAME...", "", 0, 0,
      "the step-up gates (FastCGI Authorizer, by the name the web server gives each) that this "
      "programme's sessions may pass; `\"\"`: none" },
    { "limit", "limits", PS_LIMIT, "NAME=COUNT/PERIOD", "see below", 0, 0,
      "a rate limit (below), repeatable: COUNT requests per PERIOD (`30s`, `10m`, `1h`, `1d`; "
      "up to `30d`), `NAME=off`, or `NAME=default`; over it: 429" },
    { "prefix-digits", "prefix_digits", PS_INT, "N", "3", 0, 12,
      "`challenges-per-prefix` counts numbers sharing their country code and this many "
      "further digits" },
};
const size_t programme_nsettings = ARRAY_LEN(programme_settings);

const struct programme_limit_doc programme_limit_docs[] = {
    { "login-failures-per-user", "10/15m",
      "failed logins for one e-mail address in the programme; an unknown address counts the "
      "same way, so a 429 tells nobody whether the account exists; over it, even the right "
      "password is refused until the window ends" },
    { "login-per-address", "off",
      "login attempts from one client address (an IPv6 address by its /64; see "
      "`trusted_proxies`)" },
    { "challenges-per-user", "10/1h", "challenges issued to one user, step-up and enrolment together" },
    { "challenges-per-number", "10/1h",
      "challenges sent to one destination number, all users of the programme" },
    { "challenges-per-prefix", "off",
      "challenges sent to numbers sharing a prefix: the country code and `--prefix-digits` digits" },
    { "challenges-per-programme", "off", "all challenges of the programme: a spend cap" },
    { "verify-failures-per-user", "10/15m",
      "wrong codes of one user across all sessions and challenges, step-up and enrolment; "
      "reaching it locks the user out of verifying and of new challenges for PERIOD, doubled "
      "for each further lock-out within a day (at most 24 h)" },
};
const size_t programme_nlimit_docs = ARRAY_LEN(programme_limit_docs);

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

/*
 * --limit NAME=COUNT/PERIOD, NAME=off or NAME=default into the object
 * obj[ps->key] (made on first use): NAME -> {"count", "seconds"}, null or
 * "default".  Whether NAME is a limit, and the bounds, are the database's.
 */
static int add_limit(struct json_object *obj, const struct programme_setting *ps,
                     const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    struct json_object *limits, *value = NULL;

    if (eq == NULL || eq == arg) {
        snprintf(err, errlen, "--%s: expected NAME=COUNT/PERIOD, NAME=off or NAME=default, got '%s'",
                 ps->option, arg);
        return STEPUP_ERR;
    }
    const char *spec = eq + 1;
    if (strcmp(spec, "default") == 0) {
        value = json_object_new_string("default");
    } else if (strcmp(spec, "off") != 0) {
        const char *slash = strchr(spec, '/');
        long count;
        long long seconds;
        char number[16];
        size_t n = slash != NULL ? (size_t)(slash - spec) : 0;
        if (slash == NULL || n == 0 || n >= sizeof number) {
            snprintf(err, errlen, "--%s %.*s: expected COUNT/PERIOD (10/15m), off or default, got '%s'",
                     ps->option, (int)(eq - arg), arg, spec);
            return STEPUP_ERR;
        }
        memcpy(number, spec, n);
        number[n] = '\0';
        if (parse_number(number, &count) != STEPUP_OK ||
            !ctl_parse_duration(slash + 1, &seconds) || seconds > 999999999) {
            snprintf(err, errlen,
                     "--%s %.*s: expected COUNT/PERIOD, a number and a period such as 30s, 10m, "
                     "1h or 1d, got '%s'", ps->option, (int)(eq - arg), arg, spec);
            return STEPUP_ERR;
        }
        value = json_object_new_object();
        json_object_object_add(value, "count", json_object_new_int64(count));
        json_object_object_add(value, "seconds", json_object_new_int64(seconds));
    }
    if (!json_object_object_get_ex(obj, ps->key, &limits)) {
        limits = json_object_new_object();
        json_object_object_add(obj, ps->key, limits);
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
    json_object_object_add(limits, name, value);
    return STEPUP_OK;
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
    case PS_NAMES:
        value = arg[0] == '\0' ? json_object_new_array() : parse_list(ps->option, arg, err, errlen);
        if (value == NULL)
            return STEPUP_ERR;
        break;
    case PS_LIMIT:
        return add_limit(obj, ps, arg, err, errlen);
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
    case PS_NAMES:
        snprintf(out, outlen, "%s--%s %s%s / %s--%s \"\"%s", q, ps->option, ps->metavar, q, q,
                 ps->option, q);
        break;
    case PS_LIMIT:
        snprintf(out, outlen, "%s--%s %s%s / %sNAME=off%s", q, ps->option, ps->metavar, q, q, q);
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

/* The default as the usage text and README show it ("none" for an empty list). */
static const char *default_text(const struct programme_setting *ps)
{
    return ps->def[0] == '\0' ? "none" : ps->def;
}

void programme_settings_usage(FILE *out)
{
    char opt[96], bounds[48];
    for (size_t i = 0; i < programme_nsettings; i++) {
        const struct programme_setting *ps = &programme_settings[i];
        option_text(ps, opt, sizeof opt, 0);
        bounds_text(ps, bounds, sizeof bounds);
        fprintf(out, "        %s\n            %s%s; default %s\n", opt, ps->doc, bounds,
                default_text(ps));
    }
    fprintf(out, "    LIMITS (--limit NAME=...):\n");
    for (size_t i = 0; i < programme_nlimit_docs; i++)
        fprintf(out, "        %s\n            %s; default %s\n", programme_limit_docs[i].name,
                programme_limit_docs[i].doc, programme_limit_docs[i].def);
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
        fprintf(out, "| %s | `%s` | %s%s |\n", opt, default_text(ps), ps->doc, bounds);
    }
    fprintf(out, "\n| limit (`--limit NAME=...`) | default | what it counts |\n");
    fprintf(out, "|---|---|---|\n");
    for (size_t i = 0; i < programme_nlimit_docs; i++)
        fprintf(out, "| `%s` | `%s` | %s |\n", programme_limit_docs[i].name,
                programme_limit_docs[i].def, programme_limit_docs[i].doc);
}

/* The limits' defaults as ctl_programme_show shows them: {"NAME": "10/15m", ...}. */
static struct json_object *limit_defaults(void)
{
    struct json_object *o = json_object_new_object();
    for (size_t i = 0; i < programme_nlimit_docs; i++)
        json_object_object_add(o, programme_limit_docs[i].name,
                               json_object_new_string(programme_limit_docs[i].def));
    return o;
}

void programme_settings_json(FILE *out)
{
    static const char *const kinds[] = {
        [PS_FLAG] = "flag", [PS_INT] = "int", [PS_INT_OFF] = "int-or-off",
        [PS_TEXT] = "text", [PS_LIST] = "list", [PS_CHOICE] = "choice",
        [PS_NAMES] = "names", [PS_LIMIT] = "limit",
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
        if (ps->kind == PS_LIMIT)
            json_object_object_add(o, "defaultValue", limit_defaults());
        else if (programme_setting_add(stored, ps, ps->def, strcmp(ps->def, "off") == 0, err,
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
