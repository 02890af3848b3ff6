/*
 * settings.h - stepup-fcgi's configuration file.
 *
 * The file is "key = value" lines; '#' starts a comment.  Every key is
 * declared once in the table in settings.c with its type, default and
 * documentation; settings_describe() prints that table (it is what
 * README.md's configuration reference is checked against).  Parsing fills a
 * fresh struct settings; nothing else in the program is mutable and global.
 */
#ifndef STEPUP_SETTINGS_H
#define STEPUP_SETTINGS_H

#include <stdio.h>
#include "common.h"
#include "crypto.h"
#include "log.h"

struct settings {
    char *db_conninfo;        /* libpq connection string */
    int workers;              /* worker threads, each with its own connection */
    char *socket_path;        /* stand-alone: listen on this unix socket */
    int listen_backlog;
    int db_retry_seconds;     /* how often a worker retries a lost database */
    int max_body_bytes;       /* larger request bodies are refused (413) */
    int gate_max_age_seconds; /* Authorizer: how recent a step-up must be */
    enum log_level log_level;
    unsigned char otp_key[CRYPTO_KEY_LEN];    /* HMAC key for stored OTP hashes */
    unsigned char outbox_key[CRYPTO_KEY_LEN]; /* AES-256-GCM key for the outbox */
};

/* Defaults for every key (keys are all zero: a loaded file must set them). */
void settings_defaults(struct settings *s);

/*
 * Read path into s (which settings_defaults has filled).  On error returns
 * STEPUP_ERR with "path:line: reason" in err.  Missing required keys
 * (otp_key, outbox_key) are an error.
 */
int settings_load(struct settings *s, const char *path, char *err, size_t errlen) WARN_UNUSED;

/* Parse one "key = value" pair (for tests and overrides). */
int settings_set(struct settings *s, const char *key, const char *value, char *err,
                 size_t errlen) WARN_UNUSED;

void settings_free(struct settings *s);

/* Print every key, its default and its documentation, as Markdown rows. */
void settings_describe(FILE *out);

#endif
