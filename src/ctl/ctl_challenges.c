/*
 * ctl_challenges.c - stepupctl challenges: a user's challenge history.
 *
 * Reads stepup.challenge_history (the DBA view: effective status, no
 * hashes) and prints one JSON object per line, newest first, so that the
 * output can be piped through `jq -c` or `grep` line by line.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CHALLENGES_LIMIT_MAX 1000000

/*
 * One row per challenge, already as a JSON object (json_build_object keeps
 * the key order); timestamps in ISO 8601.  NULL $2 = no limit.
 */
static const char history_sql[] =
    "SELECT json_build_object("
    "  'id', h.id, 'purpose', h.purpose, 'channel', h.channel, 'status', h.status,"
    "  'attempts', h.attempts, 'createdAt', h.created_at, 'expiresAt', h.expires_at,"
    "  'endedAt', h.ended_at, 'mobile', h.mobile, 'requestRef', h.request_ref,"
    "  'clientAddr', host(h.client_addr), 'userAgent', h.user_agent,"
    "  'sessionId', h.session_id)::text"
    " FROM stepup.challenge_history h"
    " WHERE h.user_id = $1::uuid"
    " ORDER BY h.created_at DESC, h.id"
    " LIMIT $2::integer";

/* STEPUP_OK when a user with this id exists (else reported), STEPUP_ERR also on a failed query. */
static int check_user(struct ctl *c, const char *user)
{
    struct db_params p = { 0 };
    db_param_text(&p, user);
    db_result *r = db_query(c->db, NULL, "SELECT 1 FROM stepup.users WHERE id = $1::uuid", &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot read the user");
        return STEPUP_ERR;
    }
    int rows = db_rows(r);
    db_result_free(r);
    if (rows != 1) {
        ctl_error(c, "no user with id %s", user);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

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
    const char *user = NULL, *limit = NULL;
    char limit_buf[16];
    struct db_params p = { 0 };
    int ch;
    int n;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 'u':
            user = optarg;
            break;
        case 'l':
            if (ctl_parse_int(c, "--limit", optarg, 1, CHALLENGES_LIMIT_MAX, &n) != STEPUP_OK)
                return CTL_FAILED;
            snprintf(limit_buf, sizeof limit_buf, "%d", n);
            limit = limit_buf;
            break;
        default:
            return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc || user == NULL) {
        ctl_error(c, "usage: challenges --user ID [--limit N]");
        return CTL_USAGE;
    }
    if (ctl_check_uuid(c, "--user", user) != STEPUP_OK || check_user(c, user) != STEPUP_OK)
        return CTL_FAILED;

    db_param_text(&p, user);
    db_param_text(&p, limit);
    db_result *r = db_query(c->db, NULL, history_sql, &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot read the challenges");
        return CTL_FAILED;
    }
    int rc = CTL_OK;
    for (int i = 0; i < db_rows(r); i++) {
        struct json_object *doc = json_tokener_parse(db_value(r, i, 0));
        if (doc == NULL) {
            ctl_error(c, "cannot parse the history row of challenge %d", i);
            rc = CTL_FAILED;
            break;
        }
        ctl_print_json(doc); /* re-printed for the same compact form as every command */
    }
    db_result_free(r);
    return rc;
}
