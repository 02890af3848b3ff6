/*
 * config.h - configuration files: one file format, one parser, one writer,
 * for every program of stepup.
 *
 * A file is "key = value" lines; '#' starts a comment.  A value is the
 * rest of the line after '=' with surrounding blanks removed, or a
 * double-quoted string (which may hold '#', blanks at its ends, and,
 * escaped as \" and \\, quotes and backslashes).
 *
 * Each program declares its keys in one table (struct setting_table) of
 * sections: the keys every program reads (config_common, declared once
 * here) and its own, each row with its type, where it lives in the
 * program's struct, its bounds, its default as text and its
 * documentation.  Defaults are applied through the same setter as the
 * file, so a default can never disagree with the rules.  A table may add
 * a check of the whole file (keys that depend on each other).
 *
 * Loading fills a fresh struct: a reload (SIGHUP) parses into a new copy
 * and swaps it in only if it loaded (config_load_new).  Programs write
 * their own files, too: config_init writes a new, complete file with fresh
 * random keys (mode 0600), config_update rewrites given keys of an
 * existing one and keeps everything else; both check what they wrote by
 * loading it.  So no script has to parse or edit the format.
 *
 * Error messages never contain a value: values may be secrets (the keys, a
 * password inside db_conninfo, an API key in a header).
 */
#ifndef STEPUP_CONFIG_H
#define STEPUP_CONFIG_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include "common.h"
#include "crypto.h"
#include "db.h"
#include "log.h"

enum setting_type {
    SETTING_STRING,    /* char *, owned by the struct */
    SETTING_INT,       /* int within [min, max] */
    SETTING_LOG_LEVEL, /* enum log_level */
    SETTING_LOG_TARGET, /* enum log_target */
    SETTING_LOG_FACILITY, /* enum log_facility */
    SETTING_KEY,       /* struct crypto_keyring: keys of 64 hex digits, newest first; secrets */
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
    size_t offset;   /* of the field in the section's struct */
    long min, max;   /* SETTING_INT only */
    const char *def; /* default as text; NULL: required; "" for a list: empty */
    const char *doc;
};

/* A run of keys whose fields lie at offset within the program's struct. */
struct setting_section {
    const struct setting_def *defs;
    size_t count;
    size_t offset;
};

struct setting_table {
    const char *program;  /* "stepup-fcgi": named in the files config_init writes */
    const struct setting_section *sections;
    size_t nsections;
    size_t size;          /* of the program's struct */
    /* the rules between keys, after a file was read; NULL: none */
    int (*check)(void *obj, char *err, size_t errlen);
    /*
     * The keys that shape the process (threads, sockets, connections),
     * read once at start-up: a reload that changes one keeps the running
     * value, and the log names it.  NULL-terminated; NULL: none.
     */
    const char *const *restart_keys;
};

/* 1 when key is one of t's restart_keys. */
int config_is_restart_key(const struct setting_table *t, const char *key);

/*
 * The restart keys of t whose values differ between running and fresh
 * (two structs of t's program), in the list's order, as "workers, socket" in
 * out ("" when none; cut to fit, still a string).
 */
void config_restart_changes(const struct setting_table *t, const void *running,
                            const void *fresh, char *out, size_t outlen);

/* The keys both stepup-fcgi and stepup-sender read: embed as member `common`. */
struct config_common {
    char *db_conninfo;
    int db_retry_seconds;
    int db_connect_timeout_seconds;
    int db_statement_timeout_ms;
    int db_prepared_statements; /* 1: prepared statements and the search_path pin; 0: none */
    enum log_level log_level;
    enum log_target log_target;
    enum log_facility syslog_facility;
    struct crypto_keyring outbox_key;
};
/* Room for the text of a full key ring ("ID:HEX" each, blank-separated). */
#define CONFIG_KEYRING_TEXT_MAX (CRYPTO_KEYRING_MAX * (CRYPTO_KEYNAME_MAX + 2 + 2 * CRYPTO_KEY_LEN) + 1)
#define CONFIG_COMMON_COUNT 9
extern const struct setting_def config_common_defs[CONFIG_COMMON_COUNT];
#define CONFIG_COMMON_SECTION(type) \
    { config_common_defs, CONFIG_COMMON_COUNT, offsetof(type, common) }

/* How the database is reached, as the db_* keys of c say (borrows c's strings). */
void config_db_options(const struct config_common *c, struct db_options *o);

/* Fill obj with every default (zeroing the fields the table declares first; keys stay zero). */
void config_defaults(const struct setting_table *t, void *obj);

/*
 * Read path into obj (filled by config_defaults), then run the table's
 * check.  Each line is blank, a comment, or "key = value"; every key at
 * most once, except list keys, which add an item per line (the first line
 * replaces the default items).  Required keys must be there.  On error
 * returns STEPUP_ERR with "path:line: reason" in err (for a file that
 * cannot be read, "path: reason"); obj may be partly updated and must
 * still be freed.
 */
int config_load(const struct setting_table *t, void *obj, const char *path, char *err,
                size_t errlen) WARN_UNUSED;

/*
 * The same from an open stream (config_load opens path, checks that a file
 * with keys is private, and reads it with this): path only names the
 * file in messages.  The caller closes f.  For the fuzzing harness, which reads
 * from memory (fmemopen).
 */
int config_load_stream(const struct setting_table *t, void *obj, FILE *f, const char *path,
                       char *err, size_t errlen) WARN_UNUSED;

/* A fresh struct (t->size bytes) loaded from path, or NULL with err; free with config_release. */
void *config_load_new(const struct setting_table *t, const char *path, char *err, size_t errlen);
void config_release(const struct setting_table *t, void *obj);

/* Set one key as if read from a file (a list key gets one more item). */
int config_set(const struct setting_table *t, void *obj, const char *key, const char *value,
               char *err, size_t errlen) WARN_UNUSED;

/* Free the strings and lists of obj and wipe its keys; obj may then be refilled. */
void config_free(const struct setting_table *t, void *obj);

/* Print every key, its default and its documentation, as Markdown rows. */
void config_describe(const struct setting_table *t, FILE *out);

/* A "KEY=VALUE" given on a command line (--set), split in place. */
struct config_assignment {
    const char *key;
    const char *value;
};
int config_assignment_parse(char *text, struct config_assignment *out) WARN_UNUSED;

/*
 * Write a new configuration file at path (refused when it exists): every
 * key of the table, each under its documentation, with the value of sets
 * (an assignment may repeat a list key), or else its default, commented
 * out; a required key of type SETTING_KEY gets the value of the same key
 * in keys_from (another program's file, read for that key alone; NULL:
 * none), or else 32 fresh random bytes.  The file is mode 0600, written
 * completely and loaded back (with the table's check) before it appears
 * at path.  STEPUP_ERR with a reason in err.
 */
int config_init(const struct setting_table *t, const char *path,
                const struct config_assignment *sets, size_t nsets, const char *keys_from,
                char *err, size_t errlen) WARN_UNUSED;

/*
 * Rewrite the keys of sets in the existing file at path: each key's line
 * (for a list key, all of its lines) is replaced by the new value(s) in
 * place, a key the file lacks is added at its end; comments and every
 * other line are kept as they are.  The result is loaded back before it
 * replaces the file (same mode).  STEPUP_ERR with a reason in err.
 */
int config_update(const struct setting_table *t, const char *path,
                  const struct config_assignment *sets, size_t nsets, char *err,
                  size_t errlen) WARN_UNUSED;

/*
 * Print the value of key in obj (a loaded configuration) as the file
 * would carry it, unquoted: a list one item per line, a key ring as its
 * keys (ID:HEX, or HEX for a key without an id), newest first.  STEPUP_ERR for an unknown key.
 */
int config_print_value(const struct setting_table *t, const void *obj, const char *key,
                       FILE *out) WARN_UNUSED;

/*
 * The value of key in the file at path, read for that key alone (other
 * keys are not looked at), into out.  STEPUP_ERR with a reason in err
 * when the file cannot be read, or has no such key or more than one.
 */
int config_pick(const char *path, const char *key, char *out, size_t outlen, char *err,
                size_t errlen) WARN_UNUSED;

/*
 * The configuration commands of stepup-fcgi and stepup-sender, run the
 * same way by both:
 *   --init-config FILE [--set K=V]... [--keys-from OTHER]   config_init
 *   --update-config FILE --set K=V...                       config_update
 *   -c FILE --check-config   load it: exit 0 when valid, else the reason
 *   -c FILE --get-config KEY print one value as loaded (a secret too)
 * A main adds CONFIG_COMMAND_OPTIONS to its options, hands each option to
 * config_command_option and then calls config_command_run.
 */
enum config_op { CONFIG_OP_NONE, CONFIG_OP_INIT, CONFIG_OP_UPDATE, CONFIG_OP_CHECK, CONFIG_OP_GET,
                 CONFIG_OP_DESCRIBE };

#define CONFIG_MAX_SETS 64

struct config_command {
    enum config_op op;
    const char *config;    /* -c FILE (or the program's environment variable) */
    const char *path;      /* FILE of --init-config / --update-config, or config */
    const char *key;       /* --get-config */
    const char *keys_from; /* --keys-from */
    struct config_assignment sets[CONFIG_MAX_SETS];
    size_t nsets;
};

/* Add a --set KEY=VALUE (text is split in place).  STEPUP_ERR for a malformed one. */
int config_command_set(struct config_command *cmd, char *text) WARN_UNUSED;

/*
 * The getopt_long options of the commands, for a program's option table
 * (with "c:" among its short options): -c/--config FILE, --describe-config
 * and the commands above.
 */
enum {
    CONFIG_OPT_INIT = 0x1000, CONFIG_OPT_UPDATE, CONFIG_OPT_SET, CONFIG_OPT_KEYS_FROM,
    CONFIG_OPT_CHECK, CONFIG_OPT_GET, CONFIG_OPT_DESCRIBE,
};
#define CONFIG_COMMAND_OPTIONS                                         \
    { "config", required_argument, NULL, 'c' },                        \
    { "describe-config", no_argument, NULL, CONFIG_OPT_DESCRIBE },     \
    { "init-config", required_argument, NULL, CONFIG_OPT_INIT },       \
    { "update-config", required_argument, NULL, CONFIG_OPT_UPDATE },   \
    { "set", required_argument, NULL, CONFIG_OPT_SET },                \
    { "keys-from", required_argument, NULL, CONFIG_OPT_KEYS_FROM },    \
    { "check-config", no_argument, NULL, CONFIG_OPT_CHECK },           \
    { "get-config", required_argument, NULL, CONFIG_OPT_GET }

/*
 * Take one option getopt_long returned into cmd: 1 when it was one of
 * CONFIG_COMMAND_OPTIONS, 0 when not, -1 for a malformed --set (reported).
 */
int config_command_option(struct config_command *cmd, int opt, char *arg);

/*
 * After the options: when they asked for a configuration command, run it
 * with the program's table and return the exit status (0 done, 1 failed, 2
 * usage; a message "program: ..." on standard error when it failed); -1
 * when they asked for none (the program runs, with cmd->config).
 */
int config_command_run(const struct setting_table *t, struct config_command *cmd);

#endif
