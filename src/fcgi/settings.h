/*
 * settings.h - stepup-fcgi's configuration (stepup.conf): its struct and
 * its table of keys (settings.c), read with the shared parser of
 * src/lib/config.h.  `stepup-fcgi --describe-config` prints the table;
 * README.md documents every key with the same default (a test compares).
 */
#ifndef STEPUP_FCGI_SETTINGS_H
#define STEPUP_FCGI_SETTINGS_H

#include <stdio.h>
#include "../lib/common.h"
#include "../lib/config.h"

struct settings {
    struct config_common common; /* db_conninfo, db_retry_seconds, log_level, outbox_key */
    int workers;              /* worker threads, each with its own connection */
    char *socket_path;        /* stand-alone: listen on this unix socket (or HOST:PORT) */
    int listen_backlog;
    char *authorizer_socket;  /* stand-alone: a second listen address (HOST:PORT) ... */
    int authorizer_workers;   /* ... served by this many more threads */
    int max_body_bytes;       /* larger request bodies are refused (413) */
    int gate_max_age_seconds; /* Authorizer: how recent a step-up must be */
    char *gate_name;          /* Authorizer: this gate's name, unless the location sets one */
    int gate_allow_sandbox;   /* Authorizer: 1 lets sandbox sessions through */
    char *trusted_proxies;    /* X-Forwarded-For is believed from these peers */
    char *metrics_allow;      /* client addresses that may read GET /metrics */
    char *metrics_file;       /* the counters shared between processes (metrics.h); "": none */
    struct crypto_keyring otp_key; /* roots of the OTP hash and idempotency keys, newest first */
};

/* stepup-fcgi's table of keys: the common ones, then its own. */
extern const struct setting_table settings_table;

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

/*
 * The keys that shape the process (workers, sockets, database connections,
 * the log target) whose values differ between running and fresh, as
 * "workers, socket" in out ("" when none): a reload cannot apply them.
 */
void settings_restart_keys(const struct settings *running, const struct settings *fresh,
                           char *out, size_t outlen);

#endif
