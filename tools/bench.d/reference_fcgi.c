/*
 * reference_fcgi.c - bench-reference-fcgi, baseline B of tools/bench: the
 * least a FastCGI responder can do to issue and to verify a step-up code.
 *
 * Each worker thread has its own database connection (as stepup_app, like
 * stepup-fcgi) with two statements prepared once, and a request is one
 * call of one SQL function of the benchmark's own (tools/bench.d/
 * reference.sql, schema bench, made only in the benchmark's database):
 *
 *   POST /stepup/challenges/otp/SMS         bench.reference_issue
 *   POST /stepup/challenges/otp/SMS/verify  bench.reference_verify
 *   GET  /health                            200, no database
 *
 * In C it does what no issue can skip: the SHA-256 of the bearer token,
 * a random challenge id and code, the code's hash; and for verify, the
 * JSON body.  What it leaves out, on purpose: the api-key, idempotency,
 * the rate limits, the audit events, supersession, sealing the code (a
 * random value of the sealed code's size stands in) and the wake-up of
 * the senders.  Its code hash is SHA-256(token hash || code), so that
 * tools/bench can make pending challenges for it in SQL.
 *
 * Answers: the function's OK is 204, TOKEN_INVALID 401, any other outcome
 * 409 {"errorCode": outcome}; a database failure 503 (the connection is
 * reset for the next request).
 *
 *   bench-reference-fcgi --socket PATH --workers N --db CONNINFO [--pid-file FILE]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "bench_fcgi.h"

#define ISSUE_PATH "/stepup/challenges/otp/SMS"
#define VERIFY_PATH "/stepup/challenges/otp/SMS/verify"
#define CODE_DIGITS 6
#define SEALED_LEN (12 + CODE_DIGITS + 16) /* nonce, code, GCM tag: stepup's sealed code */

struct reference {
    int id;
    const char *conninfo;
    PGconn *conn;
};

static const char *const statements[][2] = {
    { "issue", "SELECT bench.reference_issue($1, $2, $3, $4)" },
    { "verify", "SELECT bench.reference_verify($1, $2)" },
};

/* Connect and prepare; false with the reason on standard error. */
static bool reference_connect(struct reference *ref)
{
    if (ref->conn != NULL)
        PQfinish(ref->conn);
    ref->conn = PQconnectdb(ref->conninfo);
    if (PQstatus(ref->conn) != CONNECTION_OK) {
        fprintf(stderr, "worker %d: cannot connect: %s", ref->id, PQerrorMessage(ref->conn));
        return false;
    }
    for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) {
        PGresult *res = PQprepare(ref->conn, statements[i][0], statements[i][1], 0, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "worker %d: cannot prepare %s: %s", ref->id, statements[i][0],
                    PQerrorMessage(ref->conn));
        PQclear(res);
        if (!ok)
            return false;
    }
    return true;
}

static void *reference_init(const struct bench_options *o, int id)
{
    static struct reference refs[BENCH_WORKERS_MAX];
    struct reference *ref = &refs[id];

    ref->id = id;
    ref->conninfo = o->conninfo;
    return reference_connect(ref) ? ref : NULL;
}

/* The bearer token's SHA-256; false when there is no bearer token. */
static bool token_hash(FCGX_Request *req, unsigned char out[SHA256_DIGEST_LENGTH])
{
    const char *auth = FCGX_GetParam("HTTP_AUTHORIZATION", req->envp);
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0')
        return false;
    SHA256((const unsigned char *)auth + 7, strlen(auth + 7), out);
    return true;
}

/* SHA-256(token hash || code): the reference's code hash. */
static void code_hash(const unsigned char token[SHA256_DIGEST_LENGTH], const char *code,
                      unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned char buf[SHA256_DIGEST_LENGTH + CODE_DIGITS];
    memcpy(buf, token, SHA256_DIGEST_LENGTH);
    memcpy(buf + SHA256_DIGEST_LENGTH, code, CODE_DIGITS);
    SHA256(buf, sizeof buf, out);
}

/* A random code of CODE_DIGITS digits (rejection sampling: no modulo bias). */
static bool random_code(char out[CODE_DIGITS + 1])
{
    uint32_t v;
    do {
        if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
            return false;
    } while (v >= 4294000000u); /* the largest multiple of 10^6 below 2^32 */
    snprintf(out, CODE_DIGITS + 1, "%06u", (unsigned)(v % 1000000u));
    return true;
}

/* A random (version 4) UUID, as text. */
static bool random_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return false;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return true;
}

/*
 * Run a prepared statement and answer its outcome.  values and lengths
 * as PQexecPrepared takes them; formats[i] 1 for bytea.
 */
static void call_and_answer(FCGX_Request *req, struct reference *ref, const char *name, int n,
                            const char *const *values, const int *lengths, const int *formats)
{
    PGresult *res = PQexecPrepared(ref->conn, name, n, values, lengths, formats, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "worker %d: %s failed: %s", ref->id, name, PQerrorMessage(ref->conn));
        PQclear(res);
        if (PQstatus(ref->conn) != CONNECTION_OK)
            (void)reference_connect(ref);
        bench_reply(req, 503, "{\"code\":\"SERVICE_UNAVAILABLE\",\"message\":\"database\"}");
        return;
    }
    const char *outcome = PQgetvalue(res, 0, 0);
    char body[128];
    if (strcmp(outcome, "OK") == 0) {
        bench_reply(req, 204, NULL);
    } else if (strcmp(outcome, "TOKEN_INVALID") == 0) {
        bench_reply(req, 401, "{\"code\":\"UNAUTHORIZED\",\"message\":\"no session\"}");
    } else {
        snprintf(body, sizeof body, "{\"errorCode\":\"%.64s\"}", outcome);
        bench_reply(req, 409, body);
    }
    PQclear(res);
}

static void reference_issue(FCGX_Request *req, struct reference *ref)
{
    unsigned char token[SHA256_DIGEST_LENGTH], hash[SHA256_DIGEST_LENGTH], sealed[SEALED_LEN];
    char code[CODE_DIGITS + 1], id[37];

    if (!token_hash(req, token)) {
        bench_reply(req, 401, "{\"code\":\"UNAUTHORIZED\",\"message\":\"no bearer token\"}");
        return;
    }
    if (!random_code(code) || !random_uuid(id) || RAND_bytes(sealed, sizeof sealed) != 1) {
        bench_reply(req, 500, "{\"code\":\"INTERNAL_ERROR\",\"message\":\"random\"}");
        return;
    }
    code_hash(token, code, hash);
    const char *values[] = { (const char *)token, id, (const char *)hash, (const char *)sealed };
    const int lengths[] = { sizeof token, 0, sizeof hash, sizeof sealed };
    const int formats[] = { 1, 0, 1, 1 };
    call_and_answer(req, ref, "issue", 4, values, lengths, formats);
}

static void reference_verify(FCGX_Request *req, struct reference *ref)
{
    unsigned char token[SHA256_DIGEST_LENGTH], hash[SHA256_DIGEST_LENGTH];
    char body[4096];
    const char *code = NULL;

    if (!token_hash(req, token)) {
        bench_reply(req, 401, "{\"code\":\"UNAUTHORIZED\",\"message\":\"no bearer token\"}");
        return;
    }
    (void)bench_read_body(req, body, sizeof body);
    struct json_object *doc = json_tokener_parse(body), *v = NULL;
    if (doc != NULL && json_object_object_get_ex(doc, "verificationCode", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == CODE_DIGITS)
        code = json_object_get_string(v);
    if (code == NULL || strspn(code, "0123456789") != CODE_DIGITS) {
        json_object_put(doc);
        bench_reply(req, 400, "{\"message\":\"verificationCode\"}");
        return;
    }
    code_hash(token, code, hash);
    json_object_put(doc);
    const char *values[] = { (const char *)token, (const char *)hash };
    const int lengths[] = { sizeof token, sizeof hash };
    const int formats[] = { 1, 1 };
    call_and_answer(req, ref, "verify", 2, values, lengths, formats);
}

static void reference_handle(FCGX_Request *req, void *state)
{
    struct reference *ref = state;
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    char path[256];

    snprintf(path, sizeof path, "%s", uri != NULL ? uri : "");
    path[strcspn(path, "?")] = '\0';
    bool post = method != NULL && strcmp(method, "POST") == 0;
    if (post && strcmp(path, ISSUE_PATH) == 0)
        reference_issue(req, ref);
    else if (post && strcmp(path, VERIFY_PATH) == 0)
        reference_verify(req, ref);
    else if (strcmp(path, "/health") == 0)
        bench_reply(req, 200, "{\"status\":\"ok\"}");
    else
        bench_reply(req, 404, "{\"code\":\"NOT_FOUND\",\"message\":\"not found\"}");
}

int main(int argc, char **argv)
{
    static const struct bench_worker_ops ops = { reference_init, reference_handle };
    struct bench_options o;

    if (!bench_parse_options(argc, argv, "bench-reference-fcgi", true, &o))
        return 2;
    return bench_serve(&o, &ops);
}
