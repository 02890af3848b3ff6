/*
 * config.c - configuration files: the one parser and writer of every
 * program, and the keys they all read.  See config.h.
 */
#define _GNU_SOURCE /* getline */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "secret_file.h"

#define FIELD(f) offsetof(struct config_common, f)

const struct setting_def config_common_defs[] = { /* as many as CONFIG_COMMON_COUNT says */
    {"db_conninfo", SETTING_STRING, FIELD(db_conninfo), 0, 0, "dbname=stepup",
     "libpq connection string (keywords or URI); PG* environment variables fill what it leaves "
     "out. stepup-fcgi connects as the role stepup_app (it may only call the stepup.api_* "
     "functions), stepup-sender as stepup_sender (only the stepup.sender_* functions)"},
    {"db_retry_seconds", SETTING_INT, FIELD(db_retry_seconds), 0, 3600, "1",
     "seconds (0..3600) between attempts to reconnect to a lost database (stepup-fcgi answers "
     "503 meanwhile)"},
    {"db_connect_timeout_seconds", SETTING_INT, FIELD(db_connect_timeout_seconds), 2, 3600, "5",
     "seconds (2..3600) a connection attempt may take, per host of db_conninfo (libpq's "
     "connect_timeout, unless db_conninfo sets one): with several hosts, a host that does not "
     "answer is given up after this long and the next one tried"},
    {"db_statement_timeout_ms", SETTING_INT, FIELD(db_statement_timeout_ms), 0, 3600000, "5000",
     "milliseconds (0..3600000; 0: no limit) a database call may take: past it the call is "
     "cancelled (stepup-fcgi answers 503, at most a second later if the server does not answer "
     "the cancel) and its connection is made again for the next call"},
    {"db_prepared_statements", SETTING_INT, FIELD(db_prepared_statements), 0, 1, "1",
     "1: prepare each call once per connection and pin the session's search_path; 0: keep no "
     "state in the server's session (every call sent with its text, as an unnamed statement), "
     "for PgBouncer in transaction pooling mode, whose server connections serve other clients "
     "between transactions (README: Beyond one machine)"},
    {"log_level", SETTING_LOG_LEVEL, FIELD(log_level), 0, 0, "info",
     "least severe level logged: error, warn, info or debug"},
    {"log_target", SETTING_LOG_TARGET, FIELD(log_target), 0, 0, "stderr",
     "where log lines go: stderr (the web server's error log, or what the process manager "
     "keeps) or syslog (under syslog_facility, with the priority of each line's level)"},
    {"syslog_facility", SETTING_LOG_FACILITY, FIELD(syslog_facility), 0, 0, "daemon",
     "the syslog facility of the lines when log_target = syslog: daemon, user or local0..local7"},
    {"outbox_key", SETTING_KEY, FIELD(outbox_key), 0, 0, NULL,
     "one or more keys, newest first, separated by blanks: each 64 hex digits (32 random bytes), "
     "or ID:HEX with an id of up to 16 letters, digits, '.', '_' or '-'. stepup-fcgi seals each "
     "code for the SMS outbox with AES-256-GCM under a key derived (HKDF-SHA256) from the first, "
     "bound to the challenge and the destination number, and stores the key's id with it; "
     "stepup-sender opens it with the key of that id, so its list must hold every key "
     "stepup-fcgi's does (add a new key to the sender first). A reload (SIGHUP) takes a new list "
     "(README: Rotating the keys)"},
};

/* ------------------------------------------------------------------------ */
/* The table: its keys across sections. */

static size_t def_total(const struct setting_table *t)
{
    size_t n = 0;
    for (size_t s = 0; s < t->nsections; s++)
        n += t->sections[s].count;
    return n;
}

/* The i-th key of the table, and the offset of its field in the program's struct. */
static const struct setting_def *def_at(const struct setting_table *t, size_t i, size_t *offset)
{
    for (size_t s = 0; s < t->nsections; s++) {
        if (i < t->sections[s].count) {
            *offset = t->sections[s].offset + t->sections[s].defs[i].offset;
            return &t->sections[s].defs[i];
        }
        i -= t->sections[s].count;
    }
    return NULL;
}

/* The key called key, its field's offset and its index; NULL when there is none. */
static const struct setting_def *find_def(const struct setting_table *t, const char *key,
                                          size_t *offset, size_t *index)
{
    size_t n = def_total(t);
    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = def_at(t, i, offset);
        if (strcmp(d->key, key) == 0) {
            if (index != NULL)
                *index = i;
            return d;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Values. */

/* Apply one definition's setter to field; on error a reason (without the value) in err. */
static int apply(char *field, const struct setting_def *d, const char *value, char *err,
                 size_t errlen)
{
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
    case SETTING_LOG_TARGET:
        if (log_target_parse(value, (enum log_target *)(void *)field) != STEPUP_OK) {
            snprintf(err, errlen, "%s: expected stderr or syslog", d->key);
            return STEPUP_ERR;
        }
        return STEPUP_OK;
    case SETTING_LOG_FACILITY:
        if (log_facility_parse(value, (enum log_facility *)(void *)field) != STEPUP_OK) {
            snprintf(err, errlen, "%s: expected daemon, user or local0..local7", d->key);
            return STEPUP_ERR;
        }
        return STEPUP_OK;
    case SETTING_KEY: {
        struct crypto_keyring ring;
        char reason[128];
        if (crypto_keyring_parse(value, &ring, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s: %s", d->key, reason);
            return STEPUP_ERR;
        }
        memcpy(field, &ring, sizeof ring);
        crypto_wipe(&ring, sizeof ring);
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

/* Wipe and free a string that may hold a secret (a password, an API key). */
static void free_string(char *p)
{
    if (p == NULL)
        return;
    crypto_wipe(p, strlen(p));
    free(p);
}

/* Empty a list (its items wiped). */
static void clear_list(struct setting_list *list)
{
    for (size_t j = 0; j < list->count; j++)
        free_string(list->items[j]);
    list->count = 0;
}

void config_db_options(const struct config_common *c, struct db_options *o)
{
    o->conninfo = c->db_conninfo;
    o->retry_seconds = c->db_retry_seconds;
    o->connect_timeout_seconds = c->db_connect_timeout_seconds;
    o->statement_timeout_ms = c->db_statement_timeout_ms;
    o->prepare = c->db_prepared_statements != 0;
}

void config_defaults(const struct setting_table *t, void *obj)
{
    size_t n = def_total(t), off;
    char err[128];

    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = def_at(t, i, &off);
        char *field = (char *)obj + off;
        switch (d->type) {
        case SETTING_STRING: *(char **)(void *)field = NULL; break;
        case SETTING_INT: *(int *)(void *)field = 0; break;
        case SETTING_LOG_LEVEL: *(enum log_level *)(void *)field = LOG_ERROR; break;
        case SETTING_LOG_TARGET: *(enum log_target *)(void *)field = LOG_TO_STDERR; break;
        case SETTING_LOG_FACILITY:
            *(enum log_facility *)(void *)field = LOG_FACILITY_DAEMON;
            break;
        case SETTING_KEY: memset(field, 0, sizeof(struct crypto_keyring)); break;
        case SETTING_LIST: *(struct setting_list *)(void *)field = (struct setting_list){ 0 }; break;
        }
    }
    /* Only an allocation can fail here; config_load notices the NULL. */
    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = def_at(t, i, &off);
        if (d->def != NULL)
            (void)apply((char *)obj + off, d, d->def, err, sizeof err);
    }
}

int config_set(const struct setting_table *t, void *obj, const char *key, const char *value,
               char *err, size_t errlen)
{
    size_t off;
    const struct setting_def *d = find_def(t, key, &off, NULL);

    if (d == NULL) {
        snprintf(err, errlen, "unknown key \"%.64s\"", key);
        return STEPUP_ERR;
    }
    return apply((char *)obj + off, d, value, err, errlen);
}

void config_free(const struct setting_table *t, void *obj)
{
    size_t n = def_total(t), off;
    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = def_at(t, i, &off);
        char *field = (char *)obj + off;
        if (d->type == SETTING_STRING) {
            char **slot = (char **)(void *)field;
            free_string(*slot);
            *slot = NULL;
        } else if (d->type == SETTING_KEY) {
            crypto_wipe(field, sizeof(struct crypto_keyring));
        } else if (d->type == SETTING_LIST) {
            struct setting_list *list = (struct setting_list *)(void *)field;
            clear_list(list);
            free(list->items);
            list->items = NULL;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The file format. */

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

/* Read one line of f into *line (NUL-terminated); -1 at the end, -2 for a NUL byte in it. */
static ssize_t read_line(FILE *f, char **line, size_t *cap)
{
    ssize_t got = getline(line, cap, f);
    if (got >= 0 && strlen(*line) != (size_t)got)
        return -2;
    return got;
}

/* Wipe and free a getline buffer (lines may hold secrets). */
static void free_line(char *line, size_t cap)
{
    if (line != NULL) {
        crypto_wipe(line, cap);
        free(line);
    }
}

/* Whether a file of this table holds secrets (a SETTING_KEY). */
static bool table_holds_keys(const struct setting_table *t)
{
    size_t off, n = def_total(t);
    for (size_t i = 0; i < n; i++)
        if (def_at(t, i, &off)->type == SETTING_KEY)
            return true;
    return false;
}

int config_load(const struct setting_table *t, void *obj, const char *path, char *err,
                size_t errlen)
{
    FILE *f = fopen(path, "r");
    int rc = STEPUP_ERR;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return STEPUP_ERR;
    }
    if (!table_holds_keys(t) || secret_file_check(fileno(f), path, err, errlen) == STEPUP_OK)
        rc = config_load_stream(t, obj, f, path, err, errlen);
    fclose(f);
    return rc;
}

int config_load_stream(const struct setting_table *t, void *obj, FILE *f, const char *path,
                       char *err, size_t errlen)
{
    size_t n = def_total(t);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned lineno = 0;
    unsigned *seen_at = NULL;
    char reason[256];
    int rc = STEPUP_ERR;

    seen_at = calloc(n + 1, sizeof *seen_at);
    if (seen_at == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return STEPUP_ERR;
    }
    while ((got = read_line(f, &line, &cap)) != -1) {
        char *key, *value;
        size_t idx, off;

        lineno++;
        if (got == -2) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
            goto done;
        }
        if (split_line(line, &key, &value, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, reason);
            goto done;
        }
        if (key == NULL)
            continue;
        const struct setting_def *d = find_def(t, key, &off, &idx);
        if (d == NULL) {
            snprintf(err, errlen, "%s:%u: unknown key \"%.64s\"", path, lineno, key);
            goto done;
        }
        if (seen_at[idx] != 0 && d->type != SETTING_LIST) {
            snprintf(err, errlen, "%s:%u: duplicate key \"%s\" (first set on line %u)", path,
                     lineno, d->key, seen_at[idx]);
            goto done;
        }
        if (seen_at[idx] == 0 && d->type == SETTING_LIST)
            clear_list((struct setting_list *)(void *)((char *)obj + off)); /* the file's items replace the default ones */
        seen_at[idx] = lineno;
        if (apply((char *)obj + off, d, value, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, reason);
            goto done;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s:%u: read error", path, lineno + 1);
        goto done;
    }

    /* every required key that is missing, in one message */
    size_t missing = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t off;
        const struct setting_def *d = def_at(t, i, &off);
        if (d->def != NULL || seen_at[i] != 0)
            continue;
        int w = snprintf(reason + used, sizeof reason - used, "%s\"%s\" (%s)",
                         missing++ > 0 ? ", " : "", d->key,
                         d->type == SETTING_KEY ? "64 hex digits" : "no default");
        if (w > 0 && (size_t)w < sizeof reason - used)
            used += (size_t)w;
    }
    if (missing > 0) {
        snprintf(err, errlen, "%s:%u: missing required key%s %s", path, lineno,
                 missing > 1 ? "s" : "", reason);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t off;
        const struct setting_def *d = def_at(t, i, &off);
        if (d->type == SETTING_STRING && *(char **)(void *)((char *)obj + off) == NULL) {
            snprintf(err, errlen, "%s:%u: %s: out of memory", path, lineno, d->key);
            goto done;
        }
    }
    if (t->check != NULL && t->check(obj, reason, sizeof reason) != STEPUP_OK) {
        snprintf(err, errlen, "%s: %s", path, reason);
        goto done;
    }
    rc = STEPUP_OK;

done:
    free_line(line, cap);
    free(seen_at);
    return rc;
}

void *config_load_new(const struct setting_table *t, const char *path, char *err, size_t errlen)
{
    void *obj = calloc(1, t->size);
    if (obj == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    config_defaults(t, obj);
    if (config_load(t, obj, path, err, errlen) != STEPUP_OK) {
        config_release(t, obj);
        return NULL;
    }
    return obj;
}

void config_release(const struct setting_table *t, void *obj)
{
    if (obj == NULL)
        return;
    config_free(t, obj);
    crypto_wipe(obj, t->size);
    free(obj);
}

int config_is_restart_key(const struct setting_table *t, const char *key)
{
    for (const char *const *k = t->restart_keys; k != NULL && *k != NULL; k++)
        if (strcmp(*k, key) == 0)
            return 1;
    return 0;
}

/* 1 when the field of d at a and at b holds the same value. */
static int same_value(const struct setting_def *d, const char *a, const char *b)
{
    switch (d->type) {
    case SETTING_STRING: {
        const char *x = *(char *const *)(const void *)a, *y = *(char *const *)(const void *)b;
        return strcmp(x != NULL ? x : "", y != NULL ? y : "") == 0;
    }
    case SETTING_INT:
        return *(const int *)(const void *)a == *(const int *)(const void *)b;
    case SETTING_LOG_LEVEL:
        return *(const enum log_level *)(const void *)a == *(const enum log_level *)(const void *)b;
    case SETTING_LOG_TARGET:
        return *(const enum log_target *)(const void *)a ==
               *(const enum log_target *)(const void *)b;
    case SETTING_LOG_FACILITY:
        return *(const enum log_facility *)(const void *)a ==
               *(const enum log_facility *)(const void *)b;
    case SETTING_KEY: {
        const struct crypto_keyring *x = (const struct crypto_keyring *)(const void *)a;
        const struct crypto_keyring *y = (const struct crypto_keyring *)(const void *)b;
        if (x->count != y->count)
            return 0;
        for (size_t i = 0; i < x->count; i++)
            if (x->keys[i].named != y->keys[i].named || strcmp(x->keys[i].id, y->keys[i].id) != 0 ||
                !crypto_equal(x->keys[i].raw, y->keys[i].raw, CRYPTO_KEY_LEN))
                return 0;
        return 1;
    }
    case SETTING_LIST: {
        const struct setting_list *x = (const struct setting_list *)(const void *)a;
        const struct setting_list *y = (const struct setting_list *)(const void *)b;
        if (x->count != y->count)
            return 0;
        for (size_t i = 0; i < x->count; i++)
            if (strcmp(x->items[i], y->items[i]) != 0)
                return 0;
        return 1;
    }
    }
    return 0;
}

void config_restart_changes(const struct setting_table *t, const void *running,
                            const void *fresh, char *out, size_t outlen)
{
    size_t off, used = 0;
    if (outlen > 0)
        out[0] = '\0';
    for (const char *const *k = t->restart_keys; k != NULL && *k != NULL && used + 1 < outlen;
         k++) {
        const struct setting_def *d = find_def(t, *k, &off, NULL);
        if (d == NULL || same_value(d, (const char *)running + off, (const char *)fresh + off))
            continue;
        int w = snprintf(out + used, outlen - used, "%s%s", used > 0 ? ", " : "", d->key);
        if (w > 0)
            used += (size_t)w < outlen - used ? (size_t)w : outlen - used - 1;
    }
}

/*
 * Print the configuration reference as a Markdown table: a header row
 * "| key | default | meaning |", the separator, then one row per key in
 * table order, key and default in backquotes (`""` for an empty default,
 * "(required)" for a key without one); a restart key's meaning ends with
 * RESTART_NOTE.
 */
#define RESTART_NOTE " (read at start-up only: a reload keeps the running value)"
void config_describe(const struct setting_table *t, FILE *out)
{
    size_t n = def_total(t), off;
    fprintf(out, "| key | default | meaning |\n");
    fprintf(out, "|-----|---------|---------|\n");
    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = def_at(t, i, &off);
        const char *note = config_is_restart_key(t, d->key) ? RESTART_NOTE : "";
        if (d->def == NULL)
            fprintf(out, "| `%s` | (required) | %s%s |\n", d->key, d->doc, note);
        else if (d->def[0] == '\0')
            fprintf(out, "| `%s` | `\"\"` | %s%s |\n", d->key, d->doc, note);
        else
            fprintf(out, "| `%s` | `%s` | %s%s |\n", d->key, d->def, d->doc, note);
    }
}

/* ------------------------------------------------------------------------ */
/* Writing files. */

int config_assignment_parse(char *text, struct config_assignment *out)
{
    char *eq = strchr(text, '=');
    if (eq == NULL || eq == text)
        return STEPUP_ERR;
    *eq = '\0';
    out->key = text;
    out->value = eq + 1;
    return STEPUP_OK;
}

/*
 * Append "key = value\n" to f, the value quoted when the format needs it
 * (empty, blanks at an end, '#', '"' or '\').  STEPUP_ERR for a value no
 * line can carry (a control character).
 */
static int write_assignment(FILE *f, const char *prefix, const char *key, const char *value,
                            char *err, size_t errlen)
{
    size_t n = strlen(value);
    bool quote = n == 0 || value[0] == ' ' || value[0] == '\t' || value[n - 1] == ' ' ||
                 value[n - 1] == '\t' || strpbrk(value, "#\"\\") != NULL;
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            snprintf(err, errlen, "%s: a value cannot hold a line break or a control character",
                     key);
            return STEPUP_ERR;
        }
    }
    fprintf(f, "%s%s = ", prefix, key);
    if (!quote) {
        fputs(value, f);
    } else {
        fputc('"', f);
        for (const char *p = value; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', f);
            fputc(*p, f);
        }
        fputc('"', f);
    }
    fputc('\n', f);
    return STEPUP_OK;
}

/* The documentation of a key as comment lines of at most 78 columns. */
static void write_doc(FILE *f, const char *doc)
{
    const char *p = doc;
    while (*p != '\0') {
        size_t len = strlen(p), cut = len;
        if (len > 76) {
            cut = 76;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = strcspn(p, " ");
        }
        fprintf(f, "# %.*s\n", (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

/* The unknown key among sets, or NULL. */
static const char *unknown_key(const struct setting_table *t, const struct config_assignment *sets,
                               size_t nsets)
{
    size_t off;
    for (size_t i = 0; i < nsets; i++) {
        if (find_def(t, sets[i].key, &off, NULL) == NULL)
            return sets[i].key;
    }
    return NULL;
}

/*
 * Create a temporary file beside path (mode 0600) for the caller to fill:
 * its stream, its name in tmp.  NULL with a reason in err.
 */
static FILE *open_beside(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    if (snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path) >= (int)tmplen) {
        snprintf(err, errlen, "%s: path too long", path);
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a file beside it: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

/*
 * Finish a file from open_beside: flush it to disk, close it, and load it
 * back with the table (its check included).  STEPUP_OK when it is a valid
 * configuration; otherwise the file is removed and err says why, naming
 * path (what the file is to become) rather than tmp.
 */
static int finish_and_check(const struct setting_table *t, FILE *f, const char *tmp,
                            const char *path, char *err, size_t errlen)
{
    char reason[512];
    bool written = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !written) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        unlink(tmp);
        return STEPUP_ERR;
    }
    void *obj = config_load_new(t, tmp, reason, sizeof reason);
    if (obj == NULL) {
        size_t n = strlen(tmp);
        snprintf(err, errlen, "not written, it would not load: %s%s",
                 strncmp(reason, tmp, n) == 0 ? path : "",
                 strncmp(reason, tmp, n) == 0 ? reason + n : reason);
        unlink(tmp);
        return STEPUP_ERR;
    }
    config_release(t, obj);
    return STEPUP_OK;
}

int config_init(const struct setting_table *t, const char *path,
                const struct config_assignment *sets, size_t nsets, const char *keys_from,
                char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    struct stat st;
    size_t n = def_total(t), off;
    const char *bad = unknown_key(t, sets, nsets);

    if (bad != NULL) {
        snprintf(err, errlen, "unknown key \"%.64s\"", bad);
        return STEPUP_ERR;
    }
    if (lstat(path, &st) == 0) {
        snprintf(err, errlen, "%s exists already: %s --update-config changes keys of it", path,
                 t->program);
        return STEPUP_ERR;
    }
    FILE *f = open_beside(path, tmp, sizeof tmp, err, errlen);
    if (f == NULL)
        return STEPUP_ERR;

    fprintf(f, "# Configuration of %s, written by %s --init-config.\n", t->program, t->program);
    fprintf(f, "# It holds secrets: keep it mode 0600, readable by %s's user only.\n", t->program);
    fprintf(f, "# Every key is below with what it means; a key that is commented out\n"
               "# has the value shown, its default.  Change keys with\n"
               "#   %s --update-config FILE --set KEY=VALUE\n", t->program);
    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = def_at(t, i, &off);
        bool given = false;
        fputc('\n', f);
        write_doc(f, d->doc);
        for (size_t j = 0; j < nsets; j++) {
            if (strcmp(sets[j].key, d->key) != 0)
                continue;
            given = true;
            if (write_assignment(f, "", d->key, sets[j].value, err, errlen) != STEPUP_OK)
                goto failed;
        }
        if (given)
            continue;
        if (d->type == SETTING_KEY && d->def == NULL) {
            char hex[CONFIG_KEYRING_TEXT_MAX];
            unsigned char key[CRYPTO_KEY_LEN];
            if (keys_from != NULL) {
                char reason[256];
                if (config_pick(keys_from, d->key, hex, sizeof hex, reason, sizeof reason) !=
                    STEPUP_OK) {
                    snprintf(err, errlen, "%s: %s", d->key, reason);
                    goto failed;
                }
            } else {
                if (crypto_random_bytes(key, sizeof key) != STEPUP_OK) {
                    snprintf(err, errlen, "%s: cannot draw random bytes", d->key);
                    goto failed;
                }
                crypto_hex_encode(key, sizeof key, hex);
                crypto_wipe(key, sizeof key);
            }
            int rc = write_assignment(f, "", d->key, hex, err, errlen);
            crypto_wipe(hex, sizeof hex);
            if (rc != STEPUP_OK)
                goto failed;
        } else if (d->def != NULL) {
            if (write_assignment(f, "# ", d->key, d->def, err, errlen) != STEPUP_OK)
                goto failed;
        } else {
            fprintf(f, "# %s = (required)\n", d->key);
        }
    }
    if (finish_and_check(t, f, tmp, path, err, errlen) != STEPUP_OK)
        return STEPUP_ERR;
    /* link, not rename: a file that appeared meanwhile is never replaced */
    if (link(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return STEPUP_ERR;
    }
    unlink(tmp);
    return STEPUP_OK;

failed:
    fclose(f);
    unlink(tmp);
    return STEPUP_ERR;
}

/* The key of a line as split_line reads it (copied to key), "" for none. */
static void line_key(const char *line, char *key, size_t keylen)
{
    char *copy = strdup(line), *k, *v;
    char reason[128];
    key[0] = '\0';
    if (copy == NULL)
        return;
    if (split_line(copy, &k, &v, reason, sizeof reason) == STEPUP_OK && k != NULL)
        snprintf(key, keylen, "%s", k);
    crypto_wipe(copy, strlen(line));
    free(copy);
}

/* True when line is a default config_init commented out: "# key = ...". */
static bool is_commented_default(const char *line, const char *key)
{
    size_t n = strlen(key);
    return strncmp(line, "# ", 2) == 0 && strncmp(line + 2, key, n) == 0 &&
           strncmp(line + 2 + n, " = ", 3) == 0;
}

/* The lines of a file: lines[i] each with its newline (as read); wiped and freed by free_lines. */
struct lines {
    char **at;
    size_t count;
};

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->count; i++) {
        crypto_wipe(l->at[i], strlen(l->at[i]));
        free(l->at[i]);
    }
    free(l->at);
}

/* Read every line of f into l.  STEPUP_ERR with a reason for a NUL byte or no memory. */
static int read_lines(FILE *f, const char *path, struct lines *l, char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    *l = (struct lines){ 0 };
    while ((got = read_line(f, &line, &cap)) != -1) {
        char **at = realloc(l->at, (l->count + 1) * sizeof *at);
        char *copy = got >= 0 ? strdup(line) : NULL;
        if (got == -2 || at == NULL || copy == NULL) {
            snprintf(err, errlen, "%s: %s", path, got == -2 ? "NUL byte in a line" : "out of memory");
            if (at != NULL)
                l->at = at;
            free(copy);
            free_line(line, cap);
            return STEPUP_ERR;
        }
        l->at = at;
        l->at[l->count++] = copy;
    }
    free_line(line, cap);
    return STEPUP_OK;
}

int config_update(const struct setting_table *t, const char *path,
                  const struct config_assignment *sets, size_t nsets, char *err, size_t errlen)
{
    char tmp[PATH_MAX], key[128];
    struct stat st;
    struct lines lines = { 0 };
    bool *written = NULL, *present = NULL;
    FILE *out = NULL;
    const char *bad = unknown_key(t, sets, nsets);

    if (bad != NULL) {
        snprintf(err, errlen, "unknown key \"%.64s\"", bad);
        return STEPUP_ERR;
    }
    FILE *in = fopen(path, "r");
    if (in == NULL || fstat(fileno(in), &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (in != NULL)
            fclose(in);
        return STEPUP_ERR;
    }
    int rc = read_lines(in, path, &lines, err, errlen);
    fclose(in);
    if (rc != STEPUP_OK)
        goto failed;
    written = calloc(nsets + 1, sizeof *written);
    present = calloc(nsets + 1, sizeof *present);
    if (written == NULL || present == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto failed;
    }
    /* which keys have a line of their own already */
    for (size_t i = 0; i < lines.count; i++) {
        line_key(lines.at[i], key, sizeof key);
        for (size_t j = 0; key[0] != '\0' && j < nsets; j++)
            present[j] = present[j] || strcmp(sets[j].key, key) == 0;
    }
    out = open_beside(path, tmp, sizeof tmp, err, errlen);
    if (out == NULL)
        goto failed;
    /* the new file keeps the old one's owner (when we may) and mode */
    if (fchown(fileno(out), st.st_uid, st.st_gid) != 0) {
        /* not root: the file stays ours, which it was if we could read it */
    }
    if (fchmod(fileno(out), st.st_mode & 07777) != 0) {
        snprintf(err, errlen, "%s: cannot keep its mode: %s", path, strerror(errno));
        goto failed;
    }

    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.at[i];
        const char *target = NULL;
        line_key(line, key, sizeof key);
        /* a key's first line, or for a key without one its commented default, takes its values */
        for (size_t j = 0; j < nsets && target == NULL; j++) {
            if (written[j])
                continue;
            if (present[j] ? strcmp(sets[j].key, key) == 0
                           : is_commented_default(line, sets[j].key))
                target = sets[j].key;
        }
        if (target == NULL && key[0] != '\0') {
            for (size_t j = 0; j < nsets && target == NULL; j++)
                if (strcmp(sets[j].key, key) == 0)
                    target = ""; /* a further line of a key whose values are written: dropped */
        }
        if (target == NULL) {
            fputs(line, out);
            if (line[0] != '\0' && line[strlen(line) - 1] != '\n')
                fputc('\n', out);
            continue;
        }
        for (size_t j = 0; target[0] != '\0' && j < nsets; j++) {
            if (written[j] || strcmp(sets[j].key, target) != 0)
                continue;
            written[j] = true;
            if (write_assignment(out, "", target, sets[j].value, err, errlen) != STEPUP_OK)
                goto failed;
        }
    }
    for (size_t i = 0; i < nsets; i++) {
        if (!written[i] && write_assignment(out, "", sets[i].key, sets[i].value, err, errlen) !=
                               STEPUP_OK)
            goto failed;
    }
    free_lines(&lines);
    free(written);
    free(present);
    if (finish_and_check(t, out, tmp, path, err, errlen) != STEPUP_OK)
        return STEPUP_ERR;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return STEPUP_ERR;
    }
    return STEPUP_OK;

failed:
    free_lines(&lines);
    free(written);
    free(present);
    if (out != NULL) {
        fclose(out);
        unlink(tmp);
    }
    return STEPUP_ERR;
}

int config_print_value(const struct setting_table *t, const void *obj, const char *key, FILE *out)
{
    size_t off;
    const struct setting_def *d = find_def(t, key, &off, NULL);
    if (d == NULL)
        return STEPUP_ERR;
    const char *field = (const char *)obj + off;
    switch (d->type) {
    case SETTING_STRING:
        fprintf(out, "%s\n", *(char *const *)(const void *)field);
        break;
    case SETTING_INT:
        fprintf(out, "%d\n", *(const int *)(const void *)field);
        break;
    case SETTING_LOG_LEVEL:
        fprintf(out, "%s\n", log_level_name(*(const enum log_level *)(const void *)field));
        break;
    case SETTING_LOG_TARGET:
        fprintf(out, "%s\n", log_target_name(*(const enum log_target *)(const void *)field));
        break;
    case SETTING_LOG_FACILITY:
        fprintf(out, "%s\n",
                log_facility_name(*(const enum log_facility *)(const void *)field));
        break;
    case SETTING_KEY: {
        char text[CONFIG_KEYRING_TEXT_MAX];
        if (crypto_keyring_format((const struct crypto_keyring *)(const void *)field, text,
                                  sizeof text) != STEPUP_OK)
            return STEPUP_ERR;
        fprintf(out, "%s\n", text);
        crypto_wipe(text, sizeof text);
        break;
    }
    case SETTING_LIST: {
        const struct setting_list *list = (const struct setting_list *)(const void *)field;
        for (size_t i = 0; i < list->count; i++)
            fprintf(out, "%s\n", list->items[i]);
        break;
    }
    }
    return STEPUP_OK;
}

int config_pick(const char *path, const char *key, char *out, size_t outlen, char *err,
                size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, *k, *v;
    size_t cap = 0;
    ssize_t got;
    unsigned lineno = 0, found_at = 0;
    char reason[256];
    int rc = STEPUP_ERR;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return STEPUP_ERR;
    }
    while ((got = read_line(f, &line, &cap)) != -1) {
        lineno++;
        if (got == -2 || split_line(line, &k, &v, reason, sizeof reason) != STEPUP_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno,
                     got == -2 ? "NUL byte in line" : reason);
            goto done;
        }
        if (k == NULL || strcmp(k, key) != 0)
            continue;
        if (found_at != 0) {
            snprintf(err, errlen, "%s:%u: duplicate key \"%s\" (first set on line %u)", path,
                     lineno, key, found_at);
            goto done;
        }
        found_at = lineno;
        if (strlen(v) >= outlen) {
            snprintf(err, errlen, "%s:%u: the value of %s is too long", path, lineno, key);
            goto done;
        }
        snprintf(out, outlen, "%s", v);
    }
    if (found_at == 0)
        snprintf(err, errlen, "%s: no key \"%s\"", path, key);
    else
        rc = STEPUP_OK;

done:
    free_line(line, cap);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The configuration commands. */

int config_command_set(struct config_command *cmd, char *text)
{
    if (cmd->nsets >= CONFIG_MAX_SETS ||
        config_assignment_parse(text, &cmd->sets[cmd->nsets]) != STEPUP_OK)
        return STEPUP_ERR;
    cmd->nsets++;
    return STEPUP_OK;
}

int config_command_option(struct config_command *cmd, int opt, char *arg)
{
    switch (opt) {
    case 'c': cmd->config = arg; return 1;
    case CONFIG_OPT_DESCRIBE: cmd->op = CONFIG_OP_DESCRIBE; return 1;
    case CONFIG_OPT_INIT: cmd->op = CONFIG_OP_INIT; cmd->path = arg; return 1;
    case CONFIG_OPT_UPDATE: cmd->op = CONFIG_OP_UPDATE; cmd->path = arg; return 1;
    case CONFIG_OPT_KEYS_FROM: cmd->keys_from = arg; return 1;
    case CONFIG_OPT_CHECK: cmd->op = CONFIG_OP_CHECK; return 1;
    case CONFIG_OPT_GET: cmd->op = CONFIG_OP_GET; cmd->key = arg; return 1;
    case CONFIG_OPT_SET:
        if (config_command_set(cmd, arg) != STEPUP_OK) {
            fprintf(stderr, "--set: expected KEY=VALUE\n");
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

/* Run cmd with the program's table (see config_command_run). */
static int config_run(const struct setting_table *t, const struct config_command *cmd)
{
    char err[1024];
    void *obj;

    if (cmd->op == CONFIG_OP_DESCRIBE) {
        config_describe(t, stdout);
        return 0;
    }
    if (cmd->path == NULL || (cmd->op == CONFIG_OP_UPDATE && cmd->nsets == 0) ||
        (cmd->op == CONFIG_OP_GET && cmd->key == NULL) ||
        ((cmd->nsets > 0 || cmd->keys_from != NULL) && cmd->op != CONFIG_OP_INIT &&
         cmd->op != CONFIG_OP_UPDATE) ||
        (cmd->keys_from != NULL && cmd->op != CONFIG_OP_INIT)) {
        fprintf(stderr, "%s: usage error (see --help)\n", t->program);
        return 2;
    }
    switch (cmd->op) {
    case CONFIG_OP_INIT:
        if (config_init(t, cmd->path, cmd->sets, cmd->nsets, cmd->keys_from, err, sizeof err) !=
            STEPUP_OK)
            break;
        return 0;
    case CONFIG_OP_UPDATE:
        if (config_update(t, cmd->path, cmd->sets, cmd->nsets, err, sizeof err) != STEPUP_OK)
            break;
        return 0;
    case CONFIG_OP_CHECK:
    case CONFIG_OP_GET:
        obj = config_load_new(t, cmd->path, err, sizeof err);
        if (obj == NULL)
            break;
        if (cmd->op == CONFIG_OP_GET && config_print_value(t, obj, cmd->key, stdout) != STEPUP_OK) {
            snprintf(err, sizeof err, "unknown key \"%.64s\"", cmd->key);
            config_release(t, obj);
            break;
        }
        config_release(t, obj);
        return 0;
    case CONFIG_OP_NONE:
    case CONFIG_OP_DESCRIBE:
        return 2;
    }
    fprintf(stderr, "%s: %s\n", t->program, err);
    return 1;
}

int config_command_run(const struct setting_table *t, struct config_command *cmd)
{
    if (cmd->op == CONFIG_OP_NONE && cmd->nsets == 0 && cmd->keys_from == NULL)
        return -1;
    if (cmd->op == CONFIG_OP_CHECK || cmd->op == CONFIG_OP_GET)
        cmd->path = cmd->config;
    return config_run(t, cmd);
}
