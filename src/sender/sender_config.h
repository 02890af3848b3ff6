/*
 * sender_config.h - stepup-sender's configuration file (stepup-sender.conf).
 *
 * The same "key = value" syntax as stepup.conf, parsed by the shared
 * parser of src/lib/config.h from this program's own declarative table
 * (sender_config.c), which begins with the keys every program reads.  `stepup-sender --describe-config` prints the table; README.md
 * documents every key with the same default (a test compares them).
 *
 * A loaded configuration is immutable: SIGHUP parses the file into a fresh
 * struct sender_config and swaps it in only if it loaded and passed
 * sender_config_check.
 */
#ifndef STEPUP_SENDER_SENDER_CONFIG_H
#define STEPUP_SENDER_SENDER_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include "../lib/common.h"
#include "../lib/crypto.h"
#include "../lib/log.h"
#include "../lib/config.h"

#define SENDER_MAX_STATUSES 32

enum body_type { BODY_JSON, BODY_FORM };

struct sender_config {
    /* from the file (the table in sender_config.c) */
    struct config_common common; /* db_conninfo, db_retry_seconds, log_level, outbox_key */
    char *provider; /* default provider: http, exec or log */
    int poll_interval_ms;
    int batch_size;
    int sends_in_flight;
    int lease_seconds;
    int max_attempts;
    int backoff_base_ms;
    int backoff_max_ms;
    char *http_url;
    char *http_method;
    struct setting_list http_headers;
    char *http_body;
    char *http_body_type_text;
    int http_connect_timeout_ms;
    int http_timeout_ms;
    char *http_permanent_statuses_text;
    char *http_id_field;
    char *http_ca_file;
    char *exec_program;
    int exec_timeout_ms;
    char *exec_permanent_exit_codes_text;
    char *audit_key_file;
    int audit_seal_interval_ms;

    /* derived by sender_config_check */
    enum body_type http_body_type;
    int http_permanent_statuses[SENDER_MAX_STATUSES];
    size_t n_http_permanent_statuses;
    int exec_permanent_exit_codes[SENDER_MAX_STATUSES];
    size_t n_exec_permanent_exit_codes;
};

/* The longest a send may take before it counts as failed, in milliseconds. */
int sender_config_send_timeout_ms(const struct sender_config *c);

/* Headroom kept between the end of a send's timeout and the end of its lease. */
#define SENDER_LEASE_MARGIN_MS 2000

/*
 * The timeout of a send through the named provider (http, exec; 0 for log,
 * which finishes at once, and for a name that is none of them).
 */
int sender_config_provider_timeout_ms(const struct sender_config *c, const char *provider);

/*
 * How long after its claim began a message may still be handed to the
 * named provider: its lease (lease_seconds) less that send's timeout less
 * SENDER_LEASE_MARGIN_MS, so that the send ends, sent or aborted, while
 * the lease still holds by the margin.  Leases are never renewed: a
 * message whose window has passed is given back unsent.
 */
long long sender_config_start_window_ms(const struct sender_config *c, const char *provider);

/* Every default (the key is zero: a loaded file must set it). */
void sender_config_defaults(struct sender_config *c);

/*
 * Load path into c (filled by sender_config_defaults) and check it as a
 * whole (sender_config_check).  STEPUP_ERR with the reason in err, which
 * never holds a value of the file.
 */
int sender_config_load(struct sender_config *c, const char *path, char *err,
                       size_t errlen) WARN_UNUSED;

/* Set one key (tests). */
int sender_config_set(struct sender_config *c, const char *key, const char *value, char *err,
                      size_t errlen) WARN_UNUSED;

/*
 * Check what a single key's bounds cannot: the provider names, the HTTP
 * method and body type, the status lists, that a provider in use is
 * configured (http_url, exec_program), that each header is "Name: value",
 * that batch_size <= sends_in_flight (a claim never takes more messages
 * than there are free send slots), that backoff_base_ms <= backoff_max_ms, and that the lease lasts at
 * least twice the longest send plus SENDER_LEASE_MARGIN_MS (sends start
 * only while the lease outlives their timeout by the margin, so that leaves
 * a window of at least one timeout).  Fills the derived fields.
 */
int sender_config_check(struct sender_config *c, char *err, size_t errlen) WARN_UNUSED;

/* Free the strings and lists and wipe the key. */
void sender_config_free(struct sender_config *c);

/* stepup-sender's table of keys (for the configuration commands of main.c). */
extern const struct setting_table sender_config_table;

/* True when code is in the list (a permanent HTTP status or exit code). */
bool sender_status_in(const int *list, size_t n, int code);

#endif
