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
 * No command ever prints code_sealed; body_template (shown by `show`)
 * holds the text with its {code} placeholder, never the code.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"

#define OUTBOX_LIST_DEFAULT "100"
#define OUTBOX_LIMIT_MAX 1000000

/* The columns of a message as json_build_object arguments (key order kept). */
#define MESSAGE_FIELDS \
    "  'id', o.id, 'challengeId', o.challenge_id, 'programmeId', o.programme_id," \
    "  'to', o.to_number, 'status', o.status, 'attempts', o.attempts," \
    "  'createdAt', o.created_at," \
    "  'nextAttemptAt', CASE WHEN o.status = 'PENDING' THEN o.next_attempt_at END," \
    "  'leaseOwner', o.lease_owner, 'leaseUntil', o.lease_until," \
    "  'sentAt', o.sent_at, 'endedAt', o.ended_at, 'provider', o.provider," \
    "  'providerMessageId', o.provider_message_id, 'lastError', o.last_error"

static const char list_sql[] =
    "SELECT json_build_object(" MESSAGE_FIELDS ")::text"
    " FROM stepup.sms_outbox o"
    " WHERE ($1::text IS NULL OR o.status = $1::text)"
    "   AND ($2::uuid IS NULL OR o.programme_id = $2::uuid)"
    " ORDER BY o.created_at DESC, o.id"
    " LIMIT $3::integer";

static const char show_sql[] =
    "SELECT json_build_object(" MESSAGE_FIELDS ","
    "  'bodyTemplate', o.body_template, 'codeSealed', o.code_sealed IS NOT NULL,"
    "  'attemptLog', coalesce((SELECT json_agg(json_build_object("
    "      'attempt', a.attempt, 'sender', a.sender, 'provider', a.provider,"
    "      'startedAt', a.started_at, 'durationMs', a.duration_ms, 'status', a.status,"
    "      'httpStatus', a.http_status, 'exitCode', a.exit_code, 'error', a.error,"
    "      'providerMessageId', a.provider_message_id) ORDER BY a.attempt)"
    "    FROM stepup.sms_attempts a WHERE a.outbox_id = o.id), '[]'::json))::text"
    " FROM stepup.sms_outbox o WHERE o.id = $1::uuid";

/*
 * Make a waiting message due now, in one statement that also says what
 * stood in the way: the row (locked) and whether it was changed.
 */
static const char retry_sql[] =
    "WITH m AS (SELECT o.id, o.status, o.lease_owner, o.lease_until"
    "             FROM stepup.sms_outbox o WHERE o.id = $1::uuid FOR UPDATE),"
    " u AS (UPDATE stepup.sms_outbox o SET next_attempt_at = now()"
    "         FROM m WHERE o.id = m.id"
    "          AND (m.status = 'PENDING' OR (m.status = 'SENDING' AND m.lease_until < now()))"
    "       RETURNING o.id)"
    " SELECT m.status, coalesce(m.lease_owner, ''), (SELECT count(*) FROM u),"
    "        pg_catalog.pg_notify('stepup_outbox', m.id::text)"
    "   FROM m";

static const char purge_sql[] =
    "WITH d AS (DELETE FROM stepup.sms_outbox o"
    "            WHERE o.status IN ('SENT', 'DEAD', 'EXPIRED')"
    "              AND o.ended_at < now() - $1::bigint * interval '1 second'"
    "            RETURNING 1)"
    " SELECT count(*) FROM d";

/* Print each row's column 0 (a JSON text) as a compact JSON line. */
static int print_rows(struct ctl *c, db_result *r)
{
    for (int i = 0; i < db_rows(r); i++) {
        struct json_object *doc = json_tokener_parse(db_value(r, i, 0));
        if (doc == NULL) {
            ctl_error(c, "cannot parse row %d", i);
            return CTL_FAILED;
        }
        ctl_print_json(doc);
    }
    return CTL_OK;
}

/* PENDING, SENDING, SENT, DEAD or EXPIRED (any case) in upper case into out. */
static int parse_status(const struct ctl *c, const char *text, char out[16])
{
    static const char *const names[] = { "PENDING", "SENDING", "SENT", "DEAD", "EXPIRED" };
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (strcasecmp(text, names[i]) == 0) {
            snprintf(out, 16, "%s", names[i]);
            return STEPUP_OK;
        }
    }
    ctl_error(c, "--status: expected PENDING, SENDING, SENT, DEAD or EXPIRED, got '%s'", text);
    return STEPUP_ERR;
}

/* outbox list [--status S] [--programme ID] [--limit N] */
static int outbox_list(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "status", required_argument, NULL, 's' },
        { "programme", required_argument, NULL, 'p' },
        { "limit", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *status = NULL, *programme = NULL, *limit = OUTBOX_LIST_DEFAULT;
    char status_buf[16], limit_buf[16];
    struct db_params p = { 0 };
    int ch, n;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (parse_status(c, optarg, status_buf) != STEPUP_OK)
                return CTL_FAILED;
            status = status_buf;
            break;
        case 'p':
            if (ctl_check_uuid(c, "--programme", optarg) != STEPUP_OK)
                return CTL_FAILED;
            programme = optarg;
            break;
        case 'l':
            if (ctl_parse_int(c, "--limit", optarg, 1, OUTBOX_LIMIT_MAX, &n) != STEPUP_OK)
                return CTL_FAILED;
            snprintf(limit_buf, sizeof limit_buf, "%d", n);
            limit = limit_buf;
            break;
        default:
            return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc) {
        ctl_error(c, "usage: outbox list [--status S] [--programme ID] [--limit N]");
        return CTL_USAGE;
    }
    db_param_text(&p, status);
    db_param_text(&p, programme);
    db_param_text(&p, limit);
    db_result *r = db_query(c->db, NULL, list_sql, &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot read the outbox");
        return CTL_FAILED;
    }
    int rc = print_rows(c, r);
    db_result_free(r);
    return rc;
}

/* The single argument ID of show and retry, checked; NULL (reported) otherwise. */
static const char *message_id_arg(const struct ctl *c, int argc, char **argv, const char *usage)
{
    if (argc != 2 || argv[1][0] == '-') {
        ctl_error(c, "usage: %s", usage);
        return NULL;
    }
    if (ctl_check_uuid(c, "ID", argv[1]) != STEPUP_OK)
        return NULL;
    return argv[1];
}

/* outbox show ID */
static int outbox_show(struct ctl *c, int argc, char **argv)
{
    struct db_params p = { 0 };
    const char *id = message_id_arg(c, argc, argv, "outbox show ID");
    if (id == NULL)
        return argc != 2 ? CTL_USAGE : CTL_FAILED;
    db_param_text(&p, id);
    db_result *r = db_query(c->db, NULL, show_sql, &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot read the message");
        return CTL_FAILED;
    }
    int rc = CTL_FAILED;
    if (db_rows(r) == 0)
        ctl_error(c, "no outbox message with id %s", id);
    else
        rc = print_rows(c, r);
    db_result_free(r);
    return rc;
}

/* outbox retry ID */
static int outbox_retry(struct ctl *c, int argc, char **argv)
{
    struct db_params p = { 0 };
    const char *id = message_id_arg(c, argc, argv, "outbox retry ID");
    if (id == NULL)
        return argc != 2 ? CTL_USAGE : CTL_FAILED;
    db_param_text(&p, id);
    db_result *r = db_query(c->db, NULL, retry_sql, &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot retry the message");
        return CTL_FAILED;
    }
    int rc = CTL_FAILED;
    if (db_rows(r) == 0) {
        ctl_error(c, "no outbox message with id %s", id);
    } else if (strcmp(db_value(r, 0, 2), "1") == 0) {
        struct json_object *doc = json_object_new_object();
        json_object_object_add(doc, "id", json_object_new_string(id));
        json_object_object_add(doc, "status", json_object_new_string("PENDING"));
        json_object_object_add(doc, "due", json_object_new_string("now"));
        ctl_print_json(doc);
        rc = CTL_OK;
    } else if (strcmp(db_value(r, 0, 0), "SENDING") == 0) {
        ctl_error(c, "message %s is being sent by %s right now", id, db_value(r, 0, 1));
    } else {
        ctl_error(c, "message %s has ended (%s): its text was scrubbed and cannot be sent "
                     "again; the user can ask for a new code", id, db_value(r, 0, 0));
    }
    db_result_free(r);
    return rc;
}

/*
 * A duration: a positive number with a unit s, m, h or d ("30d", "12h").
 * Seconds into *secs; STEPUP_ERR (reported) otherwise.
 */
static int parse_duration(const struct ctl *c, const char *text, long long *secs)
{
    char *end = NULL;
    long long mult = 0;
    errno = 0;
    long long v = isdigit((unsigned char)text[0]) ? strtoll(text, &end, 10) : -1;
    if (end != NULL && end[0] != '\0' && end[1] == '\0') {
        switch (end[0]) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        default: break;
        }
    }
    if (v < 0 || errno != 0 || mult == 0 || v > 100LL * 365 * 86400 / mult) {
        ctl_error(c, "--older-than: expected a number with a unit s, m, h or d (30d, 12h), "
                     "got '%s'", text);
        return STEPUP_ERR;
    }
    *secs = v * mult;
    return STEPUP_OK;
}

/* outbox purge --older-than DURATION */
static int outbox_purge(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "older-than", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    const char *older = NULL;
    long long secs = 0;
    char secs_buf[32];
    struct db_params p = { 0 };
    int ch;

    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch != 'o')
            return ctl_option_error(c, ch, argv);
        older = optarg;
    }
    if (optind < argc || older == NULL) {
        ctl_error(c, "usage: outbox purge --older-than DURATION (e.g. 30d, 12h)");
        return CTL_USAGE;
    }
    if (parse_duration(c, older, &secs) != STEPUP_OK)
        return CTL_FAILED;
    snprintf(secs_buf, sizeof secs_buf, "%lld", secs);
    db_param_text(&p, secs_buf);
    db_result *r = db_query(c->db, NULL, purge_sql, &p);
    if (r == NULL) {
        ctl_db_error(c, "cannot purge the outbox");
        return CTL_FAILED;
    }
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "purged", json_object_new_int64(atoll(db_value(r, 0, 0))));
    json_object_object_add(doc, "olderThanSeconds", json_object_new_int64(secs));
    db_result_free(r);
    ctl_print_json(doc);
    return CTL_OK;
}

/* stepupctl outbox list|show|retry|purge: argv[0] is "outbox", argv[1] the subcommand. */
int ctl_outbox(struct ctl *c, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(struct ctl *c, int argc, char **argv);
    } subcommands[] = {
        { "list", outbox_list },
        { "show", outbox_show },
        { "retry", outbox_retry },
        { "purge", outbox_purge },
    };
    if (argc < 2) {
        ctl_error(c, "outbox needs a subcommand: list, show, retry or purge (see --help)");
        return CTL_USAGE;
    }
    for (size_t i = 0; i < ARRAY_LEN(subcommands); i++) {
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(c, argc - 1, argv + 1);
    }
    ctl_error(c, "unknown subcommand 'outbox %s' (see --help)", argv[1]);
    return CTL_USAGE;
}
