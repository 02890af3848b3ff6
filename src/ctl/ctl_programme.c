/*
 * ctl_programme.c - stepupctl programme create|set|show|settings and
 * apikey create.
 *
 * The options of create and set come from the table of per-programme
 * settings (programme_settings.c): each option given becomes one key of a
 * JSON object, which ctl_programme_create / ctl_programme_set apply in one
 * call; what a value may be is the database's to say (the constraints of
 * stepup.programmes), and its message is printed as it is.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "programme_settings.h"

static const struct db_arg_def create_args[] = {
    { "p_name", DB_TEXT }, { "p_settings", DB_JSONB },
};
static const struct db_statement programme_create_st = {
    .name = "ctl_programme_create", .function = "stepup.ctl_programme_create", .result = "id",
    DB_ARGS(create_args),
};
static const struct db_arg_def set_args[] = {
    { "p_programme_id", DB_UUID }, { "p_settings", DB_JSONB },
};
static const struct db_statement programme_set_st = {
    .name = "ctl_programme_set", .function = "stepup.ctl_programme_set", .result = "id",
    DB_ARGS(set_args),
};
static const struct db_arg_def show_args[] = { { "p_programme_id", DB_UUID } };
static const struct db_statement programme_show_st = {
    .name = "ctl_programme_show", .function = "stepup.ctl_programme_show", .result = "programme",
    DB_ARGS(show_args),
};
static const struct db_arg_def apikey_args[] = {
    { "p_programme_id", DB_UUID }, { "p_key_hash", DB_BYTEA },
};
static const struct db_statement apikey_create = {
    .name = "ctl_apikey_create", .function = "stepup.ctl_apikey_create", .result = "id",
    DB_ARGS(apikey_args),
};

#define OPT_NAME 1
#define OPT_SETTING 256 /* + 2 * index of the setting, + 1 for --no-<flag> */
#define MAX_OPTIONS 64  /* --name, two per flag, one per other setting, the end */

/*
 * Parse argv (getopt_long's vector) into name and the settings object.
 * CTL_OK, CTL_USAGE for an unknown option, CTL_FAILED for a value of the
 * wrong shape (reported).  Positional arguments are left at argv[optind..].
 */
static int parse_settings(const struct ctl *c, int argc, char **argv, const char **name,
                          struct json_object *settings)
{
    struct option options[MAX_OPTIONS];
    char negations[MAX_OPTIONS][48];
    size_t n = 0;
    char err[256];
    int ch;

    if (2 * programme_nsettings + 2 > MAX_OPTIONS) {
        ctl_error(c, "bug: the settings table outgrew its options");
        return CTL_FAILED;
    }
    options[n++] = (struct option){ "name", required_argument, NULL, OPT_NAME };
    for (size_t i = 0; i < programme_nsettings; i++) {
        const struct programme_setting *ps = &programme_settings[i];
        int flag = ps->kind == PS_FLAG;
        options[n++] = (struct option){ ps->option, flag ? no_argument : required_argument, NULL,
                                        OPT_SETTING + 2 * (int)i };
        if (flag) {
            snprintf(negations[n], sizeof negations[n], "no-%s", ps->option);
            options[n] = (struct option){ negations[n], no_argument, NULL,
                                          OPT_SETTING + 2 * (int)i + 1 };
            n++;
        }
    }
    options[n] = (struct option){ NULL, 0, NULL, 0 };

    *name = NULL;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch == OPT_NAME) {
            *name = optarg;
            continue;
        }
        if (ch < OPT_SETTING || (size_t)(ch - OPT_SETTING) / 2 >= programme_nsettings)
            return ctl_option_error(c, ch, argv);
        const struct programme_setting *ps = &programme_settings[(ch - OPT_SETTING) / 2];
        if (programme_setting_add(settings, ps, optarg, (ch - OPT_SETTING) % 2, err,
                                  sizeof err) != STEPUP_OK) {
            ctl_error(c, "%s", err);
            return CTL_FAILED;
        }
    }
    return CTL_OK;
}

/* Print {"id": id}. */
static void print_id(const char *id)
{
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "id", json_object_new_string(id));
    ctl_print_json(doc);
}

/* Run a call whose one result is the programme's id, and print {"id"}. */
static int call_and_print_id(struct ctl *c, struct db_call *call)
{
    db_result *r = ctl_call(c, call);
    if (r == NULL)
        return CTL_FAILED;
    print_id(db_get(r, 0, "id"));
    db_result_free(r);
    return CTL_OK;
}

/* programme create --name NAME [settings] and programme set ID [--name NAME] [settings]. */
static int programme_write(struct ctl *c, int argc, char **argv, bool create)
{
    struct json_object *settings = json_object_new_object();
    struct db_call call;
    const char *name;
    int rc = parse_settings(c, argc, argv, &name, settings);

    if (rc != CTL_OK)
        goto done;
    rc = CTL_USAGE;
    if (create && optind < argc) {
        ctl_error(c, "programme create takes no arguments besides options (see --help)");
        goto done;
    }
    if (create && name == NULL) {
        ctl_error(c, "programme create needs --name (see --help)");
        goto done;
    }
    if (!create && argc - optind != 1) {
        ctl_error(c, "programme set needs exactly one programme ID (see --help)");
        goto done;
    }
    if (!create && name == NULL && json_object_object_length(settings) == 0) {
        ctl_error(c, "programme set: no setting given (see --help)");
        goto done;
    }
    rc = CTL_FAILED;
    if (!create && ctl_uuid_option(c, "programme ID", argv[optind]) != STEPUP_OK)
        goto done;
    if (!create && name != NULL)
        json_object_object_add(settings, "name", json_object_new_string(name));

    const char *text = json_object_to_json_string_ext(settings, JSON_C_TO_STRING_PLAIN);
    db_call_init(&call, create ? &programme_create_st : &programme_set_st);
    if (create)
        db_arg_text(&call, "p_name", name);
    else
        db_arg_text(&call, "p_programme_id", argv[optind]);
    db_arg_text(&call, "p_settings", text);
    rc = call_and_print_id(c, &call);

done:
    json_object_put(settings);
    return rc;
}

/* programme show ID: the programme and its settings. */
static int programme_show(struct ctl *c, int argc, char **argv)
{
    struct db_call call;
    int rc = ctl_args(c, argc, argv, 1, "programme ID", "programme show ID");
    if (rc != CTL_OK)
        return rc;
    db_call_init(&call, &programme_show_st);
    db_arg_text(&call, "p_programme_id", argv[optind]);
    return ctl_call_print(c, &call, "programme");
}

/* programme settings [--json]: the table of settings (no database needed). */
static int programme_settings_cmd(struct ctl *c, int argc, char **argv)
{
    if (argc == 1) {
        programme_settings_markdown(stdout);
        return CTL_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--json") == 0) {
        programme_settings_json(stdout);
        return CTL_OK;
    }
    ctl_error(c, "usage: programme settings [--json]");
    return CTL_USAGE;
}

static int programme_create(struct ctl *c, int argc, char **argv)
{
    return programme_write(c, argc, argv, true);
}

static int programme_set(struct ctl *c, int argc, char **argv)
{
    return programme_write(c, argc, argv, false);
}

/* stepupctl programme create|set|show|settings: argv[0] is "programme", argv[1] the subcommand. */
int ctl_programme(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_subcommand subcommands[] = {
        { "create", programme_create },
        { "set", programme_set },
        { "show", programme_show },
        { "settings", programme_settings_cmd },
    };
    return ctl_subcommand(c, argc, argv, subcommands, ARRAY_LEN(subcommands));
}

/*
 * stepupctl apikey create --programme ID: a fresh 256-bit key, stored as
 * its SHA-256 only, printed this once as {"id", "apiKey"}.
 */
int ctl_apikey(struct ctl *c, int argc, char **argv)
{
    char key[CRYPTO_TOKEN_LEN + 1];
    int rc;
    db_result *r = ctl_secret_command(c, argc, argv, "create", "programme", &apikey_create,
                                      "p_programme_id", "p_key_hash", key, &rc);
    if (r == NULL)
        return rc;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "id", json_object_new_string(db_get(r, 0, "id")));
    json_object_object_add(doc, "apiKey", json_object_new_string(key));
    db_result_free(r);
    crypto_wipe(key, sizeof key);
    ctl_print_json(doc);
    return CTL_OK;
}
