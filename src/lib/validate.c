/*
 * validate.c - pure checks of input values.  See validate.h.
 */
#include <string.h>
#include <json-c/json.h>

#include "validate.h"

/*
 * The length of the well-formed UTF-8 character at s (n > 0 bytes
 * available), or 0 when it is ill-formed (RFC 3629, table 3-7 of the
 * Unicode standard).
 */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        need = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        need = 3, lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        need = 4, lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    else
        return 0; /* a continuation byte, C0, C1, F5..FF */
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

int validate_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t validate_utf8_repair(const char *s, char *out, size_t outsize)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), used = 0;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(p + i, len - i);
        const char *from = n > 0 ? s + i : replacement;
        size_t take = n > 0 ? n : 3;
        if (used + take >= outsize)
            break;
        memcpy(out + used, from, take);
        used += take;
        i += n > 0 ? n : 1;
    }
    out[used] = '\0';
    return used;
}

const char *validate_text(const char *s, size_t len, size_t max)
{
    if (s == NULL || len == 0)
        return "REQUIRED";
    if (len > max)
        return "SIZE";
    if (memchr(s, '\0', len) != NULL || !validate_utf8(s, len))
        return "REGEX";
    return NULL;
}

const char *validate_channel(const char *channel)
{
    if (channel == NULL || channel[0] == '\0')
        return "REQUIRED";
    return strcmp(channel, "SMS") == 0 ? NULL : "NOT_IN";
}

const char *validate_verification_code(const char *code, size_t len)
{
    if (code == NULL)
        return "REQUIRED";
    if (len != 6)
        return "SIZE";
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9')
            return "REGEX";
    return NULL;
}

const char *validate_email(const char *email, size_t len)
{
    const char *problem = validate_text(email, len, VALIDATE_EMAIL_MAX);
    if (problem != NULL)
        return problem;
    const char *at = strchr(email, '@');
    if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return "REGEX";
    for (const char *p = email; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "REGEX";
    return NULL;
}

const char *validate_password(const char *password, size_t len)
{
    return validate_text(password, len, VALIDATE_PASSWORD_MAX);
}

/* 1..max visible ASCII characters: NULL, SIZE or REGEX. */
static const char *visible_ascii(const char *value, size_t max)
{
    size_t len = strlen(value);
    if (len == 0 || len > max)
        return "SIZE";
    for (size_t i = 0; i < len; i++)
        if (value[i] < 0x21 || value[i] > 0x7E)
            return "REGEX";
    return NULL;
}

const char *validate_idempotency_ref(const char *ref)
{
    return visible_ascii(ref, VALIDATE_IDEMPOTENCY_REF_MAX);
}

const char *validate_credential(const char *value)
{
    return visible_ascii(value, VALIDATE_CREDENTIAL_MAX);
}

/*
 * The members of every object in a well-formed JSON text (a name is a
 * string followed by ':'), and in *nul_name whether a name holds "\u0000".
 */
static size_t text_members(const char *t, size_t len, int *nul_name)
{
    size_t members = 0;

    *nul_name = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] != '"')
            continue;
        int nul = 0;
        for (i++; i < len && t[i] != '"'; i++) {
            if (t[i] != '\\' || i + 1 >= len)
                continue;
            i++; /* the escaped character: never the closing quote */
            if ((t[i] == 'u' || t[i] == 'U') && i + 4 < len && memcmp(t + i + 1, "0000", 4) == 0)
                nul = 1;
        }
        size_t j = i + 1;
        while (j < len && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n'))
            j++;
        if (j < len && t[j] == ':') {
            members++;
            *nul_name |= nul;
        }
        i = j - 1;
    }
    return members;
}

/* The members of every object in a parsed document (json-c keeps one per name). */
static size_t tree_members(struct json_object *o)
{
    size_t n = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, name, value) {
            (void)name;
            n += 1 + tree_members(value);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += tree_members(json_object_array_get_idx(o, i));
    }
    return n;
}

const char *validate_json_document(const char *text, size_t len, struct json_object **doc)
{
    *doc = NULL;
    if (len == 0)
        return "empty";
    if (memchr(text, '\0', len) != NULL)
        return "a NUL byte";
    if (len >= 0x7fffffff)
        return "too long";
    struct json_tokener *tok = json_tokener_new_ex(VALIDATE_JSON_DEPTH);
    if (tok == NULL)
        return "out of memory";
    /* With its NUL: a number that ends the text is complete. */
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (err != json_tokener_success) { /* (success and NULL: the document "null") */
        json_object_put(o);
        return err == json_tokener_error_depth ? "nested too deep" : "not JSON";
    }
    for (; end < len; end++) {
        if (text[end] != ' ' && text[end] != '\t' && text[end] != '\r' && text[end] != '\n') {
            json_object_put(o);
            return "bytes after the JSON document";
        }
    }
    int nul_name;
    if (text_members(text, len, &nul_name) != tree_members(o) || nul_name) {
        json_object_put(o);
        return nul_name ? "a name holding NUL" : "a name twice in one object";
    }
    *doc = o;
    return NULL;
}
