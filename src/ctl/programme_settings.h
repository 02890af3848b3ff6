/*
 * programme_settings.h - the per-programme settings, one declarative table.
 *
 * Each row is one setting of stepup.programmes: its stepupctl option, its
 * key (the column, and the key of the JSON object that ctl_programme_create
 * and ctl_programme_set take), what kind of value it takes, its default
 * and its bounds as documented, and its documentation.  From the table
 * come stepupctl's options of `programme create|set`, their usage text and
 * `stepupctl programme settings` (README.md's table is that output; a test
 * compares them).  The rules themselves are the CHECK constraints of
 * stepup.programmes and the column defaults (sql/schema/); a test holds
 * this table's defaults and bounds to them.
 */
#ifndef STEPUP_CTL_PROGRAMME_SETTINGS_H
#define STEPUP_CTL_PROGRAMME_SETTINGS_H

#include <stdio.h>
#include <json-c/json.h>
#include "../lib/common.h"

enum setting_kind {
    PS_FLAG,    /* --X / --no-X: true / false */
    PS_INT,     /* --X N: a number */
    PS_INT_OFF, /* --X N|off: a number, or null (off) */
    PS_TEXT,    /* --X TEXT: a string */
    PS_LIST,    /* --X A,B,...|any: an array of strings, or null (any) */
    PS_CHOICE,  /* --X NAME|default: a string, or null (default) */
    PS_NAMES,   /* --X A,B,...|"": an array of strings, empty for "" */
    PS_LIMIT,   /* --X NAME=COUNT/PERIOD|NAME=off|NAME=default, repeatable: one key of an object */
};

struct programme_setting {
    const char *option;  /* without the dashes; a flag also has --no-<option> */
    const char *key;     /* column of stepup.programmes, key of the settings object */
    enum setting_kind kind;
    const char *metavar; /* the value in the usage text ("N", "CC,CC...") */
    const char *def;     /* the default as documented */
    long min, max;       /* PS_INT, PS_INT_OFF: the bounds as documented */
    const char *doc;
};

extern const struct programme_setting programme_settings[];
extern const size_t programme_nsettings;

/*
 * The rate limits (--limit NAME=...): each one's name, its default as
 * documented ("10/15m", "off") and what it counts.  The names and
 * defaults are stepup.limit_kinds' (sql/schema/006_abuse_limits.sql); a
 * test holds the two together.
 */
struct programme_limit_doc {
    const char *name;
    const char *def;
    const char *doc;
};
extern const struct programme_limit_doc programme_limit_docs[];
extern const size_t programme_nlimit_docs;

/* The setting whose option is option (without dashes), or NULL. */
const struct programme_setting *programme_setting_find(const char *option);

/*
 * Add the value of a setting given on the command line to the settings
 * object obj: arg is the option's argument (NULL for a flag), negated true
 * for --no-<flag>.  STEPUP_ERR with a reason in err (naming the option)
 * for a value of the wrong shape (not a number, an empty list item);
 * what a value may be is the database's to say.
 */
int programme_setting_add(struct json_object *obj, const struct programme_setting *ps,
                          const char *arg, int negated, char *err, size_t errlen) WARN_UNUSED;

/* The SETTINGS part of stepupctl's usage text. */
void programme_settings_usage(FILE *out);

/*
 * The settings as Markdown tables (README.md's: the settings, then the
 * limits), or as JSON (for tests: an array of the settings, the limits
 * setting's defaultValue the object of every limit's default).
 */
void programme_settings_markdown(FILE *out);
void programme_settings_json(FILE *out);

#endif
