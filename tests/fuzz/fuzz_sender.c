/*
 * fuzz_sender.c - libFuzzer harness: the texts stepup-sender builds and
 * reads (src/sender/text.h): the message from its template, the
 * gateway's request body, the message id in a gateway's answer, the safe
 * error text and the masked number.
 *
 * Input: NUL-separated fields (missing ones are ""): the message
 * template, the code, an http_body template, the number, the message id,
 * a gateway's answer, an http_id_field path.  Checked, besides the
 * sanitizers: the message has each "{code}" replaced; the values put in
 * a JSON body come back unchanged from a JSON parser, and those put in a
 * form body from URL-decoding; the id and the error text hold no control
 * character and fit; an error text never shows the code.
 */
#include <string.h>
#include <json-c/json.h>

#include "../../src/sender/text.h"
#include "fuzz.h"

enum { F_TEMPLATE, F_CODE, F_BODY, F_TO, F_ID, F_ANSWER, F_PATH, NFIELDS };

static int from_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* URL-decode in place (what a gateway does with a form body); the decoded string. */
static char *form_decode(char *s)
{
    char *out = s;
    for (const char *in = s; *in != '\0'; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in == '%') {
            FUZZ_CHECK(from_hex(in[1]) >= 0 && from_hex(in[2]) >= 0);
            *out++ = (char)(from_hex(in[1]) * 16 + from_hex(in[2]));
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return s;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void check_clean(const char *s, size_t max)
{
    FUZZ_CHECK(strlen(s) < max);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_strndup(data, size);
    const char *field[NFIELDS];
    size_t at = 0;

    for (int i = 0; i < NFIELDS; i++) {
        field[i] = at <= size ? copy + at : "";
        if (at <= size)
            at += strlen(copy + at) + 1;
    }

    /* The message. */
    char *text = text_message(field[F_TEMPLATE], field[F_CODE]);
    FUZZ_CHECK(text != NULL);
    size_t hits = count(field[F_TEMPLATE], "{code}");
    FUZZ_CHECK(strlen(text) ==
               strlen(field[F_TEMPLATE]) - 6 * hits + strlen(field[F_CODE]) * hits);

    /* A body of the fuzzer's template, then JSON and form bodies whose values must survive. */
    char *body = text_body(field[F_BODY], BODY_JSON, field[F_TO], text, field[F_ID]);
    FUZZ_CHECK(body != NULL);
    text_free_secret(body);
    body = text_body(field[F_BODY], BODY_FORM, field[F_TO], text, field[F_ID]);
    FUZZ_CHECK(body != NULL);
    text_free_secret(body);

    body = text_body("{\"to\": \"{to}\", \"text\": \"{text}\", \"messageId\": \"{message_id}\"}",
                     BODY_JSON, field[F_TO], text, field[F_ID]);
    FUZZ_CHECK(body != NULL);
    struct json_object *doc = json_tokener_parse(body), *v;
    FUZZ_CHECK(doc != NULL);
    FUZZ_CHECK(json_object_object_get_ex(doc, "to", &v) &&
               strcmp(json_object_get_string(v), field[F_TO]) == 0);
    FUZZ_CHECK(json_object_object_get_ex(doc, "text", &v) &&
               strcmp(json_object_get_string(v), text) == 0);
    FUZZ_CHECK(json_object_object_get_ex(doc, "messageId", &v) &&
               strcmp(json_object_get_string(v), field[F_ID]) == 0);
    json_object_put(doc);
    text_free_secret(body);

    body = text_body("{text}", BODY_FORM, field[F_TO], text, field[F_ID]);
    FUZZ_CHECK(body != NULL);
    FUZZ_CHECK(strcmp(form_decode(body), text) == 0);
    text_free_secret(body);

    /* The gateway's answer: its message id, and the error text made of it. */
    char id[128], said[200], masked[64];
    text_answer_id(field[F_ANSWER], field[F_PATH], id, sizeof id);
    check_clean(id, sizeof id);
    /* The secret is a code: six digits, as the sender's are. */
    const char *code = strlen(field[F_CODE]) == 6 && strspn(field[F_CODE], "0123456789") == 6
                           ? field[F_CODE]
                           : "123456";
    text_safe_error(field[F_ANSWER], strlen(field[F_ANSWER]), code, said, sizeof said);
    check_clean(said, sizeof said);
    FUZZ_CHECK(strstr(said, code) == NULL);

    text_mask_number(field[F_TO], masked, sizeof masked);
    FUZZ_CHECK(strlen(masked) < sizeof masked);

    text_free_secret(text);
    free(copy);
    return 0;
}
