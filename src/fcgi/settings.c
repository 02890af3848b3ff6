/*
 * settings.c - stepup-fcgi's table of configuration keys.  The parser is
 * the shared one of src/lib/config.c, which also declares the keys every
 * program reads.  See settings.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client_addr.h"
#include "settings.h"

#define FIELD(f) offsetof(struct settings, f)

static const struct setting_def fcgi_defs[] = {
    {"workers", SETTING_INT, FIELD(workers), 1, 256, "4",
     "worker threads (1..256), each with its own database connection"},
    {"socket", SETTING_STRING, FIELD(socket_path), 0, 0, "",
     "unix socket path (or 127.0.0.1:PORT) to listen on when run stand-alone, made mode 0660 so that the web server connects through the socket's group (give its directory that group and the setgid bit); empty: use the FastCGI socket the web server passes on fd 0"},
    {"listen_backlog", SETTING_INT, FIELD(listen_backlog), 1, 65535, "128",
     "listen(2) backlog of the stand-alone sockets (1..65535)"},
    {"authorizer_socket", SETTING_STRING, FIELD(authorizer_socket), 0, 0, "",
     "a second address to listen on, HOST:PORT (e.g. 127.0.0.1:9001), for Apache's mod_authnz_fcgi, which reaches its authorizers over TCP only; served by authorizer_workers more threads, with every role; empty: none"},
    {"authorizer_workers", SETTING_INT, FIELD(authorizer_workers), 1, 256, "4",
     "worker threads on authorizer_socket (1..256), each with its own database connection: every request behind Apache's step-up gate is served by these (mod_authnz_fcgi opens a connection per request), so as many as workers"},
    {"max_body_bytes", SETTING_INT, FIELD(max_body_bytes), 1024, 10485760, "65536",
     "largest accepted request body in bytes (1024..10485760); larger bodies get 413"},
    {"gate_max_age_seconds", SETTING_INT, FIELD(gate_max_age_seconds), 1, 86400, "300",
     "the Authorizer role lets a request through when its session was stepped up at most this many seconds ago (1..86400)"},
    {"gate_name", SETTING_STRING, FIELD(gate_name), 0, 0, "default",
     "name of the step-up gate (Authorizer) when the web server sets no STEPUP_GATE variable for the location; a session passes only when its programme lists the gate (stepupctl programme set --gates)"},
    {"gate_allow_sandbox", SETTING_INT, FIELD(gate_allow_sandbox), 0, 1, "0",
     "1: the gate lets sessions of sandbox programmes (code 123456) through; 0: they are refused with 403"},
    {"trusted_proxies", SETTING_STRING, FIELD(trusted_proxies), 0, 0, "",
     "addresses and networks (ADDR/BITS, separated by commas) of proxies in front of the web server: only from these is X-Forwarded-For believed; empty: the client address is REMOTE_ADDR"},
    {"metrics_allow", SETTING_STRING, FIELD(metrics_allow), 0, 0, "127.0.0.1 ::1",
     "addresses and networks (ADDR/BITS, separated by blanks or commas) that may read GET /metrics, matched against the client address (REMOTE_ADDR, or what a trusted_proxies proxy forwards); others get 403; empty: nobody"},
    {"metrics_file", SETTING_STRING, FIELD(metrics_file), 0, 0, "",
     "a file that every stepup-fcgi process maps to count requests in, so that GET /metrics adds up across the processes Apache's mod_fcgid runs (in a directory their user may write; a file of another layout is replaced); empty: each process counts in its own memory"},
    {"otp_key", SETTING_KEY, FIELD(otp_key), 0, 0, NULL,
     "one or more keys, newest first, separated by blanks: each 64 hex digits (32 random bytes), or ID:HEX with an id of up to 16 letters, digits, '.', '_' or '-'. Codes are stored as an HMAC under a key derived (HKDF-SHA256) from the first, with its id; a code issued under an older key still listed verifies with that one; the idempotency-ref fingerprints use another key derived from the first. Keep it out of the database; a reload (SIGHUP) takes a new list (README: Rotating the keys)"},
};

static const struct setting_section fcgi_sections[] = {
    CONFIG_COMMON_SECTION(struct settings),
    { fcgi_defs, ARRAY_LEN(fcgi_defs), 0 },
};

/* The rules beyond each key's own: trusted_proxies and metrics_allow must parse. */
static int check_loaded(void *obj, char *err, size_t errlen)
{
    const struct settings *s = obj;
    if (client_addr_check_list("trusted_proxies", s->trusted_proxies, err, errlen) != STEPUP_OK)
        return STEPUP_ERR;
    return client_addr_check_list("metrics_allow", s->metrics_allow, err, errlen);
}

/* What a reload cannot change in a running process (config.h). */
static const char *const restart_keys[] = {
    "workers", "socket", "listen_backlog", "authorizer_socket", "authorizer_workers",
    "db_conninfo", "db_retry_seconds", "db_connect_timeout_seconds", "db_statement_timeout_ms",
    "db_prepared_statements", "log_target", "syslog_facility", "metrics_file", NULL,
};

const struct setting_table settings_table = {
    "stepup-fcgi", fcgi_sections, ARRAY_LEN(fcgi_sections), sizeof(struct settings),
    check_loaded, restart_keys,
};

void settings_defaults(struct settings *s)
{
    memset(s, 0, sizeof *s);
    config_defaults(&settings_table, s);
}

int settings_load(struct settings *s, const char *path, char *err, size_t errlen)
{
    return config_load(&settings_table, s, path, err, errlen);
}

int settings_set(struct settings *s, const char *key, const char *value, char *err,
                 size_t errlen)
{
    return config_set(&settings_table, s, key, value, err, errlen);
}

void settings_free(struct settings *s)
{
    config_free(&settings_table, s);
}

void settings_restart_keys(const struct settings *running, const struct settings *fresh,
                           char *out, size_t outlen)
{
    config_restart_changes(&settings_table, running, fresh, out, outlen);
}
