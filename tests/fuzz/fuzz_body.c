/*
 * fuzz_body.c - libFuzzer harness: every endpoint's request body, through
 * stepup-fcgi's whole path (dispatch: request_init, the router, the
 * route's flags, the handler's parsing and validation of the body, the
 * answer), with a database that is down.
 *
 * Input: the first line is the URL path (POST /login_with_password,
 * /stepup/challenges/otp/SMS/verify, ...), the rest is the JSON body.  The
 * request carries an api-key and a bearer token, so every handler gets as
 * far as its body allows: a body that fails validation is answered 400,
 * one that passes reaches the database: 503.  The routes that ask the
 * database whether the caller may hear why a request is invalid
 * (api_authenticated) are told yes: the harness is linked with
 * -Wl,--wrap=api_authenticated, and __wrap_api_authenticated below stands
 * in for it.  Checked: an answer is always sent, with a status stepup
 * documents for a request that reaches no database (never 500, never a
 * success), its body is a JSON object, a 400 names a field of the
 * request with one of the errors of the API (README, "The API"), and the
 * verification routes judge verificationCode as a model written here
 * does (a JSON string of six ASCII digits, its NULs counted; the status,
 * field and error), and a login name or password holding a NUL is a 400.
 */
#include <string.h>
#include <json-c/json.h>

#include "../../src/fcgi/api.h"
#include "../../src/fcgi/dispatch.h"
#include "../../src/lib/validate.h"
#include "fuzz.h"
#include "fuzz_fcgi.h"

int __wrap_api_authenticated(struct request *r, int allow_impersonation);

/* The caller is authenticated (the database is down: nobody could say). */
int __wrap_api_authenticated(struct request *r, int allow_impersonation)
{
    (void)r;
    (void)allow_impersonation;
    return 1;
}

/* A string member of o, or "". */
static const char *member(struct json_object *o, const char *name)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

/* A 400's body: {"message", "syntaxErrors": {"invalidFields": [{fieldName, error}]}}. */
static void check_invalid(struct json_object *doc)
{
    static const char *const fields[] = { "api-key", "Authorization", "idempotency-ref", "email",
                                          "password.value", "channel", "verificationCode" };
    static const char *const errors[] = { "REQUIRED", "HAS_TEXT", "REQUIRES", "SIZE", "RANGE",
                                          "IN", "NOT_IN", "REGEX", "EXACTLY", "AT_LEAST",
                                          "AT_MOST", "ALL_OR_NONE" };
    struct json_object *se, *list;
    FUZZ_CHECK(json_object_object_get_ex(doc, "syntaxErrors", &se) &&
               json_object_object_get_ex(se, "invalidFields", &list) &&
               json_object_is_type(list, json_type_array) &&
               json_object_array_length(list) >= 1);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        int field_ok = 0, error_ok = 0;
        for (size_t j = 0; j < sizeof fields / sizeof *fields; j++)
            field_ok |= strcmp(member(e, "fieldName"), fields[j]) == 0;
        for (size_t j = 0; j < sizeof errors / sizeof *errors; j++)
            error_ok |= strcmp(member(e, "error"), errors[j]) == 0;
        FUZZ_CHECK(field_ok && error_ok);
    }
}

/* Whether v is a string with a NUL in it ("12\u00003456"). */
static int holds_nul(struct json_object *v)
{
    return json_object_is_type(v, json_type_string) &&
           (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v));
}

/*
 * What the verification routes must say of body (len bytes, as the
 * request holds it, read as request bodies are: validate_json_document):
 * NULL (valid), REQUIRED, REGEX or SIZE, judging the whole JSON string,
 * NULs included ("123456\u0000x" is 8 bytes).
 */
static const char *model_code_problem(const char *body, size_t len)
{
    struct json_object *doc = NULL, *v;
    const char *problem = "REQUIRED";
    (void)validate_json_document(body, len, &doc);
    if (doc != NULL && json_object_is_type(doc, json_type_object) &&
        json_object_object_get_ex(doc, "verificationCode", &v) && v != NULL) {
        const char *code = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string))
            problem = "REGEX";
        else if (json_object_get_string_len(v) != 6)
            problem = "SIZE";
        else
            problem = NULL;
        for (int i = 0; problem == NULL && i < 6; i++)
            if (code[i] < '0' || code[i] > '9')
                problem = "REGEX";
    }
    json_object_put(doc);
    return problem;
}

/* Whether a login body has an email or password.value string holding a NUL (a 400). */
static int login_holds_nul(const char *body, size_t len)
{
    struct json_object *doc = NULL, *v, *pw;
    int nul = 0;
    (void)validate_json_document(body, len, &doc);
    if (doc != NULL && json_object_is_type(doc, json_type_object)) {
        if (json_object_object_get_ex(doc, "email", &v))
            nul |= holds_nul(v);
        if (json_object_object_get_ex(doc, "password", &pw) &&
            json_object_is_type(pw, json_type_object) &&
            json_object_object_get_ex(pw, "value", &v))
            nul |= holds_nul(v);
    }
    json_object_put(doc);
    return nul;
}

/* The first invalid field's name and error of a 400's body. */
static void first_invalid(struct json_object *doc, const char **field, const char **error)
{
    struct json_object *se, *list;
    json_object_object_get_ex(doc, "syntaxErrors", &se);
    json_object_object_get_ex(se, "invalidFields", &list);
    *field = member(json_object_array_get_idx(list, 0), "fieldName");
    *error = member(json_object_array_get_idx(list, 0), "error");
}

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
    if (status == 400)
        check_invalid(doc);
    static const char stepup_verify[] = "/stepup/challenges/otp/SMS/verify";
    static const char enrol_verify[] = "/authentication_factors/otp/SMS/verify";
    if ((path_len == sizeof stepup_verify - 1 && memcmp(data, stepup_verify, path_len) == 0) ||
        (path_len == sizeof enrol_verify - 1 && memcmp(data, enrol_verify, path_len) == 0)) {
        char *text = fuzz_strndup(data + size - body_len, body_len); /* as the request has it */
        const char *want = model_code_problem(text, body_len), *field = "", *error = "";
        if (status == 400)
            first_invalid(doc, &field, &error);
        if (want == NULL ? status != 503
                         : status != 400 || strcmp(field, "verificationCode") != 0 ||
                               strcmp(error, want) != 0) {
            fprintf(stderr, "verify body judged %d %s %s, the model says %s\n", status, field,
                    error, want != NULL ? want : "valid");
            abort();
        }
        free(text);
    }
    static const char login[] = "/login_with_password";
    if (path_len == sizeof login - 1 && memcmp(data, login, path_len) == 0) {
        char *text = fuzz_strndup(data + size - body_len, body_len);
        FUZZ_CHECK(!login_holds_nul(text, body_len) || status == 400);
        free(text);
    }
    json_object_put(doc);

    fuzz_fcgi_end(&f);
    free(input);
    free(head);
    return 0;
}
