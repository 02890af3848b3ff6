/*
 * ctl_programme.c - stepupctl programme create|set and apikey create.
 *
 * A programme's defaults live in the schema (column defaults); create
 * inserts a row with its name and then applies the given settings with the
 * same UPDATE that `set` runs, in one transaction.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/crypto.h"
#include "ctl.h"

#define NAME_MAX_LEN 200
#define TEMPLATE_MAX_LEN 480
#define COUNTRIES_MAX_LEN 1000

/*
 * The settings given on the command line, as the text of the statement's
 * parameters; NULL (or a false *_set flag) leaves a setting as it is.
 */
struct programme_settings {
    const char *name;
    const char *sandbox; /* "true" / "false" */
    const char *sms;     /* "true" / "false" */
    bool countries_set;
    const char *countries; /* "GB,MT"; NULL = any country */
    bool verify_set;
    const char *verify; /* NULL = no limit */
    const char *retry;
    const char *issue_limit;
    const char *expiry;
    const char *session_ttl;
    const char *sms_template;
    bool provider_set;
    const char *sms_provider; /* http, exec, log; NULL = the sender's default */
    int nset; /* how many settings were given */
    /* storage for the normalised integers */
    char retry_buf[16], issue_buf[16], verify_buf[16], expiry_buf[16], ttl_buf[16];
};

enum {
    OPT_NAME = 256, OPT_SANDBOX, OPT_NO_SANDBOX, OPT_SMS, OPT_NO_SMS, OPT_COUNTRIES,
    OPT_RETRY, OPT_ISSUE_LIMIT, OPT_VERIFY, OPT_EXPIRY, OPT_SESSION_TTL, OPT_TEMPLATE,
    OPT_SMS_PROVIDER,
};

static const struct option programme_options[] = {
    { "name", required_argument, NULL, OPT_NAME },
    { "sandbox", no_argument, NULL, OPT_SANDBOX },
    { "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
    { "sms", no_argument, NULL, OPT_SMS },
    { "no-sms", no_argument, NULL, OPT_NO_SMS },
    { "countries", required_argument, NULL, OPT_COUNTRIES },
    { "retry-seconds", required_argument, NULL, OPT_RETRY },
    { "issue-limit", required_argument, NULL, OPT_ISSUE_LIMIT },
    { "verify-attempts", required_argument, NULL, OPT_VERIFY },
    { "expiry-seconds", required_argument, NULL, OPT_EXPIRY },
    { "session-ttl", required_argument, NULL, OPT_SESSION_TTL },
    { "sms-template", required_argument, NULL, OPT_TEMPLATE },
    { "sms-provider", required_argument, NULL, OPT_SMS_PROVIDER },
    { NULL, 0, NULL, 0 },
};

/* Every setting at once; NULL parameters keep the current value. */
static const char update_sql[] =
    "UPDATE stepup.programmes SET"
    " name = coalesce($2::text, name),"
    " sandbox = coalesce($3::boolean, sandbox),"
    " sms_enabled = coalesce($4::boolean, sms_enabled),"
    " countries = CASE WHEN $5::boolean THEN string_to_array($6::text, ',') ELSE countries END,"
    " retry_seconds = coalesce($7::integer, retry_seconds),"
    " issue_limit = coalesce($8::integer, issue_limit),"
    " verify_attempts = CASE WHEN $9::boolean THEN $10::integer ELSE verify_attempts END,"
    " expiry_seconds = coalesce($11::integer, expiry_seconds),"
    " session_ttl_seconds = coalesce($12::integer, session_ttl_seconds),"
    " sms_template = coalesce($13::text, sms_template),"
    " sms_provider = CASE WHEN $14::boolean THEN $15::text ELSE sms_provider END"
    " WHERE id = $1::uuid"
    " RETURNING id";

/* A name must be non-empty, printable, and must not carry the {code} placeholder. */
static int check_name(const struct ctl *c, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN) {
        ctl_error(c, "--name: expected 1 to %d characters", NAME_MAX_LEN);
        return STEPUP_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
            ctl_error(c, "--name: control characters are not allowed");
            return STEPUP_ERR;
        }
    }
    if (strstr(name, "{code}") != NULL) {
        ctl_error(c, "--name: must not contain {code}");
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

/* "any" (any case) clears the list; otherwise comma-separated ISO alpha-2 codes. */
static int parse_countries(const struct ctl *c, const char *text, struct programme_settings *s)
{
    size_t n = strlen(text);
    s->countries_set = true;
    if (strcasecmp(text, "any") == 0) {
        s->countries = NULL;
        return STEPUP_OK;
    }
    if (n == 0 || n > COUNTRIES_MAX_LEN)
        goto bad;
    /* items of exactly two uppercase letters, separated by single commas */
    for (size_t i = 0; i < n; i += 3) {
        if (i + 2 > n || text[i] < 'A' || text[i] > 'Z' || text[i + 1] < 'A' || text[i + 1] > 'Z')
            goto bad;
        if (i + 2 < n && text[i + 2] != ',')
            goto bad;
        if (i + 2 == n - 1) /* trailing comma */
            goto bad;
    }
    s->countries = text;
    return STEPUP_OK;
bad:
    ctl_error(c, "--countries: expected 'any' or ISO 3166-1 alpha-2 codes in capitals, "
                 "separated by commas (GB,MT), got '%s'", text);
    return STEPUP_ERR;
}

/* Parse an integer option into buf (normalised) and point *field at it. */
static int set_int(const struct ctl *c, const char *option, const char *text, long min, long max,
                   char *buf, size_t buflen, const char **field)
{
    int v;
    if (ctl_parse_int(c, option, text, min, max, &v) != STEPUP_OK)
        return STEPUP_ERR;
    snprintf(buf, buflen, "%d", v);
    *field = buf;
    return STEPUP_OK;
}

/*
 * Parse the settings options of argv (getopt_long's vector) into s.
 * Returns CTL_OK, CTL_USAGE for an unknown option or CTL_FAILED for an
 * invalid value (reported).  Positional arguments are left at
 * argv[optind..].
 */
static int parse_settings(const struct ctl *c, int argc, char **argv, struct programme_settings *s)
{
    int ch;
    int v;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", programme_options, NULL)) != -1) {
        s->nset++;
        switch (ch) {
        case OPT_NAME:
            if (check_name(c, optarg) != STEPUP_OK)
                return CTL_FAILED;
            s->name = optarg;
            break;
        case OPT_SANDBOX:
            s->sandbox = "true";
            break;
        case OPT_NO_SANDBOX:
            s->sandbox = "false";
            break;
        case OPT_SMS:
            s->sms = "true";
            break;
        case OPT_NO_SMS:
            s->sms = "false";
            break;
        case OPT_COUNTRIES:
            if (parse_countries(c, optarg, s) != STEPUP_OK)
                return CTL_FAILED;
            break;
        case OPT_RETRY:
            if (set_int(c, "--retry-seconds", optarg, 0, 86400, s->retry_buf,
                        sizeof s->retry_buf, &s->retry) != STEPUP_OK)
                return CTL_FAILED;
            break;
        case OPT_ISSUE_LIMIT:
            if (set_int(c, "--issue-limit", optarg, 0, 1000000, s->issue_buf,
                        sizeof s->issue_buf, &s->issue_limit) != STEPUP_OK)
                return CTL_FAILED;
            break;
        case OPT_VERIFY:
            s->verify_set = true;
            if (strcasecmp(optarg, "off") == 0) {
                s->verify = NULL;
                break;
            }
            if (ctl_parse_int(c, "--verify-attempts", optarg, 0, 1000000, &v) != STEPUP_OK) {
                ctl_error(c, "--verify-attempts: 'off' switches the limit off");
                return CTL_FAILED;
            }
            if (v < 1 || v > 5)
                ctl_error(c, "warning: --verify-attempts %d is outside 1..5 and acts as 5", v);
            snprintf(s->verify_buf, sizeof s->verify_buf, "%d", v);
            s->verify = s->verify_buf;
            break;
        case OPT_EXPIRY:
            if (set_int(c, "--expiry-seconds", optarg, 1, 86400, s->expiry_buf,
                        sizeof s->expiry_buf, &s->expiry) != STEPUP_OK)
                return CTL_FAILED;
            break;
        case OPT_SESSION_TTL:
            if (set_int(c, "--session-ttl", optarg, 1, 2592000, s->ttl_buf, sizeof s->ttl_buf,
                        &s->session_ttl) != STEPUP_OK)
                return CTL_FAILED;
            break;
        case OPT_TEMPLATE:
            if (strlen(optarg) > TEMPLATE_MAX_LEN || strstr(optarg, "{code}") == NULL) {
                ctl_error(c, "--sms-template: expected at most %d characters including {code}",
                          TEMPLATE_MAX_LEN);
                return CTL_FAILED;
            }
            s->sms_template = optarg;
            break;
        case OPT_SMS_PROVIDER: /* stepup-sender's provider for this programme */
            s->provider_set = true;
            if (strcmp(optarg, "default") == 0) {
                s->sms_provider = NULL;
            } else if (strcmp(optarg, "http") == 0 || strcmp(optarg, "exec") == 0 ||
                       strcmp(optarg, "log") == 0) {
                s->sms_provider = optarg;
            } else {
                ctl_error(c, "--sms-provider: expected http, exec, log or default, got '%s'",
                          optarg);
                return CTL_FAILED;
            }
            break;
        default:
            return ctl_option_error(c, ch, argv);
        }
    }
    return CTL_OK;
}

/* Apply s to programme id with update_sql; STEPUP_ERR (reported) when it failed or no such row. */
static int apply_settings(struct ctl *c, const char *id, const struct programme_settings *s)
{
    struct db_params p = { 0 };
    db_param_text(&p, id);
    db_param_text(&p, s->name);
    db_param_text(&p, s->sandbox);
    db_param_text(&p, s->sms);
    db_param_text(&p, s->countries_set ? "true" : "false");
    db_param_text(&p, s->countries);
    db_param_text(&p, s->retry);
    db_param_text(&p, s->issue_limit);
    db_param_text(&p, s->verify_set ? "true" : "false");
    db_param_text(&p, s->verify);
    db_param_text(&p, s->expiry);
    db_param_text(&p, s->session_ttl);
    db_param_text(&p, s->sms_template);
    db_param_text(&p, s->provider_set ? "true" : "false");
    db_param_text(&p, s->sms_provider);

    db_result *r = db_query(c->db, NULL, update_sql, &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot update the programme");
        return STEPUP_ERR;
    }
    int rows = db_rows(r);
    db_result_free(r);
    if (rows == 0) {
        ctl_error(c, "no programme with id %s", id);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

/* Print {"id": id}. */
static void print_id(const char *id)
{
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "id", json_object_new_string(id));
    ctl_print_json(doc);
}

/* Run a statement without interesting results; STEPUP_OK when it succeeded. */
static int exec_simple(struct ctl *c, const char *sql)
{
    db_result *r = db_query(c->db, NULL, sql, NULL);
    if (r == NULL)
        return STEPUP_ERR;
    db_result_free(r);
    return STEPUP_OK;
}

/* programme create --name NAME [settings]: insert, then apply the settings, atomically. */
static int programme_create(struct ctl *c, int argc, char **argv)
{
    struct programme_settings s = { 0 };
    struct db_params p = { 0 };
    db_result *r = NULL;
    char id[CRYPTO_UUID_LEN + 1];
    int rc = parse_settings(c, argc, argv, &s);
    if (rc != CTL_OK)
        return rc;
    if (optind < argc) {
        ctl_error(c, "programme create takes no arguments besides options (see --help)");
        return CTL_USAGE;
    }
    if (s.name == NULL) {
        ctl_error(c, "programme create needs --name (see --help)");
        return CTL_USAGE;
    }

    rc = CTL_FAILED;
    if (exec_simple(c, "BEGIN") != STEPUP_OK) {
        ctl_db_error(c, "cannot start a transaction");
        return CTL_FAILED;
    }
    db_param_text(&p, s.name);
    r = db_query(c->db, NULL, "INSERT INTO stepup.programmes (name) VALUES ($1::text) RETURNING id",
                 &p);
    if (r == NULL || db_rows(r) != 1) {
        ctl_db_error(c, "cannot create the programme");
        goto done;
    }
    snprintf(id, sizeof id, "%s", db_value(r, 0, 0));
    if (s.nset > 1 && apply_settings(c, id, &s) != STEPUP_OK)
        goto done;
    if (exec_simple(c, "COMMIT") != STEPUP_OK) {
        ctl_db_error(c, "cannot create the programme");
        goto done;
    }
    print_id(id);
    rc = CTL_OK;

done:
    if (r != NULL)
        db_result_free(r);
    if (rc != CTL_OK && exec_simple(c, "ROLLBACK") != STEPUP_OK) {
        /* the connection is gone: the server rolled back */
    }
    return rc;
}

/* programme set ID [settings]. */
static int programme_set(struct ctl *c, int argc, char **argv)
{
    struct programme_settings s = { 0 };
    int rc = parse_settings(c, argc, argv, &s);
    if (rc != CTL_OK)
        return rc;
    if (argc - optind != 1) {
        ctl_error(c, "programme set needs exactly one programme ID (see --help)");
        return CTL_USAGE;
    }
    const char *id = argv[optind];
    if (ctl_check_uuid(c, "programme ID", id) != STEPUP_OK)
        return CTL_FAILED;
    if (s.nset == 0) {
        ctl_error(c, "programme set: no setting given (see --help)");
        return CTL_USAGE;
    }
    if (apply_settings(c, id, &s) != STEPUP_OK)
        return CTL_FAILED;
    print_id(id);
    return CTL_OK;
}

/*
 * stepupctl programme create|set: argv[0] is "programme", argv[1] the
 * subcommand.
 */
int ctl_programme(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        ctl_error(c, "programme needs a subcommand: create or set (see --help)");
        return CTL_USAGE;
    }
    if (strcmp(argv[1], "create") == 0)
        return programme_create(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "set") == 0)
        return programme_set(c, argc - 1, argv + 1);
    ctl_error(c, "unknown subcommand 'programme %s' (see --help)", argv[1]);
    return CTL_USAGE;
}

/*
 * stepupctl apikey create --programme ID: a fresh 256-bit key, stored as
 * its SHA-256 only, printed this once as {"id", "apiKey"}.
 */
int ctl_apikey(struct ctl *c, int argc, char **argv)
{
    const char *programme;
    char key[CRYPTO_TOKEN_LEN + 1];
    unsigned char hash[CRYPTO_HASH_LEN];
    struct db_params p = { 0 };

    int rc = ctl_secret_command(c, argc, argv, "create", "programme", &programme, key, hash);
    if (rc != CTL_OK)
        return rc;
    db_param_text(&p, programme);
    db_param_bytes(&p, hash, sizeof hash);
    db_result *r = db_query(c->db, NULL,
                            "INSERT INTO stepup.api_keys (programme_id, key_hash)"
                            " VALUES ($1::uuid, $2::bytea) RETURNING id",
                            &p);
    if (r == NULL) {
        if (strcmp(db_last_sqlstate(c->db), "23503") == 0)
            ctl_error(c, "no programme with id %s", programme);
        else
            ctl_db_error(c, "cannot create the API key");
        crypto_wipe(key, sizeof key);
        return CTL_FAILED;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "id", json_object_new_string(db_value(r, 0, 0)));
    json_object_object_add(doc, "apiKey", json_object_new_string(key));
    db_result_free(r);
    crypto_wipe(key, sizeof key);
    ctl_print_json(doc);
    return CTL_OK;
}
