/*
 * settings.c - configuration files: the shared parser (config_*) and
 * stepup-fcgi's table (settings_*).
 *
 * Every key is one row of a program's static table: its name, its type,
 * where it lives in the program's struct, its bounds, its default as text
 * (NULL for a required key) and its documentation.  Defaults are applied by
 * parsing the default text through the same setter as the file, so a
 * default can never disagree with the rules.  config_describe() prints a
 * table.  stepup-fcgi's table is below; stepup-sender declares its own
 * (src/sender/sender_config.c) and shares everything else.
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

static const struct setting_table fcgi_table = { setting_defs, ARRAY_LEN(setting_defs) };

/* Apply one definition's setter to obj; on error a reason (without the value) in err. */
static int apply(void *obj, const struct setting_def *d, const char *value, char *err,
                 size_t errlen)
{
    char *field = (char *)obj + d->offset;

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
    case SETTING_LIST: {
        struct setting_list *list = (struct setting_list *)(void *)field;
        char **items;
        char *copy;
        if (value[0] == '\0' && list->count == 0)
            return STEPUP_OK; /* an empty default: no item */
        items = realloc(list->items, (list->count + 1) * sizeof *items);
        if (items == NULL) {
            snprintf(err, errlen, "%s: out of memory", d->key);
            return STEPUP_ERR;
        }
        list->items = items;
        copy = strdup(value);
        if (copy == NULL) {
            snprintf(err, errlen, "%s: out of memory", d->key);
            return STEPUP_ERR;
        }
        list->items[list->count++] = copy;
        return STEPUP_OK;
    }
    }
    snprintf(err, errlen, "%s: unsupported type", d->key);
    return STEPUP_ERR;
}

static const struct setting_def *find_def(const struct setting_table *t, const char *key)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->defs[i].key, key) == 0)
            return &t->defs[i];
    }
    return NULL;
}

/*
 * Apply every default of table t to obj (whose fields are zero).  Should
 * copying a default string fail for lack of memory, that field is left
 * NULL and config_load reports the problem.
 */
static void apply_defaults(const struct setting_table *t, void *obj)
{
    char err[128];

    for (size_t i = 0; i < t->count; i++) {
        /* Only an allocation can fail here; config_load notices the NULL. */
        if (t->defs[i].def != NULL)
            (void)apply(obj, &t->defs[i], t->defs[i].def, err, sizeof err);
    }
}

/*
 * Fill obj with the defaults of t after zeroing every field the table
 * declares (fields the table does not declare are left alone: the caller
 * zeroes its whole struct first when it has others).
 */
void config_defaults(const struct setting_table *t, void *obj)
{
    for (size_t i = 0; i < t->count; i++) {
        char *field = (char *)obj + t->defs[i].offset;
        switch (t->defs[i].type) {
        case SETTING_STRING: *(char **)(void *)field = NULL; break;
        case SETTING_INT: *(int *)(void *)field = 0; break;
        case SETTING_LOG_LEVEL: *(enum log_level *)(void *)field = LOG_ERROR; break;
        case SETTING_KEY: memset(field, 0, CRYPTO_KEY_LEN); break;
        case SETTING_LIST: *(struct setting_list *)(void *)field = (struct setting_list){ 0 }; break;
        }
    }
    apply_defaults(t, obj);
}

/*
 * Fill s with every default; the keys are zero.  s must not hold allocated
 * strings (call settings_free first when reusing it).
 */
void settings_defaults(struct settings *s)
{
    memset(s, 0, sizeof *s);
    apply_defaults(&fcgi_table, s);
}

/*
 * Set key to value as if read from the file.  STEPUP_ERR with a reason in
 * err (which never repeats the value) for an unknown key or a bad value.
 */
int config_set(const struct setting_table *t, void *obj, const char *key, const char *value,
               char *err, size_t errlen)
{
    const struct setting_def *d = find_def(t, key);

    if (d == NULL) {
        snprintf(err, errlen, "unknown key \"%.64s\"", key);
        return STEPUP_ERR;
    }
    return apply(obj, d, value, err, errlen);
}

int settings_set(struct settings *s, const char *key, const char *value, char *err,
                 size_t errlen)
{
    return config_set(&fcgi_table, s, key, value, err, errlen);
}

/* Wipe and free a string that may hold a secret (a password, an API key). */
static void free_string(char *p)
{
    if (p == NULL)
        return;
    crypto_wipe(p, strlen(p));
    free(p);
}

/*
 * Release the strings and lists of obj, wiped first (they may hold a
 * password or an API key), and wipe its keys; obj may then be refilled.
 */
void config_free(const struct setting_table *t, void *obj)
{
    for (size_t i = 0; i < t->count; i++) {
        char *field = (char *)obj + t->defs[i].offset;
        if (t->defs[i].type == SETTING_STRING) {
            char **slot = (char **)(void *)field;
            free_string(*slot);
            *slot = NULL;
        } else if (t->defs[i].type == SETTING_KEY) {
            crypto_wipe(field, CRYPTO_KEY_LEN);
        } else if (t->defs[i].type == SETTING_LIST) {
            struct setting_list *list = (struct setting_list *)(void *)field;
            for (size_t j = 0; j < list->count; j++)
                free_string(list->items[j]);
            free(list->items);
            list->items = NULL;
            list->count = 0;
        }
    }
}

/* Release the strings of s and wipe its keys; s may then be refilled by settings_defaults. */
void settings_free(struct settings *s)
{
    config_free(&fcgi_table, s);
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
 * quotes removed.  '#' starts a comment except inside a double-quoted value,
 * where \" stands for a quote and \\ for a backslash (any other backslash
 * is kept as it is).  Returns STEPUP_ERR with a reason in err for a
 * malformed line.
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
        /* Unescape in place: out never overtakes in. */
        char *in = v + 1, *out = v + 1, *rest;
        while (*in != '\0' && *in != '"') {
            if (in[0] == '\\' && (in[1] == '"' || in[1] == '\\'))
                in++;
            *out++ = *in++;
        }
        if (*in != '"') {
            snprintf(err, errlen, "%s: unterminated quoted value", p);
            return STEPUP_ERR;
        }
        *out = '\0';
        rest = skip_space(in + 1);
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
 * Read path into obj (filled by config_defaults).  Each line is blank, a
 * comment, or "key = value"; every key at most once, except list keys,
 * which add an item per line (the first line replaces the default items).
 * On error returns STEPUP_ERR with "path:line: reason" in err (for a file
 * that cannot be read, "path: reason"); obj may then be partly updated and
 * must still be freed.
 */
int config_load(const struct setting_table *t, void *obj, const char *path, char *err,
                size_t errlen)
{
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned lineno = 0;
    unsigned *seen_at = NULL;
    char reason[256];
    int rc = STEPUP_ERR;

    seen_at = calloc(t->count + 1, sizeof *seen_at);
    if (seen_at == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return STEPUP_ERR;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(seen_at);
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
        d = find_def(t, key);
        if (d == NULL) {
            snprintf(err, errlen, "%s:%u: unknown key \"%.64s\"", path, lineno, key);
            goto done;
        }
        idx = (size_t)(d - t->defs);
        if (seen_at[idx] != 0 && d->type != SETTING_LIST) {
            snprintf(err, errlen, "%s:%u: duplicate key \"%s\" (first set on line %u)", path,
                     lineno, d->key, seen_at[idx]);
            goto done;
        }
        if (seen_at[idx] == 0 && d->type == SETTING_LIST) {
            /* the file's items replace the default ones */
            struct setting_list *list = (struct setting_list *)(void *)((char *)obj + d->offset);
            for (size_t j = 0; j < list->count; j++)
                free_string(list->items[j]);
            list->count = 0;
        }
        seen_at[idx] = lineno;
        if (apply(obj, d, value, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, reason);
            goto done;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s:%u: read error", path, lineno + 1);
        goto done;
    }

    for (size_t i = 0; i < t->count; i++) {
        const struct setting_def *d = &t->defs[i];
        if (d->def == NULL && seen_at[i] == 0) {
            snprintf(err, errlen, "%s:%u: missing required key \"%s\" (%s)", path, lineno, d->key,
                     d->type == SETTING_KEY ? "64 hex digits" : "no default");
            goto done;
        }
        if (d->type == SETTING_STRING && *(char **)(void *)((char *)obj + d->offset) == NULL) {
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
    free(seen_at);
    return rc;
}

int settings_load(struct settings *s, const char *path, char *err, size_t errlen)
{
    return config_load(&fcgi_table, s, path, err, errlen);
}

/*
 * Print the configuration reference as a Markdown table: a header row
 * "| key | default | meaning |", the separator, then one row per key in
 * table order, key and default in backquotes (`""` for an empty default,
 * "(required)" for a key without one).
 */
void config_describe(const struct setting_table *t, FILE *out)
{
    fprintf(out, "| key | default | meaning |\n");
    fprintf(out, "|-----|---------|---------|\n");
    for (size_t i = 0; i < t->count; i++) {
        const struct setting_def *d = &t->defs[i];
        if (d->def == NULL)
            fprintf(out, "| `%s` | (required) | %s |\n", d->key, d->doc);
        else if (d->def[0] == '\0')
            fprintf(out, "| `%s` | `\"\"` | %s |\n", d->key, d->doc);
        else
            fprintf(out, "| `%s` | `%s` | %s |\n", d->key, d->def, d->doc);
    }
}

void settings_describe(FILE *out)
{
    config_describe(&fcgi_table, out);
}
