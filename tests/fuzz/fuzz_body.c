/*
 * fuzz_body.c - libFuzzer harness: every endpoint's request body, through
 * stepup-fcgi's whole path (dispatch: request_init, the router, the
 * route's flags, the handler's parsing and validation of the body, the
 * answer), with a database that is down.
 *
 * Input: the first line is the URL path (POST /login_with_password,
 * /stepup/challenges/otp/SMS/verify, ...), the rest is the JSON body.  The
 * request carries an api-key and a bearer token, so every handler gets as
 * far as its body allows: a body that fails validation is answered 400
 * (login) or, for the routes that ask the database whether the caller may
 * hear why, 503; one that passes reaches the database: 503.  Checked: an
 * answer is always sent, with a status stepup documents for a request
 * that reaches no database (never 500, never a success), and its body is
 * a JSON object.
 */
#include <string.h>
#include <json-c/json.h>

#include "../../src/fcgi/dispatch.h"
#include "fuzz.h"
#include "fuzz_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {
        "REQUEST_METHOD=POST",
        "CONTENT_TYPE=application/json",
        "REMOTE_ADDR=127.0.0.1",
        "HTTP_API_KEY=fuzz-api-key",
        "HTTP_AUTHORIZATION=Bearer fuzz-session-token",
        "HTTP_USER_AGENT=fuzz_body",
        NULL,
    };
    const uint8_t *nl = memchr(data, '\n', size);
    size_t path_len = nl != NULL ? (size_t)(nl - data) : size;
    size_t body_len = nl != NULL ? size - path_len - 1 : 0;
    char *head = malloc(path_len + 80);
    FUZZ_CHECK(head != NULL);

    /* The parameters the path and body make, then an empty line, then the body. */
    int n = snprintf(head, path_len + 80, "REQUEST_URI=%.*s\nCONTENT_LENGTH=%zu\n\n",
                     (int)path_len, (const char *)data, body_len);
    size_t hlen = (size_t)n;
    uint8_t *input = malloc(hlen + body_len + 1);
    FUZZ_CHECK(input != NULL);
    memcpy(input, head, hlen);
    if (body_len > 0)
        memcpy(input + hlen, nl + 1, body_len);

    struct fuzz_fcgi f;
    const char *body;
    fuzz_fcgi_init_once();
    fuzz_fcgi_start(&f, input, hlen + body_len, fixed);
    dispatch(&f.worker);
    int status = fuzz_fcgi_status(&f, &body);
    FUZZ_CHECK(status == 400 || status == 404 || status == 405 || status == 413 ||
               status == 503);
    FUZZ_CHECK(body != NULL);
    struct json_object *doc = json_tokener_parse(body);
    FUZZ_CHECK(doc != NULL && json_object_is_type(doc, json_type_object));
    json_object_put(doc);

    fuzz_fcgi_end(&f);
    free(input);
    free(head);
    return 0;
}
