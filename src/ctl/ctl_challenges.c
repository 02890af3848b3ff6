/*
 * ctl_challenges.c - stepupctl challenges: a user's challenge history.
 *
 * One call of stepup.ctl_challenges (from the DBA view
 * stepup.challenge_history: effective status, no hashes), printed one JSON
 * object per line, newest first, so that the output can be piped through
 * `jq -c` or `grep` line by line.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CHALLENGES_LIMIT_MAX 1000000

static const struct db_arg_def challenges_args[] = {
    { "p_user_id", DB_UUID }, { "p_limit", DB_INT },
};
static const struct db_statement challenges_st = {
    .name = "ctl_challenges", .function = "stepup.ctl_challenges", .result = "challenge",
    DB_ARGS(challenges_args),
};

/*
 * stepupctl challenges --user ID [--limit N]: the user's challenges as JSON
 * lines, newest first (all of them without --limit).  An unknown user is a
 * failure; a user without challenges prints nothing.
 */
int ctl_challenges(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "user", required_argument, NULL, 'u' },
        { "limit", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *user = NULL;
    int limit = 0;
    struct db_call call;
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 'u':
            user = optarg;
            break;
        case 'l':
            if (ctl_int_option(c, "--limit", optarg, 1, CHALLENGES_LIMIT_MAX, &limit) != STEPUP_OK)
                return CTL_FAILED;
            break;
        default:
            return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc || user == NULL) {
        ctl_error(c, "usage: challenges --user ID [--limit N]");
        return CTL_USAGE;
    }
    if (ctl_uuid_option(c, "--user", user) != STEPUP_OK)
        return CTL_FAILED;

    db_call_init(&call, &challenges_st);
    db_arg_text(&call, "p_user_id", user);
    if (limit > 0)
        db_arg_int(&call, "p_limit", limit);
    else
        db_arg_null(&call, "p_limit");
    return ctl_call_print(c, &call, "challenge");
}
