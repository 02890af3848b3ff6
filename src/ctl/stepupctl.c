/*
 * stepupctl.c - the operator's tool: global options, dispatch, and the
 * helpers every command shares.  See ctl.h.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "ctl.h"
#include "programme_settings.h"

static const char usage_head[] =
    "usage: stepupctl [--dsn CONNINFO] COMMAND [ARGS]\n"
    "\n"
    "Connects through libpq's PG* environment variables, or --dsn CONNINFO: as\n"
    "the role stepup_operator for every command but migrate, which needs the\n"
    "owner of the stepup schema.  Prints JSON on standard output and messages\n"
    "on standard error; exits 0 on success, 1 when the operation fails, 2 on a\n"
    "usage error.\n"
    "\n"
    "commands:\n"
    "  migrate\n"
    "      apply the schema steps not yet applied and every function, in one\n"
    "      transaction -> {\"applied\": [NAME...], \"adopted\": [NAME...],\n"
    "      \"functions\": N, \"version\": N}\n"
    "  programme create --name NAME [SETTINGS]          -> {\"id\"}\n"
    "  programme set ID [--name NAME] [SETTINGS]        -> {\"id\"}\n"
    "  programme show ID                                -> the programme and its settings\n"
    "  programme settings [--json]                      every setting, as a Markdown table\n"
    "      SETTINGS:\n";

static const char usage_tail[] =
    "  apikey create --programme ID                     -> {\"id\", \"apiKey\"}\n"
    "      the key is shown this once; only its SHA-256 is stored\n"
    "  user create --programme ID --email E --password P [--mobile +E164]\n"
    "              [--role ROOT|USER] [--identity ID]  -> {\"userId\", \"identityId\"}\n"
    "      without --identity a new identity is created and the user is its ROOT;\n"
    "      STEPUP_SCRYPT_LOG2N sets the scrypt cost (default 15)\n"
    "  user enrol --user ID [--channel SMS]             -> {\"userId\", \"channel\", \"status\"}\n"
    "      marks the SMS factor ACTIVE on the number on file, without an OTP\n"
    "  user deactivate ID                               -> {\"userId\", \"active\": false, \"sessionsEnded\"}\n"
    "      ends all of the user's open sessions; logins are refused until activated\n"
    "  user activate ID                                 -> {\"userId\", \"active\": true}\n"
    "  user set-mobile ID +E164                         -> {\"userId\", \"mobile\", \"factorStatus\"}\n"
    "      a factor on another number becomes INACTIVE until enrolled again, and\n"
    "      pending codes sent to the old number are superseded\n"
    "  token impersonate --user ID                      -> {\"token\"}\n"
    "      a back-office session: it may read, never step up\n"
    "  challenges --user ID [--limit N]                 -> one JSON object per line, newest first\n"
    "      the user's challenge history (effective status, never a code or hash)\n"
    "  outbox list [--status S] [--programme ID] [--limit N]  -> one JSON object per line\n"
    "      SMS messages, newest first (default limit 100); S: PENDING, SENDING, SENT,\n"
    "      DEAD or EXPIRED\n"
    "  outbox show ID                                   -> the message with its attempts\n"
    "  outbox retry ID                                  -> {\"id\", \"status\", \"due\"}\n"
    "      a message waiting for its next attempt is due now (ended ones cannot be sent)\n"
    "  outbox purge --older-than DURATION               -> {\"purged\", \"olderThanSeconds\"}\n"
    "      deletes SENT, DEAD and EXPIRED messages (and their attempts) ended longer\n"
    "      ago than DURATION: a number with s, m, h or d (30d, 12h)\n"
    "  limits show --user ID                            -> what the rate limits count against\n"
    "      the user (hits of each window, seconds until it resets) and the user's lock-outs\n"
    "  limits reset --user ID                           -> {\"user_id\", \"lockouts_lifted\",\n"
    "      \"counters_cleared\"}: lifts the user's lock-outs and clears the user's counters\n"
    "  audit verify [--from T] [--to T] [--public-key FILE]\n"
    "                                                   -> {\"verified\", \"seals\", \"events\", ...}\n"
    "      checks the audit log against its signed seals (as stepup_auditor); the key is\n"
    "      --public-key or STEPUP_AUDIT_PUBLIC_KEY; exit 1 names the first event altered,\n"
    "      inserted or removed\n"
    "  audit purge --older-than DURATION                -> {\"before\", \"dropped\", \"events\"}\n"
    "      drops the audit log's monthly partitions that ended longer ago than DURATION\n"
    "      (at least 1d), once every event in them is sealed\n"
    "  partitions [--months N]                          -> one JSON object per partition\n"
    "      makes the audit log's monthly partitions up to N months ahead (default 3)\n";

void ctl_usage(FILE *out)
{
    fputs(usage_head, out);
    programme_settings_usage(out);
    fputs(usage_tail, out);
}

void ctl_print_json(struct json_object *doc)
{
    printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
    json_object_put(doc);
}

void ctl_error(const struct ctl *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ctl_option_error(const struct ctl *c, int ch, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (ch == ':')
        ctl_error(c, "option %s needs a value (see --help)", arg);
    else if (optopt > 0 && optopt < 128 && optopt != '?')
        ctl_error(c, "unknown option -%c (see --help)", optopt);
    else if (optopt >= 128 || strchr(arg, '=') != NULL)
        ctl_error(c, "option %s takes no value, or is ambiguous (see --help)", arg);
    else
        ctl_error(c, "unknown or ambiguous option %s (see --help)", arg);
    return CTL_USAGE;
}

int ctl_print_rows(const struct ctl *c, const db_result *r, const char *column)
{
    for (int i = 0; i < db_rows(r); i++) {
        struct json_object *doc = json_tokener_parse(db_get(r, i, column));
        if (doc == NULL) {
            ctl_error(c, "cannot parse row %d of the answer", i);
            return CTL_FAILED;
        }
        ctl_print_json(doc); /* re-printed for the same compact form as every command */
    }
    return CTL_OK;
}

int ctl_subcommand(struct ctl *c, int argc, char **argv, const struct ctl_subcommand *table,
                   size_t n)
{
    char names[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (argc >= 2 && strcmp(argv[1], table[i].name) == 0)
            return table[i].run(c, argc - 1, argv + 1);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 i == 0 ? "" : i + 1 == n ? " or " : ", ", table[i].name);
    }
    if (argc < 2)
        ctl_error(c, "%s needs a subcommand: %s (see --help)", argv[0], names);
    else
        ctl_error(c, "unknown subcommand '%s %s' (see --help)", argv[0], argv[1]);
    return CTL_USAGE;
}

int ctl_call_print(struct ctl *c, struct db_call *call, const char *column)
{
    db_result *r = ctl_call(c, call);
    if (r == NULL)
        return CTL_FAILED;
    int rc = ctl_print_rows(c, r, column);
    db_result_free(r);
    return rc;
}

int ctl_int_option(const struct ctl *c, const char *option, const char *text, long min, long max,
                   int *out)
{
    if (!ctl_parse_int(text, min, max, out)) {
        ctl_error(c, "%s: expected an integer from %ld to %ld, got '%s'", option, min, max, text);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

int ctl_older_than(const struct ctl *c, int argc, char **argv, const char *usage,
                   long long *secs)
{
    static const struct option options[] = {
        { "older-than", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    const char *older = NULL;
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch != 'o')
            return ctl_option_error(c, ch, argv);
        older = optarg;
    }
    if (optind < argc || older == NULL) {
        ctl_error(c, "usage: %s", usage);
        return CTL_USAGE;
    }
    if (!ctl_parse_duration(older, secs)) {
        ctl_error(c, "--older-than: expected a number with a unit s, m, h or d (30d, 12h), "
                     "got '%s'", older);
        return CTL_FAILED;
    }
    return CTL_OK;
}

int ctl_uuid_option(const struct ctl *c, const char *option, const char *text)
{
    if (!ctl_is_uuid(text)) {
        ctl_error(c, "%s: '%s' is not a UUID", option, text);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

db_result *ctl_call(struct ctl *c, struct db_call *call)
{
    db_result *r = db_run(c->db, NULL, call);
    if (r != NULL)
        return r;
    const char *msg = db_last_error(c->db);
    if (msg[0] == '\0')
        msg = "database error";
    if (!db_connected(c->db) && db_last_sqlstate(c->db)[0] == '\0')
        ctl_error(c, "cannot connect to the database: %s", msg);
    else
        ctl_error(c, "%s", msg);
    return NULL;
}

int ctl_args(const struct ctl *c, int argc, char **argv, int want, const char *what,
             const char *usage)
{
    static const struct option options[] = { { NULL, 0, NULL, 0 } };
    int ch;

    optind = 0;
    opterr = 0;
    ch = getopt_long(argc, argv, ":", options, NULL);
    if (ch != -1)
        return ctl_option_error(c, ch, argv);
    if (argc - optind != want) {
        ctl_error(c, "usage: %s", usage);
        return CTL_USAGE;
    }
    if (want > 0 && ctl_uuid_option(c, what, argv[optind]) != STEPUP_OK)
        return CTL_FAILED;
    return CTL_OK;
}

db_result *ctl_secret_command(struct ctl *c, int argc, char **argv, const char *subcommand,
                              const char *option, const struct db_statement *st,
                              const char *id_arg, const char *hash_arg,
                              char token[CRYPTO_TOKEN_LEN + 1], int *rc)
{
    const struct option options[] = {
        { option, required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    const char *id = NULL;
    unsigned char hash[CRYPTO_HASH_LEN];
    struct db_call call;
    int ch;

    *rc = CTL_USAGE;
    token[0] = '\0';
    if (argc < 2 || strcmp(argv[1], subcommand) != 0) {
        ctl_error(c, "%s needs the subcommand %s (see --help)", argv[0], subcommand);
        return NULL;
    }
    argc--;
    argv++;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch != 'i') {
            *rc = ctl_option_error(c, ch, argv);
            return NULL;
        }
        id = optarg;
    }
    if (optind < argc || id == NULL) {
        ctl_error(c, "usage: %s %s --%s ID", argv[-1], subcommand, option);
        return NULL;
    }
    *rc = CTL_FAILED;
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", option);
    if (ctl_uuid_option(c, flag, id) != STEPUP_OK)
        return NULL;
    if (crypto_random_token(token) != STEPUP_OK) {
        ctl_error(c, "cannot generate a random secret");
        return NULL;
    }
    crypto_sha256(token, strlen(token), hash);
    db_call_init(&call, st);
    db_arg_text(&call, id_arg, id);
    db_arg_bytes(&call, hash_arg, hash, sizeof hash);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        crypto_wipe(token, CRYPTO_TOKEN_LEN + 1);
    else
        *rc = CTL_OK;
    return r;
}

struct command {
    const char *name;
    int (*run)(struct ctl *c, int argc, char **argv);
};

static const struct command commands[] = {
    { "migrate", ctl_migrate },
    { "programme", ctl_programme },
    { "apikey", ctl_apikey },
    { "user", ctl_user },
    { "token", ctl_token },
    { "challenges", ctl_challenges },
    { "outbox", ctl_outbox },
    { "limits", ctl_limits },
    { "audit", ctl_audit },
    { "partitions", ctl_partitions },
};

/* The server's warnings (a setting that acts otherwise than it says) on stderr. */
static void print_warning(void *arg, const char *severity, const char *message)
{
    if (strcmp(severity, "WARNING") == 0)
        ctl_error(arg, "warning: %s", message);
}

/* True when a command's arguments ask for help (answered without a database). */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "dsn", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct ctl c = { .db = NULL, .program = "stepupctl" };
    const char *dsn = NULL;
    int ch;

    log_init("stepupctl", LOG_OFF); /* every failure is reported by the command, once */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (ch) {
        case 'd':
            dsn = optarg;
            break;
        case 'h':
            ctl_usage(stdout);
            return CTL_OK;
        default:
            return ctl_option_error(&c, ch, argv);
        }
    }
    if (optind >= argc) {
        ctl_error(&c, "no command given (see --help)");
        return CTL_USAGE;
    }

    const struct command *cmd = NULL;
    for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0)
            cmd = &commands[i];
    }
    if (cmd == NULL) {
        ctl_error(&c, "unknown command '%s' (see --help)", argv[optind]);
        return CTL_USAGE;
    }
    if (wants_help(argc - optind, argv + optind)) {
        ctl_usage(stdout);
        return CTL_OK;
    }

    /* Operators wait for what they asked: libpq's own connect_timeout, no statement limit. */
    c.db = db_new(&(struct db_options){ .conninfo = dsn, .prepare = true }, NULL, 0);
    if (c.db == NULL) {
        ctl_error(&c, "out of memory");
        return CTL_FAILED;
    }
    db_on_notice(c.db, print_warning, &c);
    int rc = cmd->run(&c, argc - optind, argv + optind);
    db_free(c.db);
    return rc;
}
