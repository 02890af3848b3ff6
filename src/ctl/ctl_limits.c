/*
 * ctl_limits.c - stepupctl limits show|reset --user ID: what the rate
 * limits count against a user, and lifting a user's lock-outs (for a
 * support desk).  Each is one call of stepup.ctl_limits_show or
 * stepup.ctl_limits_reset (sql/functions/60_ctl_limits.sql), whose JSON
 * is printed as it is.
 */
#include <getopt.h>

#include "ctl.h"

static const struct db_arg_def user_args[] = { { "p_user_id", DB_UUID } };
static const struct db_statement limits_show_st = {
    .name = "ctl_limits_show", .function = "stepup.ctl_limits_show", .result = "doc",
    DB_ARGS(user_args),
};
static const struct db_statement limits_reset_st = {
    .name = "ctl_limits_reset", .function = "stepup.ctl_limits_reset", .result = "doc",
    DB_ARGS(user_args),
};

/* limits SUB --user ID: call st with the user's id and print its JSON. */
static int limits_user_command(struct ctl *c, int argc, char **argv,
                               const struct db_statement *st)
{
    static const struct option options[] = {
        { "user", required_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
    };
    const char *user = NULL;
    struct db_call call;
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch != 'u')
            return ctl_option_error(c, ch, argv);
        user = optarg;
    }
    if (optind < argc || user == NULL) {
        ctl_error(c, "usage: limits %s --user ID", argv[0]);
        return CTL_USAGE;
    }
    if (ctl_uuid_option(c, "--user", user) != STEPUP_OK)
        return CTL_FAILED;
    db_call_init(&call, st);
    db_arg_text(&call, "p_user_id", user);
    return ctl_call_print(c, &call, "doc");
}

static int limits_show(struct ctl *c, int argc, char **argv)
{
    return limits_user_command(c, argc, argv, &limits_show_st);
}

static int limits_reset(struct ctl *c, int argc, char **argv)
{
    return limits_user_command(c, argc, argv, &limits_reset_st);
}

/* stepupctl limits show|reset: argv[0] is "limits", argv[1] the subcommand. */
int ctl_limits(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_subcommand subcommands[] = {
        { "show", limits_show },
        { "reset", limits_reset },
    };
    return ctl_subcommand(c, argc, argv, subcommands, ARRAY_LEN(subcommands));
}
