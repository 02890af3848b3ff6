/*
 * ctl_outbox.c - stepupctl outbox list|show|retry|purge: the SMS outbox as
 * stepup-sender works through it.
 *
 *   list   one JSON object per line, newest first (like `challenges`);
 *   show   one message with its attempts;
 *   retry  a message waiting for its next attempt is made due now (and the
 *          senders are woken); an ended message cannot be: its text was
 *          scrubbed, so the user asks for a new code instead;
 *   purge  deletes ended messages (SENT, DEAD, EXPIRED) and their attempts
 *          older than a duration.
 *
 * Each is one call of its stepup.ctl_outbox_* function
 * (sql/functions/60_ctl_outbox.sql).  None ever prints code_sealed;
 * bodyTemplate (shown by `show`) holds the text with its {code}
 * placeholder, never the code.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define OUTBOX_LIST_DEFAULT 100
#define OUTBOX_LIMIT_MAX 1000000

static const struct db_arg_def list_args[] = {
    { "p_status", DB_TEXT }, { "p_programme_id", DB_UUID }, { "p_limit", DB_INT },
};
static const struct db_statement list_st = {
    .name = "ctl_outbox_list", .function = "stepup.ctl_outbox_list", .result = "message",
    DB_ARGS(list_args),
};
static const struct db_arg_def id_args[] = { { "p_id", DB_UUID } };
static const struct db_statement show_st = {
    .name = "ctl_outbox_show", .function = "stepup.ctl_outbox_show", .result = "message",
    DB_ARGS(id_args),
};
static const struct db_statement retry_st = {
    .name = "ctl_outbox_retry", .function = "stepup.ctl_outbox_retry", .result = "retried",
    DB_ARGS(id_args),
};
static const struct db_arg_def purge_args[] = { { "p_older_than_seconds", DB_BIGINT } };
static const struct db_statement purge_st = {
    .name = "ctl_outbox_purge", .function = "stepup.ctl_outbox_purge", .result = "purged",
    DB_ARGS(purge_args),
};

/* outbox list [--status S] [--programme ID] [--limit N] */
static int outbox_list(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "status", required_argument, NULL, 's' },
        { "programme", required_argument, NULL, 'p' },
        { "limit", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *status = NULL, *programme = NULL;
    int limit = OUTBOX_LIST_DEFAULT;
    struct db_call call;
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 's':
            status = ctl_outbox_status(optarg);
            if (status == NULL) {
                ctl_error(c, "--status: expected PENDING, SENDING, SENT, DEAD or EXPIRED, got '%s'",
                          optarg);
                return CTL_FAILED;
            }
            break;
        case 'p':
            if (ctl_uuid_option(c, "--programme", optarg) != STEPUP_OK)
                return CTL_FAILED;
            programme = optarg;
            break;
        case 'l':
            if (ctl_int_option(c, "--limit", optarg, 1, OUTBOX_LIMIT_MAX, &limit) != STEPUP_OK)
                return CTL_FAILED;
            break;
        default:
            return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc) {
        ctl_error(c, "usage: outbox list [--status S] [--programme ID] [--limit N]");
        return CTL_USAGE;
    }
    db_call_init(&call, &list_st);
    db_arg_text(&call, "p_status", status);
    db_arg_text(&call, "p_programme_id", programme);
    db_arg_int(&call, "p_limit", limit);
    return ctl_call_print(c, &call, "message");
}

/*
 * outbox show ID / outbox retry ID: call st with the message's id; the
 * result, or NULL with *rc the exit status.
 */
static db_result *message_call(struct ctl *c, int argc, char **argv, const char *usage,
                               const struct db_statement *st, int *rc)
{
    struct db_call call;
    if (argc != 2 || argv[1][0] == '-') {
        ctl_error(c, "usage: %s", usage);
        *rc = CTL_USAGE;
        return NULL;
    }
    *rc = CTL_FAILED;
    if (ctl_uuid_option(c, "ID", argv[1]) != STEPUP_OK)
        return NULL;
    db_call_init(&call, st);
    db_arg_text(&call, "p_id", argv[1]);
    return ctl_call(c, &call);
}

/* outbox show ID */
static int outbox_show(struct ctl *c, int argc, char **argv)
{
    int rc;
    db_result *r = message_call(c, argc, argv, "outbox show ID", &show_st, &rc);
    if (r == NULL)
        return rc;
    rc = ctl_print_rows(c, r, "message");
    db_result_free(r);
    return rc;
}

/* outbox retry ID -> {"id", "status": "PENDING", "due": "now"} */
static int outbox_retry(struct ctl *c, int argc, char **argv)
{
    int rc;
    db_result *r = message_call(c, argc, argv, "outbox retry ID", &retry_st, &rc);
    if (r == NULL)
        return rc;
    db_result_free(r);
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "id", json_object_new_string(argv[1]));
    json_object_object_add(doc, "status", json_object_new_string("PENDING"));
    json_object_object_add(doc, "due", json_object_new_string("now"));
    ctl_print_json(doc);
    return CTL_OK;
}

/* outbox purge --older-than DURATION -> {"purged", "olderThanSeconds"} */
static int outbox_purge(struct ctl *c, int argc, char **argv)
{
    long long secs = 0;
    struct db_call call;
    int rc = ctl_older_than(c, argc, argv, "outbox purge --older-than DURATION (e.g. 30d, 12h)",
                            &secs);
    if (rc != CTL_OK)
        return rc;
    db_call_init(&call, &purge_st);
    db_arg_int(&call, "p_older_than_seconds", secs);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        return CTL_FAILED;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "purged", json_object_new_int64(atoll(db_get(r, 0, "purged"))));
    json_object_object_add(doc, "olderThanSeconds", json_object_new_int64(secs));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

/* stepupctl outbox list|show|retry|purge: argv[0] is "outbox", argv[1] the subcommand. */
int ctl_outbox(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_subcommand subcommands[] = {
        { "list", outbox_list },
        { "show", outbox_show },
        { "retry", outbox_retry },
        { "purge", outbox_purge },
    };
    return ctl_subcommand(c, argc, argv, subcommands, ARRAY_LEN(subcommands));
}
