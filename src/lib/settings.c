/*
 * settings.c - stepup-fcgi's configuration file.
 *
 * Every key is one row of the static table below: its name, its type, where
 * it lives in struct settings, its bounds, its default as text (NULL for a
 * required key) and its documentation.  Defaults are applied by parsing the
 * default text through the same setter as the file, so a default can never
 * disagree with the rules.  settings_describe() prints the table.
 *
 * Error messages never contain a value: values may be secrets (the keys, a
 * password inside db_conninfo).
 */
#define _GNU_SOURCE /* getline */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

enum setting_type {
    SETTING_STRING,    /* char *, owned by struct settings */
    SETTING_INT,       /* int within [min, max] */
    SETTING_LOG_LEVEL, /* enum log_level */
    SETTING_KEY        /* CRYPTO_KEY_LEN bytes, written as 64 hex digits */
};

struct setting_def {
    const char *key;
    enum setting_type type;
    size_t offset; /* of the field in struct settings */
    long min, max; /* SETTING_INT only */
    const char *def; /* default as text; NULL: required */
    const char *doc;
};

#define FIELD(f) offsetof(struct settings, f)

static const struct setting_def setting_defs[] = {
    {"db_conninfo", SETTING_STRING, FIELD(db_conninfo), 0, 0, "dbname=stepup",
     "libpq connection string (keywords or URI); PG* environment variables fill what it leaves out"},
    {"workers", SETTING_INT, FIELD(workers), 1, 256, "4",
     "worker threads (1..256), each with its own database connection"},
    {"socket", SETTING_STRING, FIELD(socket_path), 0, 0, "",
     "unix socket path to listen on when run stand-alone; empty: use the FastCGI socket the web server passes on fd 0"},
    {"listen_backlog", SETTING_INT, FIELD(listen_backlog), 1, 65535, "128",
     "listen(2) backlog of the stand-alone socket (1..65535)"},
    {"db_retry_seconds", SETTING_INT, FIELD(db_retry_seconds), 0, 3600, "1",
     "seconds (0..3600) between a worker's attempts to reconnect to a lost database; requests meanwhile get 503"},
    {"max_body_bytes", SETTING_INT, FIELD(max_body_bytes), 1024, 10485760, "65536",
     "largest accepted request body in bytes (1024..10485760); larger bodies get 413"},
    {"gate_max_age_seconds", SETTING_INT, FIELD(gate_max_age_seconds), 1, 86400, "300",
     "the Authorizer role lets a request through when its session was stepped up at most this many seconds ago (1..86400)"},
    {"log_level", SETTING_LOG_LEVEL, FIELD(log_level), 0, 0, "info",
     "least severe level logged to standard error: error, warn, info or debug"},
    {"otp_key", SETTING_KEY, FIELD(otp_key), 0, 0, NULL,
     "64 hex digits (32 random bytes): HMAC key under which OTP codes are stored; keep it out of the database"},
    {"outbox_key", SETTING_KEY, FIELD(outbox_key), 0, 0, NULL,
     "64 hex digits (32 random bytes): AES-256-GCM key sealing SMS text in the outbox"},
};

/* Apply one definition's setter to s; on error a reason (without the value) in err. */
static int apply(struct settings *s, const struct setting_def *d, const char *value, char *err,
                 size_t errlen)
{
    char *field = (char *)s + d->offset;

    switch (d->type) {
    case SETTING_STRING: {
        char **slot = (char **)(void *)field;
        char *copy = strdup(value);
        if (copy == NULL) {
            snprintf(err, errlen, "%s: out of memory", d->key);
            return STEPUP_ERR;
        }
        free(*slot);
        *slot = copy;
        return STEPUP_OK;
    }
    case SETTING_INT: {
        char *end;
        long v;
        errno = 0;
        v = strtol(value, &end, 10);
        if (value[0] == '\0' || value[0] == ' ' || value[0] == '\t' || *end != '\0' ||
            errno != 0 || v < d->min || v > d->max) {
            snprintf(err, errlen, "%s: expected an integer in %ld..%ld", d->key, d->min, d->max);
            return STEPUP_ERR;
        }
        *(int *)(void *)field = (int)v;
        return STEPUP_OK;
    }
    case SETTING_LOG_LEVEL:
        if (log_level_parse(value, (enum log_level *)(void *)field) != STEPUP_OK) {
            snprintf(err, errlen, "%s: expected error, warn, info or debug", d->key);
            return STEPUP_ERR;
        }
        return STEPUP_OK;
    case SETTING_KEY: {
        unsigned char key[CRYPTO_KEY_LEN];
        if (crypto_hex_decode(value, key, sizeof key) != STEPUP_OK) {
            snprintf(err, errlen, "%s: expected %d hex digits", d->key, 2 * CRYPTO_KEY_LEN);
            return STEPUP_ERR;
        }
        memcpy(field, key, sizeof key);
        crypto_wipe(key, sizeof key);
        return STEPUP_OK;
    }
    }
    snprintf(err, errlen, "%s: unsupported type", d->key);
    return STEPUP_ERR;
}

static const struct setting_def *find_def(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(setting_defs); i++) {
        if (strcmp(setting_defs[i].key, key) == 0)
            return &setting_defs[i];
    }
    return NULL;
}

/*
 * Fill s with every default; the keys are zero.  s must not hold allocated
 * strings (call settings_free first when reusing it).  Should copying a
 * default string fail for lack of memory, that field is left NULL and
 * settings_load reports the problem.
 */
void settings_defaults(struct settings *s)
{
    char err[128];

    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < ARRAY_LEN(setting_defs); i++) {
        /* Only an allocation can fail here; settings_load notices the NULL. */
        if (setting_defs[i].def != NULL)
            (void)apply(s, &setting_defs[i], setting_defs[i].def, err, sizeof err);
    }
}

/*
 * Set key to value as if read from the file.  STEPUP_ERR with a reason in
 * err (which never repeats the value) for an unknown key or a bad value.
 */
int settings_set(struct settings *s, const char *key, const char *value, char *err,
                 size_t errlen)
{
    const struct setting_def *d = find_def(key);

    if (d == NULL) {
        snprintf(err, errlen, "unknown key \"%.64s\"", key);
        return STEPUP_ERR;
    }
    return apply(s, d, value, err, errlen);
}

/* Release the strings of s and wipe its keys; s may then be refilled by settings_defaults. */
void settings_free(struct settings *s)
{
    for (size_t i = 0; i < ARRAY_LEN(setting_defs); i++) {
        char *field = (char *)s + setting_defs[i].offset;
        if (setting_defs[i].type == SETTING_STRING) {
            char **slot = (char **)(void *)field;
            free(*slot);
            *slot = NULL;
        } else if (setting_defs[i].type == SETTING_KEY) {
            crypto_wipe(field, CRYPTO_KEY_LEN);
        }
    }
}

static char *skip_space(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void trim_right(char *start, char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    *end = '\0';
}

/*
 * Split one line in place.  Sets *key to NULL for a blank or comment line;
 * otherwise to the key and *value to the value with surrounding blanks and
 * quotes removed.  '#' starts a comment except inside a double-quoted value.
 * Returns STEPUP_ERR with a reason in err for a malformed line.
 */
static int split_line(char *line, char **key, char **value, char *err, size_t errlen)
{
    char *p = skip_space(line), *eq, *v;

    *key = NULL;
    *value = NULL;
    if (*p == '\0' || *p == '#' || *p == '\r' || *p == '\n')
        return STEPUP_OK;

    eq = strchr(p, '=');
    {
        char *hash = strchr(p, '#');
        if (eq == NULL || (hash != NULL && hash < eq)) {
            snprintf(err, errlen, "expected \"key = value\"");
            return STEPUP_ERR;
        }
    }
    *eq = '\0';
    trim_right(p, eq);
    if (*p == '\0') {
        snprintf(err, errlen, "missing key before '='");
        return STEPUP_ERR;
    }
    for (char *k = p; *k != '\0'; k++) {
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_')) {
            snprintf(err, errlen, "malformed key (letters, digits and '_' only)");
            return STEPUP_ERR;
        }
    }

    v = skip_space(eq + 1);
    if (*v == '"') {
        char *close = strchr(v + 1, '"'), *rest;
        if (close == NULL) {
            snprintf(err, errlen, "%s: unterminated quoted value", p);
            return STEPUP_ERR;
        }
        *close = '\0';
        rest = skip_space(close + 1);
        if (*rest != '\0' && *rest != '#' && *rest != '\r' && *rest != '\n') {
            snprintf(err, errlen, "%s: text after the closing quote", p);
            return STEPUP_ERR;
        }
        v++;
    } else {
        char *hash = strchr(v, '#');
        char *end = hash != NULL ? hash : v + strlen(v);
        trim_right(v, end);
        if (strchr(v, '"') != NULL) {
            snprintf(err, errlen, "%s: stray quote in value", p);
            return STEPUP_ERR;
        }
    }
    *key = p;
    *value = v;
    return STEPUP_OK;
}

/*
 * Read path into s (filled by settings_defaults).  Each line is blank, a
 * comment, or "key = value"; every key at most once.  On error returns
 * STEPUP_ERR with "path:line: reason" in err (for a file that cannot be read,
 * "path: reason"); s may then be partly updated and must still be freed.
 */
int settings_load(struct settings *s, const char *path, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned lineno = 0;
    unsigned seen_at[ARRAY_LEN(setting_defs)] = {0};
    char reason[256];
    int rc = STEPUP_ERR;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return STEPUP_ERR;
    }

    while ((got = getline(&line, &cap, f)) >= 0) {
        char *key, *value;
        const struct setting_def *d;
        size_t idx;

        lineno++;
        if (strlen(line) != (size_t)got) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
            goto done;
        }
        if (split_line(line, &key, &value, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, reason);
            goto done;
        }
        if (key == NULL)
            continue;
        d = find_def(key);
        if (d == NULL) {
            snprintf(err, errlen, "%s:%u: unknown key \"%.64s\"", path, lineno, key);
            goto done;
        }
        idx = (size_t)(d - setting_defs);
        if (seen_at[idx] != 0) {
            snprintf(err, errlen, "%s:%u: duplicate key \"%s\" (first set on line %u)", path,
                     lineno, d->key, seen_at[idx]);
            goto done;
        }
        seen_at[idx] = lineno;
        if (apply(s, d, value, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, reason);
            goto done;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s:%u: read error", path, lineno + 1);
        goto done;
    }

    for (size_t i = 0; i < ARRAY_LEN(setting_defs); i++) {
        const struct setting_def *d = &setting_defs[i];
        if (d->def == NULL && seen_at[i] == 0) {
            snprintf(err, errlen, "%s:%u: missing required key \"%s\" (%s)", path, lineno, d->key,
                     d->type == SETTING_KEY ? "64 hex digits" : "no default");
            goto done;
        }
        if (d->type == SETTING_STRING && *(char **)(void *)((char *)s + d->offset) == NULL) {
            snprintf(err, errlen, "%s:%u: %s: out of memory", path, lineno, d->key);
            goto done;
        }
    }
    rc = STEPUP_OK;

done:
    if (line != NULL) {
        crypto_wipe(line, cap);
        free(line);
    }
    fclose(f);
    return rc;
}

/*
 * Print the configuration reference as a Markdown table: a header row
 * "| key | default | meaning |", the separator, then one row per key in
 * table order, key and default in backquotes (`""` for an empty default,
 * "(required)" for a key without one).
 */
void settings_describe(FILE *out)
{
    fprintf(out, "| key | default | meaning |\n");
    fprintf(out, "|-----|---------|---------|\n");
    for (size_t i = 0; i < ARRAY_LEN(setting_defs); i++) {
        const struct setting_def *d = &setting_defs[i];
        if (d->def == NULL)
            fprintf(out, "| `%s` | (required) | %s |\n", d->key, d->doc);
        else if (d->def[0] == '\0')
            fprintf(out, "| `%s` | `\"\"` | %s |\n", d->key, d->doc);
        else
            fprintf(out, "| `%s` | `%s` | %s |\n", d->key, d->def, d->doc);
    }
}
