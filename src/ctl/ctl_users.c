/*
 * ctl_users.c - stepupctl user create|enrol and token impersonate.
 *
 * Users are created with their identity (a new one, whose ROOT they are,
 * unless --identity names an existing identity of the same programme) in
 * one statement.  A mobile number is judged with libphonenumber and stored
 * with its verdict, even when it is not a valid mobile number, so that an
 * enrolled invalid number can be tested end to end.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/crypto.h"
#include "../lib/phone.h"
#include "ctl.h"

#define EMAIL_MAX_LEN 254
#define PASSWORD_MAX_LEN 1024
#define SCRYPT_LOG2N_MIN 10
#define SCRYPT_LOG2N_MAX 20

/* Run a one-row-or-none statement; NULL (reported as what) when it failed. */
static db_result *query(struct ctl *c, const char *what, const char *sql,
                        const struct db_params *p)
{
    db_result *r = db_query(c->db, NULL, sql, p);
    if (r == NULL) {
        if (strcmp(db_last_sqlstate(c->db), "23505") == 0)
            ctl_error(c, "%s: a user with this email already exists in the programme", what);
        else if (strcmp(db_last_sqlstate(c->db), "23503") == 0)
            ctl_error(c, "%s: no such programme", what);
        else
            ctl_db_error(c, what);
    }
    return r;
}

/* A plausible email: printable, no blanks, one '@' with text on both sides. */
static int check_email(const struct ctl *c, const char *email)
{
    size_t n = strlen(email);
    const char *at = strchr(email, '@');
    bool ok = n >= 3 && n <= EMAIL_MAX_LEN && at != NULL && at != email && at[1] != '\0' &&
              strchr(at + 1, '@') == NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)email[i] > 0x20 && email[i] != 0x7f;
    if (!ok) {
        ctl_error(c, "--email: '%s' is not an email address", email);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

/* The scrypt cost: STEPUP_SCRYPT_LOG2N when set (10..20), else the default. */
static int scrypt_log2n(const struct ctl *c, int *log2n)
{
    const char *env = getenv("STEPUP_SCRYPT_LOG2N");
    *log2n = CRYPTO_SCRYPT_LOG2N_DEFAULT;
    if (env == NULL || env[0] == '\0')
        return STEPUP_OK;
    return ctl_parse_int(c, "STEPUP_SCRYPT_LOG2N", env, SCRYPT_LOG2N_MIN, SCRYPT_LOG2N_MAX, log2n);
}

/*
 * user create --programme ID --email E --password P [--mobile +E164]
 * [--role ROOT|USER] [--identity ID] -> {"userId", "identityId"}.
 */
static int user_create(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "programme", required_argument, NULL, 'p' },
        { "email", required_argument, NULL, 'e' },
        { "password", required_argument, NULL, 'w' },
        { "mobile", required_argument, NULL, 'm' },
        { "role", required_argument, NULL, 'r' },
        { "identity", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    const char *programme = NULL, *email = NULL, *password = NULL, *mobile = NULL;
    const char *role = NULL, *identity = NULL;
    struct phone_info phone = { PHONE_INVALID, "" };
    char hash[CRYPTO_PASSWORD_HASH_MAX];
    struct db_params p = { 0 };
    db_result *r = NULL;
    int log2n;
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 'p': programme = optarg; break;
        case 'e': email = optarg; break;
        case 'w': password = optarg; break;
        case 'm': mobile = optarg; break;
        case 'r': role = optarg; break;
        case 'i': identity = optarg; break;
        default: return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc || programme == NULL || email == NULL || password == NULL) {
        ctl_error(c, "usage: user create --programme ID --email E --password P [--mobile +E164]"
                     " [--role ROOT|USER] [--identity ID]");
        return CTL_USAGE;
    }
    if (ctl_check_uuid(c, "--programme", programme) != STEPUP_OK ||
        (identity != NULL && ctl_check_uuid(c, "--identity", identity) != STEPUP_OK) ||
        check_email(c, email) != STEPUP_OK || scrypt_log2n(c, &log2n) != STEPUP_OK)
        return CTL_FAILED;
    if (password[0] == '\0' || strlen(password) > PASSWORD_MAX_LEN) {
        ctl_error(c, "--password: expected 1 to %d characters", PASSWORD_MAX_LEN);
        return CTL_FAILED;
    }
    if (role == NULL)
        role = identity == NULL ? "ROOT" : "USER";
    if (strcmp(role, "ROOT") != 0 && strcmp(role, "USER") != 0) {
        ctl_error(c, "--role: expected ROOT or USER, got '%s'", role);
        return CTL_FAILED;
    }
    if (mobile != NULL) {
        if (!phone_is_e164_syntax(mobile)) {
            ctl_error(c, "--mobile: '%s' is not an E.164 number ('+' and 7 to 15 digits)", mobile);
            return CTL_FAILED;
        }
        phone_inspect(mobile, &phone);
        if (phone.kind != PHONE_MOBILE)
            ctl_error(c, "warning: %s is not a valid mobile number (%s); stored anyway", mobile,
                      phone_kind_name(phone.kind));
    }

    if (crypto_password_hash(password, log2n, hash, sizeof hash) != STEPUP_OK) {
        ctl_error(c, "cannot hash the password");
        return CTL_FAILED;
    }

    db_param_text(&p, programme);
    db_param_text(&p, role);
    db_param_text(&p, email);
    db_param_text(&p, hash);
    db_param_text(&p, mobile);
    db_param_text(&p, mobile != NULL ? phone_kind_name(phone.kind) : NULL);
    db_param_text(&p, mobile != NULL && phone.region[0] != '\0' ? phone.region : NULL);
    if (identity == NULL) {
        r = query(c, "cannot create the user",
                  "WITH i AS (INSERT INTO stepup.identities (programme_id) VALUES ($1::uuid)"
                  "           RETURNING id, programme_id)"
                  " INSERT INTO stepup.users (identity_id, programme_id, role, email,"
                  "                           password_hash, mobile, mobile_kind, mobile_region)"
                  " SELECT i.id, i.programme_id, $2::text, $3::text, $4::text, $5::text,"
                  "        $6::text, $7::text FROM i"
                  " RETURNING id, identity_id",
                  &p);
    } else {
        db_param_text(&p, identity);
        r = query(c, "cannot create the user",
                  "INSERT INTO stepup.users (identity_id, programme_id, role, email,"
                  "                          password_hash, mobile, mobile_kind, mobile_region)"
                  " SELECT i.id, i.programme_id, $2::text, $3::text, $4::text, $5::text,"
                  "        $6::text, $7::text"
                  "   FROM stepup.identities i WHERE i.id = $8::uuid AND i.programme_id = $1::uuid"
                  " RETURNING id, identity_id",
                  &p);
    }
    crypto_wipe(hash, sizeof hash);
    if (r == NULL)
        return CTL_FAILED;
    if (db_rows(r) != 1) {
        ctl_error(c, "no identity %s in programme %s", identity, programme);
        db_result_free(r);
        return CTL_FAILED;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(db_value(r, 0, 0)));
    json_object_object_add(doc, "identityId", json_object_new_string(db_value(r, 0, 1)));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

/*
 * user enrol --user ID [--channel SMS]: the SMS factor becomes ACTIVE on
 * the number on file (with its stored verdict), without an OTP.
 */
static int user_enrol(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "user", required_argument, NULL, 'u' },
        { "channel", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    const char *user = NULL, *channel = "SMS";
    struct db_params p = { 0 };
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 'u': user = optarg; break;
        case 'c': channel = optarg; break;
        default: return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc || user == NULL) {
        ctl_error(c, "usage: user enrol --user ID --channel SMS");
        return CTL_USAGE;
    }
    if (ctl_check_uuid(c, "--user", user) != STEPUP_OK)
        return CTL_FAILED;
    if (strcmp(channel, "SMS") != 0) {
        ctl_error(c, "--channel: only SMS is supported, got '%s'", channel);
        return CTL_FAILED;
    }

    db_param_text(&p, user);
    db_param_text(&p, channel);
    db_result *r = query(c, "cannot enrol the user",
                         "INSERT INTO stepup.factors (user_id, channel, status, mobile, mobile_kind,"
                         "                            mobile_region)"
                         " SELECT u.id, $2::text, 'ACTIVE', u.mobile, u.mobile_kind, u.mobile_region"
                         "   FROM stepup.users u WHERE u.id = $1::uuid AND u.mobile IS NOT NULL"
                         " ON CONFLICT (user_id, channel) DO UPDATE"
                         "   SET status = 'ACTIVE', mobile = excluded.mobile,"
                         "       mobile_kind = excluded.mobile_kind,"
                         "       mobile_region = excluded.mobile_region"
                         " RETURNING user_id",
                         &p);
    if (r == NULL)
        return CTL_FAILED;
    int rows = db_rows(r);
    db_result_free(r);
    if (rows != 1) {
        /* say which: no such user, or no number on file */
        struct db_params q = { 0 };
        db_param_text(&q, user);
        r = query(c, "cannot enrol the user", "SELECT 1 FROM stepup.users WHERE id = $1::uuid", &q);
        if (r == NULL)
            return CTL_FAILED;
        if (db_rows(r) == 0)
            ctl_error(c, "no user with id %s", user);
        else
            ctl_error(c, "user %s has no mobile number on file (user create --mobile)", user);
        db_result_free(r);
        return CTL_FAILED;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(user));
    json_object_object_add(doc, "channel", json_object_new_string(channel));
    json_object_object_add(doc, "status", json_object_new_string("ACTIVE"));
    ctl_print_json(doc);
    return CTL_OK;
}

/*
 * stepupctl user create|enrol: argv[0] is "user", argv[1] the subcommand.
 */
int ctl_user(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        ctl_error(c, "user needs a subcommand: create or enrol (see --help)");
        return CTL_USAGE;
    }
    if (strcmp(argv[1], "create") == 0)
        return user_create(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "enrol") == 0)
        return user_enrol(c, argc - 1, argv + 1);
    ctl_error(c, "unknown subcommand 'user %s' (see --help)", argv[1]);
    return CTL_USAGE;
}

/*
 * stepupctl token impersonate --user ID: a back-office session for the
 * user (impersonation = true: it may read, never step up), printed as
 * {"token"}; only the token's SHA-256 is stored.
 */
int ctl_token(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "user", required_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
    };
    const char *user = NULL;
    char token[CRYPTO_TOKEN_LEN + 1];
    unsigned char hash[CRYPTO_HASH_LEN];
    struct db_params p = { 0 };
    int ch;

    if (argc < 2 || strcmp(argv[1], "impersonate") != 0) {
        ctl_error(c, "token needs the subcommand impersonate (see --help)");
        return CTL_USAGE;
    }
    argc--;
    argv++;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch != 'u')
            return ctl_option_error(c, ch, argv);
        user = optarg;
    }
    if (optind < argc || user == NULL) {
        ctl_error(c, "usage: token impersonate --user ID");
        return CTL_USAGE;
    }
    if (ctl_check_uuid(c, "--user", user) != STEPUP_OK)
        return CTL_FAILED;

    if (crypto_random_token(token) != STEPUP_OK) {
        ctl_error(c, "cannot generate a token");
        return CTL_FAILED;
    }
    crypto_sha256(token, strlen(token), hash);
    db_param_text(&p, user);
    db_param_bytes(&p, hash, sizeof hash);
    db_result *r = query(c, "cannot create the session",
                         "INSERT INTO stepup.sessions (programme_id, user_id, token_hash,"
                         "                             impersonation, user_agent)"
                         " SELECT u.programme_id, u.id, $2::bytea, true, 'stepupctl'"
                         "   FROM stepup.users u WHERE u.id = $1::uuid"
                         " RETURNING id",
                         &p);
    if (r == NULL || db_rows(r) != 1) {
        if (r != NULL) {
            ctl_error(c, "no user with id %s", user);
            db_result_free(r);
        }
        crypto_wipe(token, sizeof token);
        return CTL_FAILED;
    }
    db_result_free(r);
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "token", json_object_new_string(token));
    crypto_wipe(token, sizeof token);
    ctl_print_json(doc);
    return CTL_OK;
}
