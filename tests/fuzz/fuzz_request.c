/*
 * fuzz_request.c - libFuzzer harness: the FastCGI parameters and body of
 * one request into struct request (request_init), then routed.
 *
 * Input: "NAME=value" lines (the FastCGI parameters: REQUEST_METHOD,
 * REQUEST_URI, CONTENT_LENGTH, HTTP_AUTHORIZATION, HTTP_X_FORWARDED_FOR,
 * FCGI_ROLE, ...), an empty line, then the body stream (see
 * fuzz_fcgi.h).  Besides the sanitizers, it checks what request.h
 * promises: a request-ref, bounded NUL-terminated strings, and a body of
 * exactly CONTENT_LENGTH bytes when the request could be read.
 */
#include <string.h>

#include "../../src/fcgi/router.h"
#include "fuzz.h"
#include "fuzz_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_fcgi f;
    struct request r;

    fuzz_fcgi_init_once();
    fuzz_fcgi_start(&f, data, size, NULL);
    enum request_status st =
        request_init(&r, &f.worker, (size_t)f.worker.settings->max_body_bytes);

    FUZZ_CHECK(strlen(r.ref) == CRYPTO_UUID_LEN);
    FUZZ_CHECK(strnlen(r.path, sizeof r.path) < sizeof r.path);
    FUZZ_CHECK(strnlen(r.client_addr, sizeof r.client_addr) < sizeof r.client_addr);
    FUZZ_CHECK(r.gate != NULL);
    if (r.bearer != NULL)
        FUZZ_CHECK(r.bearer[0] != '\0' && strcmp(r.bearer, "null") != 0);
    if (st == REQUEST_OK) {
        const char *cl = FCGX_GetParam("CONTENT_LENGTH", f.envp);
        FUZZ_CHECK(r.method != NULL && r.body != NULL && r.body[r.body_len] == '\0');
        FUZZ_CHECK(r.body_len == (cl != NULL && cl[0] != '\0' ? strtoull(cl, NULL, 10) : 0));
        FUZZ_CHECK(memcmp(r.body, f.body, r.body_len) == 0);

        const struct route *route = NULL;
        char allow[64];
        enum route_match m = router_match(stepup_routes, stepup_nroutes, r.method, r.path, &route,
                                          r.param, sizeof r.param, allow, sizeof allow);
        FUZZ_CHECK(strnlen(r.param, sizeof r.param) < sizeof r.param);
        FUZZ_CHECK(m != ROUTE_FOUND || route != NULL);
        if (m == ROUTE_FOUND) {
            unsigned char fingerprint[CRYPTO_HASH_LEN];
            r.route = route;
            FUZZ_CHECK(request_fingerprint(&r, fingerprint) == STEPUP_OK);
        }
    }
    request_release(&r);
    fuzz_fcgi_end(&f);
    return 0;
}
