/*
 * fuzz_fcgi.h - a FastCGI request in memory, for the harnesses that drive
 * stepup-fcgi's own code (fuzz_request, fuzz_body).
 *
 * libfcgi hands a worker its parameters as an envp array of "NAME=value"
 * strings (read with FCGX_GetParam) and the body as an FCGX_Stream (read
 * with FCGX_GetStr); the answer goes to another FCGX_Stream.  Both structs
 * are public in fcgiapp.h, so a harness builds them in memory and calls
 * request_init or dispatch exactly as main.c's accept loop does: no seam
 * in the production code.
 */
#ifndef STEPUP_FUZZ_FCGI_H
#define STEPUP_FUZZ_FCGI_H

#include <stddef.h>

#include "../../src/fcgi/request.h"

#define FUZZ_PARAMS_MAX 64

struct fuzz_fcgi {
    struct worker worker;      /* worker.fcgx.{envp,in,out} point into this struct */
    FCGX_Stream in, out, err;
    char *envp[FUZZ_PARAMS_MAX + 1];
    size_t nparams;
    char *params;              /* the parameters' storage */
    const unsigned char *body; /* the body stream's bytes (not owned) */
    size_t body_len, body_pos, chunk;
    unsigned char window[256]; /* the output stream's buffer */
    char *answer;              /* everything written to out, NUL-terminated */
    size_t answer_len, answer_cap;
};

/*
 * The process-wide state once (settings with fixed keys and
 * trusted_proxies, a database handle that cannot connect and, after the
 * first failed attempt, fails at once, the metrics table, logging off).
 */
void fuzz_fcgi_init_once(void);

/*
 * A request from data: "NAME=value" lines up to the first empty line are
 * the parameters (at most FUZZ_PARAMS_MAX; a line without '=' is skipped,
 * as libfcgi never delivers one), the rest is the body stream, delivered
 * in chunks of 1..97 bytes (so request_init's read loop runs more than
 * once).  extra (NULL-terminated, may be NULL) are parameters put first.
 */
void fuzz_fcgi_start(struct fuzz_fcgi *f, const unsigned char *data, size_t size,
                     const char *const *extra);

/* Free what fuzz_fcgi_start allocated. */
void fuzz_fcgi_end(struct fuzz_fcgi *f);

/*
 * The status of the answer (its first line, "Status: NNN"), 0 when
 * nothing was answered; *body set to the answer's body (after the blank
 * line), or NULL.  Flushes the output stream first.
 */
int fuzz_fcgi_status(struct fuzz_fcgi *f, const char **body);

#endif
