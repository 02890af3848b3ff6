/*
 * settings.h - configuration files: stepup-fcgi's (struct settings), and
 * the shared machinery other programs (stepup-sender) declare theirs with.
 *
 * A file is "key = value" lines; '#' starts a comment.  Every key is
 * declared once in a program's table (struct setting_table) with its type,
 * default and documentation; config_describe() prints that table (it is
 * what README.md's configuration reference is checked against).  Parsing
 * fills a fresh struct; nothing else in a program is mutable and global.
 * stepup-fcgi's table is in settings.c and used through settings_*().
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

/*
 * The shared machinery.  A value is the rest of the line after '=' with
 * surrounding blanks removed, or a double-quoted string (which may hold '#'
 * and, escaped as \" and \\, quotes and backslashes).
 */
enum setting_type {
    SETTING_STRING,    /* char *, owned by the struct */
    SETTING_INT,       /* int within [min, max] */
    SETTING_LOG_LEVEL, /* enum log_level */
    SETTING_KEY,       /* CRYPTO_KEY_LEN bytes, written as 64 hex digits */
    SETTING_LIST       /* struct setting_list: the key may repeat, each line adds an item */
};

/* The items of a SETTING_LIST key, in file order (owned by the struct). */
struct setting_list {
    size_t count;
    char **items;
};

struct setting_def {
    const char *key;
    enum setting_type type;
    size_t offset;   /* of the field in the program's struct */
    long min, max;   /* SETTING_INT only */
    const char *def; /* default as text; NULL: required; "" for a list: empty */
    const char *doc;
};

struct setting_table {
    const struct setting_def *defs;
    size_t count;
};

/* Fill obj with every default (zeroing it first; keys stay zero). */
void config_defaults(const struct setting_table *t, void *obj);
/* Read path into obj (filled by config_defaults): see settings_load. */
int config_load(const struct setting_table *t, void *obj, const char *path, char *err,
                size_t errlen) WARN_UNUSED;
/* Set one key as if read from a file (a list key gets one more item). */
int config_set(const struct setting_table *t, void *obj, const char *key, const char *value,
               char *err, size_t errlen) WARN_UNUSED;
/* Free the strings and lists of obj and wipe its keys. */
void config_free(const struct setting_table *t, void *obj);
/* Print every key, its default and its documentation, as Markdown rows. */
void config_describe(const struct setting_table *t, FILE *out);

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
