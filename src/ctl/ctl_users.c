/*
 * ctl_users.c - stepupctl user create|enrol|deactivate|activate|set-mobile
 * and token impersonate.
 *
 * Users are created with their identity (a new one, whose ROOT they are,
 * unless --identity names an existing identity of the same programme) in
 * one statement.  A mobile number is judged with libphonenumber and stored
 * with its verdict, even when it is not a valid mobile number, so that an
 * enrolled invalid number can be tested end to end.
 *
 * Deactivating a user ends all of their open sessions in the same
 * transaction (logged out everywhere; login is refused while inactive).
 * A new number retires a factor enrolled (or being enrolled) on another
 * number and supersedes the pending challenges sent to the old one.  Both
 * lock the user row first (see the lock order in sql/003_verify_enrol.sql).
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

/* Run a statement whose result is of no interest; STEPUP_OK when it succeeded. */
static int exec_simple(struct ctl *c, const char *sql)
{
    db_result *r = db_query(c->db, NULL, sql, NULL);
    if (r == NULL)
        return STEPUP_ERR;
    db_result_free(r);
    return STEPUP_OK;
}

/* Roll back after a failure (a lost connection has rolled back already). */
static void rollback(struct ctl *c)
{
    if (exec_simple(c, "ROLLBACK") != STEPUP_OK) {
        /* the connection is gone: the server rolled back */
    }
}

/*
 * Check a number given on the command line as option: E.164 syntax, then
 * libphonenumber's verdict into *phone, warning (not failing) when it is
 * not a valid mobile number.  STEPUP_ERR (reported) on bad syntax.
 */
static int check_mobile(const struct ctl *c, const char *option, const char *mobile,
                        struct phone_info *phone)
{
    if (!phone_is_e164_syntax(mobile)) {
        ctl_error(c, "%s: '%s' is not an E.164 number ('+' and 7 to 15 digits)", option, mobile);
        return STEPUP_ERR;
    }
    phone_inspect(mobile, phone);
    if (phone->kind != PHONE_MOBILE)
        ctl_error(c, "warning: %s is not a valid mobile number (%s); stored anyway", mobile,
                  phone_kind_name(phone->kind));
    return STEPUP_OK;
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
    if (mobile != NULL && check_mobile(c, "--mobile", mobile, &phone) != STEPUP_OK)
        return CTL_FAILED;

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
 * The positional arguments of a subcommand without options (argv[0] is
 * the subcommand): exactly want of them, the first a user id, left at
 * argv[optind..].  CTL_OK, CTL_USAGE (reported with usage) or CTL_FAILED
 * (not a UUID).
 */
static int user_args(const struct ctl *c, int argc, char **argv, int want, const char *usage)
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
    if (ctl_check_uuid(c, "user ID", argv[optind]) != STEPUP_OK)
        return CTL_FAILED;
    return CTL_OK;
}

/*
 * user deactivate ID: in one transaction the user becomes inactive and
 * every session of theirs still open is ended -> {"userId", "active":
 * false, "sessionsEnded": N}.  The user row is updated first: a login in
 * flight (api_login_session holds the row FOR SHARE) finishes before, and
 * the session it opened is ended by the second statement.
 *
 * user activate ID -> {"userId", "active": true}; sessions stay ended.
 */
static int user_set_active(struct ctl *c, int argc, char **argv, bool active)
{
    struct db_params p = { 0 };
    db_result *r = NULL;
    int ended = 0;
    int rc = user_args(c, argc, argv, 1, active ? "user activate ID" : "user deactivate ID");
    if (rc != CTL_OK)
        return rc;
    const char *user = argv[optind];

    rc = CTL_FAILED;
    if (exec_simple(c, "BEGIN") != STEPUP_OK) {
        ctl_db_error(c, "cannot start a transaction");
        return CTL_FAILED;
    }
    db_param_text(&p, user);
    db_param_text(&p, active ? "true" : "false");
    r = db_query(c->db, NULL,
                 "UPDATE stepup.users SET active = $2::boolean WHERE id = $1::uuid RETURNING id", &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot update the user");
        goto done;
    }
    if (db_rows(r) != 1) {
        ctl_error(c, "no user with id %s", user);
        goto done;
    }
    db_result_free(r);
    r = NULL;
    if (!active) {
        struct db_params q = { 0 };
        db_param_text(&q, user);
        r = db_query(c->db, NULL,
                     "WITH e AS (UPDATE stepup.sessions SET ended_at = now()"
                     "            WHERE user_id = $1::uuid AND ended_at IS NULL RETURNING 1)"
                     " SELECT count(*) FROM e",
                     &q);
        if (r == NULL) {
            ctl_db_error(c, "cannot end the user's sessions");
            goto done;
        }
        ended = atoi(db_value(r, 0, 0));
    }
    if (exec_simple(c, "COMMIT") != STEPUP_OK) {
        ctl_db_error(c, "cannot update the user");
        goto done;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(user));
    json_object_object_add(doc, "active", json_object_new_boolean(active));
    if (!active)
        json_object_object_add(doc, "sessionsEnded", json_object_new_int(ended));
    ctl_print_json(doc);
    rc = CTL_OK;

done:
    if (r != NULL)
        db_result_free(r);
    if (rc != CTL_OK)
        rollback(c);
    return rc;
}

/*
 * user set-mobile ID +E164: store the number with libphonenumber's verdict
 * and, in the same transaction, supersede the user's pending challenges
 * sent to another number and make an ACTIVE or PENDING_VERIFICATION SMS
 * factor on another number INACTIVE (until enrolled again)
 * -> {"userId", "mobile", "factorStatus": status or null}.
 */
static int user_set_mobile(struct ctl *c, int argc, char **argv)
{
    struct phone_info phone = { PHONE_INVALID, "" };
    struct db_params p = { 0 }, both = { 0 }, id = { 0 };
    db_result *r = NULL;
    int rc = user_args(c, argc, argv, 2, "user set-mobile ID +E164");
    if (rc != CTL_OK)
        return rc;
    const char *user = argv[optind];
    const char *mobile = argv[optind + 1];
    if (check_mobile(c, "mobile", mobile, &phone) != STEPUP_OK)
        return CTL_FAILED;

    rc = CTL_FAILED;
    if (exec_simple(c, "BEGIN") != STEPUP_OK) {
        ctl_db_error(c, "cannot start a transaction");
        return CTL_FAILED;
    }
    db_param_text(&p, user);
    db_param_text(&p, mobile);
    db_param_text(&p, phone_kind_name(phone.kind));
    db_param_text(&p, phone.region[0] != '\0' ? phone.region : NULL);
    db_param_text(&both, user);
    db_param_text(&both, mobile);
    db_param_text(&id, user);
    r = db_query(c->db, NULL,
                 "UPDATE stepup.users SET mobile = $2::text, mobile_kind = $3::text,"
                 "                        mobile_region = $4::text"
                 " WHERE id = $1::uuid RETURNING id",
                 &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot update the user");
        goto done;
    }
    if (db_rows(r) != 1) {
        ctl_error(c, "no user with id %s", user);
        goto done;
    }
    db_result_free(r);

    /* challenges before the factor: the lock order of api_verify_challenge */
    r = db_query(c->db, NULL,
                 "UPDATE stepup.challenges SET status = 'SUPERSEDED', ended_at = now()"
                 " WHERE user_id = $1::uuid AND status = 'PENDING' AND expires_at > now()"
                 "   AND mobile IS DISTINCT FROM $2::text",
                 &both);
    if (r == NULL) {
        ctl_db_error(c, "cannot supersede the pending challenges");
        goto done;
    }
    db_result_free(r);
    r = db_query(c->db, NULL,
                 "UPDATE stepup.factors SET status = 'INACTIVE'"
                 " WHERE user_id = $1::uuid AND channel = 'SMS'"
                 "   AND status IN ('ACTIVE', 'PENDING_VERIFICATION')"
                 "   AND mobile IS DISTINCT FROM $2::text",
                 &both);
    if (r == NULL) {
        ctl_db_error(c, "cannot update the factor");
        goto done;
    }
    db_result_free(r);
    r = db_query(c->db, NULL,
                 "SELECT status FROM stepup.factors WHERE user_id = $1::uuid AND channel = 'SMS'",
                 &id);
    if (r == NULL) {
        ctl_db_error(c, "cannot read the factor");
        goto done;
    }
    if (exec_simple(c, "COMMIT") != STEPUP_OK) {
        ctl_db_error(c, "cannot update the user");
        goto done;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(user));
    json_object_object_add(doc, "mobile", json_object_new_string(mobile));
    json_object_object_add(doc, "factorStatus",
                           db_rows(r) == 1 ? json_object_new_string(db_value(r, 0, 0)) : NULL);
    ctl_print_json(doc);
    rc = CTL_OK;

done:
    if (r != NULL)
        db_result_free(r);
    if (rc != CTL_OK)
        rollback(c);
    return rc;
}

/*
 * stepupctl user create|enrol|deactivate|activate|set-mobile: argv[0] is
 * "user", argv[1] the subcommand.
 */
int ctl_user(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        ctl_error(c, "user needs a subcommand: create, enrol, deactivate, activate or set-mobile"
                     " (see --help)");
        return CTL_USAGE;
    }
    if (strcmp(argv[1], "create") == 0)
        return user_create(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "enrol") == 0)
        return user_enrol(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "deactivate") == 0)
        return user_set_active(c, argc - 1, argv + 1, false);
    if (strcmp(argv[1], "activate") == 0)
        return user_set_active(c, argc - 1, argv + 1, true);
    if (strcmp(argv[1], "set-mobile") == 0)
        return user_set_mobile(c, argc - 1, argv + 1);
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
    const char *user;
    char token[CRYPTO_TOKEN_LEN + 1];
    unsigned char hash[CRYPTO_HASH_LEN];
    struct db_params p = { 0 };

    int rc = ctl_secret_command(c, argc, argv, "impersonate", "user", &user, token, hash);
    if (rc != CTL_OK)
        return rc;
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
