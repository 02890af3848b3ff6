/*
 * settings.c - stepup-fcgi's table of configuration keys.  The parser is
 * the shared one of src/lib/config.c, which also declares the keys every
 * program reads.  See settings.h.
 */
#include <stddef.h>
#include <string.h>

#include "settings.h"

#define FIELD(f) offsetof(struct settings, f)

static const struct setting_def fcgi_defs[] = {
    {"workers", SETTING_INT, FIELD(workers), 1, 256, "4",
     "worker threads (1..256), each with its own database connection"},
    {"socket", SETTING_STRING, FIELD(socket_path), 0, 0, "",
     "unix socket path to listen on when run stand-alone; empty: use the FastCGI socket the web server passes on fd 0"},
    {"listen_backlog", SETTING_INT, FIELD(listen_backlog), 1, 65535, "128",
     "listen(2) backlog of the stand-alone socket (1..65535)"},
    {"max_body_bytes", SETTING_INT, FIELD(max_body_bytes), 1024, 10485760, "65536",
     "largest accepted request body in bytes (1024..10485760); larger bodies get 413"},
    {"gate_max_age_seconds", SETTING_INT, FIELD(gate_max_age_seconds), 1, 86400, "300",
     "the Authorizer role lets a request through when its session was stepped up at most this many seconds ago (1..86400)"},
    {"otp_key", SETTING_KEY, FIELD(otp_key), 0, 0, NULL,
     "64 hex digits (32 random bytes): HMAC key under which OTP codes are stored; keep it out of the database"},
};

static const struct setting_section fcgi_sections[] = {
    CONFIG_COMMON_SECTION(struct settings),
    { fcgi_defs, ARRAY_LEN(fcgi_defs), 0 },
};

const struct setting_table settings_table = {
    "stepup-fcgi", fcgi_sections, ARRAY_LEN(fcgi_sections), sizeof(struct settings), NULL,
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
