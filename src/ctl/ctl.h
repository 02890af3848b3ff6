/*
 * ctl.h - stepupctl, the operator's tool.
 *
 * stepupctl [--dsn CONNINFO] COMMAND [SUBCOMMAND] [OPTIONS]: JSON on
 * standard output, messages on standard error, exit status 0 on success,
 * 1 on a failure of the operation (including an invalid option value or an
 * unreachable database), 2 on a usage error (unknown command or option, a
 * missing option or argument).  It connects through libpq's PG*
 * environment variables, or --dsn CONNINFO, as the owner of the schema
 * (not as stepup_app).
 *
 * stepupctl.c parses the global options and dispatches to one function
 * per command, each in the file of its concern.  A command function gets
 * argv starting at the command's name (argv[0] = "programme", ...) and
 * returns the exit status.
 */
#ifndef STEPUP_CTL_H
#define STEPUP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <json-c/json.h>
#include "../lib/crypto.h"
#include "../lib/db.h"

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2 };

struct ctl {
    struct db *db;        /* created before the command runs; connects at its first query */
    const char *program;  /* argv[0] for messages */
};

/* A numbered migration compiled in from sql/ (migrations.c is generated). */
struct migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct migration stepup_migrations[];
extern const size_t stepup_nmigrations;

/* Print a JSON document on stdout (and free it). */
void ctl_print_json(struct json_object *doc);
/* "stepupctl: message" on stderr. */
void ctl_error(const struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The usage text of every command. */
void ctl_usage(FILE *out);

/*
 * Report a getopt_long failure (ch is '?' for an unknown option, ':' for a
 * missing argument; argv is the vector given to getopt_long) and return
 * CTL_USAGE.
 */
int ctl_option_error(const struct ctl *c, int ch, char **argv);

/*
 * Parse text as a decimal integer in [min, max] into *out.  On failure
 * report "OPTION: ..." and return STEPUP_ERR.
 */
int ctl_parse_int(const struct ctl *c, const char *option, const char *text, long min, long max,
                  int *out) WARN_UNUSED;

/* STEPUP_OK when text is a UUID in its canonical text form, else report it. */
int ctl_check_uuid(const struct ctl *c, const char *option, const char *text) WARN_UNUSED;

/* Report a failed query: "what: <the database's message>". */
void ctl_db_error(const struct ctl *c, const char *what);

/*
 * The shape shared by "apikey create --programme ID" and "token
 * impersonate --user ID": check the subcommand and the one --option ID
 * (a UUID), then make a fresh 256-bit secret in token and its SHA-256 in
 * hash (what is stored).  CTL_OK, or the exit status after a message.
 * The caller wipes token.
 */
int ctl_secret_command(struct ctl *c, int argc, char **argv, const char *subcommand,
                       const char *option, const char **id, char token[CRYPTO_TOKEN_LEN + 1],
                       unsigned char hash[CRYPTO_HASH_LEN]);

int ctl_migrate(struct ctl *c, int argc, char **argv);
int ctl_programme(struct ctl *c, int argc, char **argv); /* create | set */
int ctl_apikey(struct ctl *c, int argc, char **argv);    /* create */
int ctl_user(struct ctl *c, int argc, char **argv); /* create|enrol|deactivate|activate|set-mobile */
int ctl_token(struct ctl *c, int argc, char **argv);      /* impersonate */
int ctl_challenges(struct ctl *c, int argc, char **argv); /* --user ID [--limit N] */
int ctl_outbox(struct ctl *c, int argc, char **argv);     /* list | show | retry | purge */

#endif
