/*
 * text.c - message, request body, masked number, safe error text, the
 * message id of a gateway's answer.  See text.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "../lib/crypto.h"
#include "text.h"

/* A growing string that wipes every buffer it leaves behind. */
struct sbuf {
    char *data;
    size_t len, cap;
    bool failed;
};

/* Make room for n more bytes and the NUL; on failure mark the buffer failed. */
static void sbuf_reserve(struct sbuf *b, size_t n)
{
    if (b->failed || b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap != 0 ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *data = malloc(cap);
    if (data == NULL) {
        b->failed = true;
        return;
    }
    if (b->data != NULL) {
        memcpy(data, b->data, b->len);
        crypto_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = data;
    b->cap = cap;
}

/* Append n bytes of s (nothing once the buffer has failed). */
static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    sbuf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Append one character. */
static void sbuf_addc(struct sbuf *b, char c)
{
    sbuf_add(b, &c, 1);
}

/* The finished string, or NULL (everything wiped) when an allocation failed. */
static char *sbuf_finish(struct sbuf *b)
{
    if (b->failed) {
        if (b->data != NULL) {
            crypto_wipe(b->data, b->cap);
            free(b->data);
        }
        return NULL;
    }
    sbuf_reserve(b, 0);
    if (b->failed)
        return sbuf_finish(b);
    b->data[b->len] = '\0';
    return b->data;
}

void text_free_secret(char *s)
{
    if (s == NULL)
        return;
    crypto_wipe(s, strlen(s));
    free(s);
}

char *text_message(const char *body_template, const char *code)
{
    static const char placeholder[] = "{code}";
    struct sbuf b = { 0 };
    const char *p = body_template, *hit;

    while ((hit = strstr(p, placeholder)) != NULL) {
        sbuf_add(&b, p, (size_t)(hit - p));
        sbuf_add(&b, code, strlen(code));
        p = hit + sizeof placeholder - 1;
    }
    sbuf_add(&b, p, strlen(p));
    return sbuf_finish(&b);
}

/* Append s escaped for the inside of a JSON string. */
static void add_json(struct sbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': sbuf_add(b, "\\\"", 2); break;
        case '\\': sbuf_add(b, "\\\\", 2); break;
        case '\n': sbuf_add(b, "\\n", 2); break;
        case '\r': sbuf_add(b, "\\r", 2); break;
        case '\t': sbuf_add(b, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                sbuf_add(b, u, sizeof u);
            } else {
                sbuf_addc(b, (char)c);
            }
        }
    }
}

/* Append s encoded as application/x-www-form-urlencoded. */
static void add_form(struct sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '*') {
            sbuf_addc(b, (char)c);
        } else if (c == ' ') {
            sbuf_addc(b, '+');
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            sbuf_add(b, e, sizeof e);
        }
    }
}

char *text_body(const char *tpl, enum body_type type, const char *to, const char *text,
                const char *message_id)
{
    static const struct {
        const char *name;
        size_t len;
    } names[] = { { "{to}", 4 }, { "{text}", 6 }, { "{message_id}", 12 } };
    const char *values[] = { to, text, message_id };
    struct sbuf b = { 0 };
    const char *p = tpl;

    while (*p != '\0') {
        size_t i;
        if (*p == '{') {
            for (i = 0; i < ARRAY_LEN(names); i++) {
                if (strncmp(p, names[i].name, names[i].len) == 0)
                    break;
            }
            if (i < ARRAY_LEN(names)) {
                if (type == BODY_JSON)
                    add_json(&b, values[i]);
                else
                    add_form(&b, values[i]);
                p += names[i].len;
                continue;
            }
        }
        sbuf_addc(&b, *p++);
    }
    return sbuf_finish(&b);
}

void text_mask_number(const char *number, char *out, size_t outlen)
{
    size_t n = strlen(number);
    if (outlen == 0)
        return;
    if (n > 8)
        snprintf(out, outlen, "%.3s\xe2\x80\xa6%s", number, number + n - 4);
    else if (n > 2)
        snprintf(out, outlen, "\xe2\x80\xa6%s", number + n - 2);
    else
        snprintf(out, outlen, "\xe2\x80\xa6");
}

void text_safe_error(const char *in, size_t inlen, const char *secret, char *out, size_t outlen)
{
    size_t n, slen = secret != NULL ? strlen(secret) : 0;

    if (outlen == 0)
        return;
    while (inlen > 0 && (in[inlen - 1] == '\n' || in[inlen - 1] == '\r' ||
                         in[inlen - 1] == ' ' || in[inlen - 1] == '\t'))
        inlen--; /* a program's last newline is no part of what it said */
    n = inlen < outlen - 1 ? inlen : outlen - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[n] = '\0';
    /* Look for the secret in all of in, so that a copy cut by the end of out is caught too. */
    if (slen == 0 || slen > inlen)
        return;
    for (size_t i = 0; i + slen <= inlen && i < n; i++) {
        if (memcmp(in + i, secret, slen) == 0) {
            for (size_t j = i; j < i + slen && j < n; j++)
                out[j] = '*';
        }
    }
}

void text_answer_id(const char *body, const char *path, char *out, size_t outlen)
{
    struct json_object *doc, *cur;
    char key[128];
    const char *p = path;

    out[0] = '\0';
    if (path[0] == '\0')
        return;
    doc = json_tokener_parse(body);
    if (doc == NULL)
        return;
    cur = doc;
    while (cur != NULL && *p != '\0') {
        size_t n = strcspn(p, ".");
        struct json_object *next = NULL;
        if (n >= sizeof key || !json_object_is_type(cur, json_type_object)) {
            cur = NULL;
            break;
        }
        memcpy(key, p, n);
        key[n] = '\0';
        if (!json_object_object_get_ex(cur, key, &next))
            next = NULL;
        cur = next;
        p += n;
        if (*p == '.')
            p++;
    }
    if (cur != NULL && (json_object_is_type(cur, json_type_string) ||
                        json_object_is_type(cur, json_type_int) ||
                        json_object_is_type(cur, json_type_double))) {
        const char *v = json_object_get_string(cur);
        text_safe_error(v, strlen(v), NULL, out, outlen);
    }
    json_object_put(doc);
}
