/*
 * ctl_users.c - stepupctl user create|enrol|deactivate|activate|set-mobile
 * and token impersonate.
 *
 * Each is one call of its stepup.ctl_user_* / ctl_token_impersonate
 * function (sql/functions/60_ctl_user.sql, which also says how
 * deactivation, number changes and their locks work).  What needs C is
 * done here: the password is hashed with scrypt, a mobile number is judged
 * with libphonenumber and passed with its verdict (stored even when it is
 * not a valid mobile number, so that an enrolled invalid number can be
 * tested end to end), an impersonation token is made.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/crypto.h"
#include "../lib/phone.h"
#include "../lib/validate.h"
#include "ctl.h"

#define SCRYPT_LOG2N_MIN 10
#define SCRYPT_LOG2N_MAX 20

static const struct db_arg_def create_args[] = {
    { "p_programme_id", DB_UUID }, { "p_email", DB_TEXT }, { "p_password_hash", DB_TEXT },
    { "p_mobile", DB_TEXT }, { "p_mobile_kind", DB_TEXT }, { "p_mobile_region", DB_TEXT },
    { "p_role", DB_TEXT }, { "p_identity_id", DB_UUID },
};
static const struct db_statement user_create_st = {
    .name = "ctl_user_create", .function = "stepup.ctl_user_create", DB_ARGS(create_args),
};
static const struct db_arg_def enrol_args[] = { { "p_user_id", DB_UUID }, { "p_channel", DB_TEXT } };
static const struct db_statement user_enrol_st = {
    .name = "ctl_user_enrol", .function = "stepup.ctl_user_enrol", .result = "status",
    DB_ARGS(enrol_args),
};
static const struct db_arg_def active_args[] = {
    { "p_user_id", DB_UUID }, { "p_active", DB_BOOL },
};
static const struct db_statement user_active_st = {
    .name = "ctl_user_set_active", .function = "stepup.ctl_user_set_active",
    .result = "sessions_ended", DB_ARGS(active_args),
};
static const struct db_arg_def mobile_args[] = {
    { "p_user_id", DB_UUID }, { "p_mobile", DB_TEXT }, { "p_mobile_kind", DB_TEXT },
    { "p_mobile_region", DB_TEXT },
};
static const struct db_statement user_mobile_st = {
    .name = "ctl_user_set_mobile", .function = "stepup.ctl_user_set_mobile",
    .result = "factor_status", DB_ARGS(mobile_args),
};
static const struct db_arg_def impersonate_args[] = {
    { "p_user_id", DB_UUID }, { "p_token_hash", DB_BYTEA },
};
static const struct db_statement impersonate_st = {
    .name = "ctl_token_impersonate", .function = "stepup.ctl_token_impersonate",
    .result = "session_id", DB_ARGS(impersonate_args),
};

/*
 * Judge a number given on the command line as option: E.164 syntax, then
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

/* Pass a judged number (or none) to a call: p_mobile, p_mobile_kind, p_mobile_region. */
static void mobile_args_set(struct db_call *call, const char *mobile, const struct phone_info *phone)
{
    db_arg_text(call, "p_mobile", mobile);
    db_arg_text(call, "p_mobile_kind", mobile != NULL ? phone_kind_name(phone->kind) : NULL);
    db_arg_text(call, "p_mobile_region",
                mobile != NULL && phone->region[0] != '\0' ? phone->region : NULL);
}

/* The scrypt cost: STEPUP_SCRYPT_LOG2N when set (10..20), else the default. */
static int scrypt_log2n(const struct ctl *c, int *log2n)
{
    const char *env = getenv("STEPUP_SCRYPT_LOG2N");
    *log2n = CRYPTO_SCRYPT_LOG2N_DEFAULT;
    if (env == NULL || env[0] == '\0')
        return STEPUP_OK;
    return ctl_int_option(c, "STEPUP_SCRYPT_LOG2N", env, SCRYPT_LOG2N_MIN, SCRYPT_LOG2N_MAX, log2n);
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
    struct db_call call;
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
    if (ctl_uuid_option(c, "--programme", programme) != STEPUP_OK ||
        (identity != NULL && ctl_uuid_option(c, "--identity", identity) != STEPUP_OK) ||
        scrypt_log2n(c, &log2n) != STEPUP_OK)
        return CTL_FAILED;
    if (validate_email(email, strlen(email)) != NULL) {
        ctl_error(c, "--email: '%s' is not an email address", email);
        return CTL_FAILED;
    }
    if (validate_password(password, strlen(password)) != NULL) {
        /* login's rule (validate.h): a password login would refuse is never set */
        ctl_error(c, "--password: expected 1 to %d bytes of UTF-8", VALIDATE_PASSWORD_MAX);
        return CTL_FAILED;
    }
    if (mobile != NULL && check_mobile(c, "--mobile", mobile, &phone) != STEPUP_OK)
        return CTL_FAILED;
    if (crypto_password_hash(password, log2n, hash, sizeof hash) != STEPUP_OK) {
        ctl_error(c, "cannot hash the password");
        return CTL_FAILED;
    }

    db_call_init(&call, &user_create_st);
    db_arg_text(&call, "p_programme_id", programme);
    db_arg_text(&call, "p_email", email);
    db_arg_text(&call, "p_password_hash", hash);
    mobile_args_set(&call, mobile, &phone);
    db_arg_text(&call, "p_role", role);
    db_arg_text(&call, "p_identity_id", identity);
    db_result *r = ctl_call(c, &call);
    crypto_wipe(hash, sizeof hash);
    if (r == NULL)
        return CTL_FAILED;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(db_get(r, 0, "user_id")));
    json_object_object_add(doc, "identityId", json_object_new_string(db_get(r, 0, "identity_id")));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

/*
 * user enrol --user ID [--channel SMS]: the factor becomes ACTIVE on the
 * number on file, without an OTP.
 */
static int user_enrol(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "user", required_argument, NULL, 'u' },
        { "channel", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    const char *user = NULL, *channel = "SMS";
    struct db_call call;
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
    if (ctl_uuid_option(c, "--user", user) != STEPUP_OK)
        return CTL_FAILED;
    db_call_init(&call, &user_enrol_st);
    db_arg_text(&call, "p_user_id", user);
    db_arg_text(&call, "p_channel", channel);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        return CTL_FAILED;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(user));
    json_object_object_add(doc, "channel", json_object_new_string(channel));
    json_object_object_add(doc, "status", json_object_new_string(db_get(r, 0, "status")));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

/*
 * user deactivate ID -> {"userId", "active": false, "sessionsEnded": N};
 * user activate ID -> {"userId", "active": true} (ended sessions stay ended).
 */
static int user_set_active(struct ctl *c, int argc, char **argv, bool active)
{
    struct db_call call;
    int rc = ctl_args(c, argc, argv, 1, "user ID",
                         active ? "user activate ID" : "user deactivate ID");
    if (rc != CTL_OK)
        return rc;
    const char *user = argv[optind];
    db_call_init(&call, &user_active_st);
    db_arg_text(&call, "p_user_id", user);
    db_arg_bool(&call, "p_active", active);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        return CTL_FAILED;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(user));
    json_object_object_add(doc, "active", json_object_new_boolean(active));
    if (!active)
        json_object_object_add(doc, "sessionsEnded",
                               json_object_new_int(atoi(db_get(r, 0, "sessions_ended"))));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

/* user set-mobile ID +E164 -> {"userId", "mobile", "factorStatus": status or null}. */
static int user_set_mobile(struct ctl *c, int argc, char **argv)
{
    struct phone_info phone = { PHONE_INVALID, "" };
    struct db_call call;
    int rc = ctl_args(c, argc, argv, 2, "user ID", "user set-mobile ID +E164");
    if (rc != CTL_OK)
        return rc;
    const char *user = argv[optind];
    const char *mobile = argv[optind + 1];
    if (check_mobile(c, "mobile", mobile, &phone) != STEPUP_OK)
        return CTL_FAILED;
    db_call_init(&call, &user_mobile_st);
    db_arg_text(&call, "p_user_id", user);
    mobile_args_set(&call, mobile, &phone);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        return CTL_FAILED;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "userId", json_object_new_string(user));
    json_object_object_add(doc, "mobile", json_object_new_string(mobile));
    json_object_object_add(doc, "factorStatus",
                           db_is_null(r, 0, "factor_status")
                               ? NULL
                               : json_object_new_string(db_get(r, 0, "factor_status")));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

static int user_deactivate(struct ctl *c, int argc, char **argv)
{
    return user_set_active(c, argc, argv, false);
}

static int user_activate(struct ctl *c, int argc, char **argv)
{
    return user_set_active(c, argc, argv, true);
}

/*
 * stepupctl user create|enrol|deactivate|activate|set-mobile: argv[0] is
 * "user", argv[1] the subcommand.
 */
int ctl_user(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_subcommand subcommands[] = {
        { "create", user_create },
        { "enrol", user_enrol },
        { "deactivate", user_deactivate },
        { "activate", user_activate },
        { "set-mobile", user_set_mobile },
    };
    return ctl_subcommand(c, argc, argv, subcommands, ARRAY_LEN(subcommands));
}

/*
 * stepupctl token impersonate --user ID: a back-office session for the
 * user (it may read, never step up), printed as {"token"}; only the
 * token's SHA-256 is stored.
 */
int ctl_token(struct ctl *c, int argc, char **argv)
{
    char token[CRYPTO_TOKEN_LEN + 1];
    int rc;
    db_result *r = ctl_secret_command(c, argc, argv, "impersonate", "user", &impersonate_st,
                                      "p_user_id", "p_token_hash", token, &rc);
    if (r == NULL)
        return rc;
    db_result_free(r);
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "token", json_object_new_string(token));
    crypto_wipe(token, sizeof token);
    ctl_print_json(doc);
    return CTL_OK;
}
