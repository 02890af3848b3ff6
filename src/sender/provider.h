/*
 * provider.h - how stepup-sender hands a text to the outside world.
 *
 * A provider is a small table of functions (like a lighttpd module): open
 * makes its state from the configuration, send delivers one message and
 * says how it went in a small closed set of results, close frees.  The
 * three providers, one file each:
 *
 *   http  (provider_http.c)  a gateway over HTTP(S), with libcurl
 *   exec  (provider_exec.c)  a local program: number as argument, text on stdin
 *   log   (provider_log.c)   development: logs that a text would have gone out
 *
 * struct providers holds one open instance of each that the configuration
 * allows (http needs http_url, exec needs exec_program); a programme's
 * sms_provider, or the configuration's default, picks one per message.
 */
#ifndef STEPUP_SENDER_PROVIDER_H
#define STEPUP_SENDER_PROVIDER_H

#include "../lib/common.h"
#include "sender_config.h"

enum provider_result {
    PROVIDER_SENT,      /* the gateway took it */
    PROVIDER_RETRY,     /* it failed, or its fate is unknown (timeout): try again later */
    PROVIDER_PERMANENT  /* refused for good (e.g. HTTP 400): do not try again */
};

/* What a provider says about one send. */
struct provider_outcome {
    enum provider_result result;
    int http_status;     /* -1 when there was no HTTP answer */
    int exit_code;       /* -1 when no program ran; -N when killed by signal N */
    char error[256];     /* "" on success; never the text or the code */
    char message_id[128]; /* the gateway's id of the message, "" when none */
};

/* One message as a provider sees it. */
struct provider_message {
    const char *id;   /* the outbox id (UUID): {message_id} */
    const char *to;   /* E.164 number */
    const char *text; /* the text, code included (secret) */
    const char *code; /* the code alone, so that error texts can be scrubbed of it */
};

struct provider_ops {
    const char *name;
    /* Make the provider's state from c (which outlives it); STEPUP_ERR logged. */
    int (*open)(const struct sender_config *c, void **state);
    void (*send)(void *state, const struct provider_message *m, struct provider_outcome *out);
    void (*close)(void *state);
};

extern const struct provider_ops provider_http_ops;
extern const struct provider_ops provider_exec_ops;
extern const struct provider_ops provider_log_ops;

struct provider {
    const struct provider_ops *ops;
    void *state;
};

struct providers {
    struct provider http, exec, log; /* ops NULL: not configured */
    const char *default_name;
};

/* Open every provider c configures.  STEPUP_ERR (logged) when one fails to open. */
int providers_open(struct providers *ps, const struct sender_config *c) WARN_UNUSED;
void providers_close(struct providers *ps);

/*
 * The provider for a programme's sms_provider (NULL or "": the default),
 * or NULL when that provider is not configured.
 */
struct provider *providers_pick(struct providers *ps, const char *name);

/* Reset an outcome to "nothing happened yet". */
void provider_outcome_init(struct provider_outcome *out);

#endif
