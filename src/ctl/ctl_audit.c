/*
 * ctl_audit.c - stepupctl audit verify|purge and stepupctl partitions.
 *
 * audit verify [--from T] [--to T] [--public-key FILE] checks the audit
 * log against its seals with the public key alone, reading only the views
 * of the schema audit (it runs as stepup_auditor).  The key is --public-key
 * or the file STEPUP_AUDIT_PUBLIC_KEY names: never anything the database
 * holds.  Seal after seal, in order:
 *   - the seal follows its predecessor (number, transaction range, digest);
 *   - its digest is the hash of what it lists, and the signature verifies;
 *   - the events of its range are exactly those it lists, each with the
 *     hash it lists: an event missing is "removed" (unless an authentic
 *     audit.purged event says its month was dropped), one not listed is
 *     "inserted", one whose hash differs is "altered".
 * The first problem is named and the exit status is 1; everything
 * verified: 0.  Events not sealed yet are counted; those older than
 * UNSEALED_GRACE_S fail (the sealer is not running, or someone added
 * events where no seal looks).  The arithmetic is src/lib/audit.h's.
 *
 * audit purge --older-than DURATION and partitions [--months N] are one
 * call each of stepup.ctl_audit_purge / stepup.ctl_partitions.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/audit.h"
#include "ctl.h"

#define SEALS_PER_QUERY 200
#define TEXT_OF(n) #n
#define NUMBER_TEXT(n) TEXT_OF(n) /* the digits of a macro's value, for SQL */
#define UNSEALED_GRACE_S 600

static const struct db_arg_def window_args[] = {
    { "from", DB_TEXT }, { "to", DB_TEXT }, { "after", DB_BIGINT },
};
/* The seals of the window, and the one before its first, SEALS_PER_QUERY at a time. */
static const struct db_statement seals_st = {
    .name = "audit_seals",
    .sql = "SELECT s.seal_no, s.xact_from::text AS xact_from, s.xact_to::text AS xact_to, "
           "s.event_count, s.entries, s.prev_digest, s.digest, s.signature, s.key_id, "
           "($1::timestamptz IS NULL OR s.last_at >= $1::timestamptz) AS in_window "
           "FROM audit.seals s "
           "WHERE s.seal_no > $3 AND s.seal_no >= coalesce((SELECT min(w.seal_no) - 1 "
           "FROM audit.seals w WHERE ($1::timestamptz IS NULL OR w.last_at >= $1::timestamptz) "
           "AND ($2::timestamptz IS NULL OR w.first_at <= $2::timestamptz)), 1) "
           "AND ($2::timestamptz IS NULL OR s.first_at <= $2::timestamptz) "
           "ORDER BY s.seal_no LIMIT " NUMBER_TEXT(SEALS_PER_QUERY),
    DB_ARGS(window_args),
};
static const struct db_arg_def range_args[] = { { "xact_from", DB_TEXT }, { "xact_to", DB_TEXT } };
/* The events of one seal's range, as the sealer hashed them (audit.h's columns). */
static const struct db_statement events_st = {
    .name = "audit_events",
    .sql = "SELECT e.seq, (extract(epoch FROM e.at) * 1000000)::bigint AS at_us, e.xact_id, "
           "e.event, e.programme_id, e.identity_id, e.user_id, e.session_id, e.challenge_id, "
           "e.request_ref, e.client_addr, e.user_agent, e.actor, e.detail "
           "FROM audit.events e WHERE e.xact_id >= $1::xid8 AND e.xact_id < $2::xid8 "
           "ORDER BY e.seq",
    DB_ARGS(range_args),
};
static const struct db_arg_def tip_args[] = { { "xact_to", DB_TEXT } };
/* What no seal covers yet. */
static const struct db_statement unsealed_st = {
    .name = "audit_unsealed",
    .sql = "SELECT count(*) AS events, min(e.seq) AS first_seq, "
           "coalesce(max(extract(epoch FROM now() - e.at)), 0)::bigint AS oldest_seconds "
           "FROM audit.events e WHERE e.xact_id >= $1::xid8",
    DB_ARGS(tip_args),
};
/*
 * The purges: each audit.purged event with the time before which it says
 * events are gone.  Only one that keeps at least a day (as ctl_audit_purge
 * does) counts, and only once its own seal vouches for it (verify_state).
 */
static const struct db_statement purges_st = {
    .name = "audit_purges",
    .sql = "SELECT e.seq, (extract(epoch FROM (e.detail->>'before')::timestamptz) * 1000000)::bigint "
           "AS before_us, (extract(epoch FROM e.at) * 1000000)::bigint AS at_us "
           "FROM audit.events e WHERE e.event = 'audit.purged' ORDER BY e.seq LIMIT 1000",
};
#define MAX_PURGES 1000
#define DAY_US 86400000000LL

struct purge {
    int64_t seq, before_us;
    bool vouched; /* its event was found in a seal, unaltered */
};

struct verify_state {
    struct ctl *c;
    const struct crypto_sign_key *key;
    int64_t horizon_us;     /* the latest purge's horizon, before any seal vouched for it */
    struct purge purges[MAX_PURGES];
    size_t npurges;
    int64_t excused_at_us;  /* the latest time of an event excused as purged */
    int64_t prev_no;       /* 0: none read yet */
    uint64_t prev_to;
    unsigned char prev_digest[CRYPTO_HASH_LEN];
    long long seals, events, purged;
    char problem[512];     /* the first problem, "" while none */
    int64_t problem_seq;   /* its event, -1 for a seal */
    int64_t problem_seal;
};

static void problem(struct verify_state *v, int64_t seal_no, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(struct verify_state *v, int64_t seal_no, int64_t seq, const char *fmt, ...)
{
    if (v->problem[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->problem, sizeof v->problem, fmt, ap);
    va_end(ap);
    v->problem_seal = seal_no;
    v->problem_seq = seq;
}

/* Compare the events of one seal's range with its entries. */
static int check_events(struct verify_state *v, int64_t seal_no, const char *from,
                        const char *to, const unsigned char *entries, size_t count)
{
    struct db_call call;
    db_call_init(&call, &events_st);
    db_arg_text(&call, "xact_from", from);
    db_arg_text(&call, "xact_to", to);
    db_result *r = ctl_call(v->c, &call);
    if (r == NULL)
        return STEPUP_ERR;
    int rows = db_rows(r);
    size_t i = 0; /* entry */
    int j = 0;    /* row */
    while (v->problem[0] == '\0' && (i < count || j < rows)) {
        struct audit_entry want = { 0 }, got = { .seq = INT64_MAX };
        bool readable = false; /* seq and time of the row are numbers */
        if (i < count)
            audit_entry_get(entries + i * AUDIT_ENTRY_LEN, &want);
        if (j < rows)
            readable = audit_row_entry(r, j, &got) == STEPUP_OK;
        int64_t seq = got.seq;
        if (i < count && (j >= rows || want.seq < seq)) {
            if (want.at_us < v->horizon_us) {
                v->purged++;
                if (want.at_us > v->excused_at_us)
                    v->excused_at_us = want.at_us;
            } else {
                problem(v, seal_no, want.seq,
                        "event %" PRId64 " was removed: seal %" PRId64 " lists it", want.seq,
                        seal_no);
            }
            i++;
            continue;
        }
        if (i >= count || seq < want.seq) {
            problem(v, seal_no, seq,
                    "event %" PRId64 " (%s) was inserted: seal %" PRId64 " covers its "
                    "transaction and does not list it", seq, db_get(r, j, "event"), seal_no);
            j++;
            continue;
        }
        if (!readable || memcmp(got.hash, want.hash, sizeof got.hash) != 0 ||
            got.at_us != want.at_us) {
            problem(v, seal_no, seq,
                    "event %" PRId64 " (%s) was altered: it no longer hashes to what seal %" PRId64
                    " lists", seq, db_get(r, j, "event"), seal_no);
        } else {
            for (size_t p = 0; p < v->npurges; p++) {
                if (v->purges[p].seq == seq)
                    v->purges[p].vouched = true;
            }
        }
        v->events++;
        i++;
        j++;
    }
    db_result_free(r);
    return STEPUP_OK;
}

/* Check one seal row: the chain, the digest, the signature, then its events. */
static int check_seal(struct verify_state *v, const db_result *r, int row, bool only_link)
{
    int64_t no = 0, count = 0;
    uint64_t from = 0, to = 0;
    unsigned char prev[CRYPTO_HASH_LEN], digest[CRYPTO_HASH_LEN], sig[CRYPTO_SIGNATURE_LEN];
    size_t prevlen = 0, digestlen = 0, siglen = 0;
    if (audit_parse_i64(db_get(r, row, "seal_no"), &no) != STEPUP_OK ||
        audit_parse_u64(db_get(r, row, "xact_from"), &from) != STEPUP_OK ||
        audit_parse_u64(db_get(r, row, "xact_to"), &to) != STEPUP_OK ||
        audit_parse_i64(db_get(r, row, "event_count"), &count) != STEPUP_OK || count < 0 ||
        db_get_bytes(r, row, "prev_digest", prev, sizeof prev, &prevlen) != STEPUP_OK ||
        db_get_bytes(r, row, "digest", digest, sizeof digest, &digestlen) != STEPUP_OK ||
        db_get_bytes(r, row, "signature", sig, sizeof sig, &siglen) != STEPUP_OK ||
        prevlen != sizeof prev || digestlen != sizeof digest || siglen != sizeof sig) {
        problem(v, no, -1, "seal %" PRId64 " is malformed", no);
        return STEPUP_OK;
    }
    size_t len = (size_t)count * AUDIT_ENTRY_LEN, got = 0;
    unsigned char *list = malloc(len > 0 ? len : 1);
    if (list == NULL) {
        ctl_error(v->c, "out of memory for seal %" PRId64, no);
        return STEPUP_ERR;
    }
    if (db_get_bytes(r, row, "entries", list, len, &got) != STEPUP_OK || got != len) {
        problem(v, no, -1, "seal %" PRId64 " is malformed: its list is not %" PRId64 " entries",
                no, count);
        free(list);
        return STEPUP_OK;
    }

    if (v->prev_no == 0 && no > 1 && !only_link) {
        problem(v, no, -1, "seal %" PRId64 " has no predecessor: seal %" PRId64 " was removed",
                no, no - 1);
    } else if (v->prev_no != 0 && no != v->prev_no + 1) {
        problem(v, no, -1, "seal %" PRId64 " was removed (seal %" PRId64 " follows seal %" PRId64 ")",
                v->prev_no + 1, no, v->prev_no);
    } else if ((v->prev_no != 0 || no == 1) &&
               (from != (v->prev_no != 0 ? v->prev_to : 0) ||
                memcmp(prev, v->prev_digest, sizeof prev) != 0)) {
        problem(v, no, -1, "seal %" PRId64 " does not extend seal %" PRId64, no, no - 1);
    }
    unsigned char want[CRYPTO_HASH_LEN];
    audit_seal_digest(prev, no, from, to, (uint32_t)count, list, len, want);
    if (memcmp(want, digest, sizeof want) != 0 ||
        crypto_sign_verify(v->key, digest, sizeof digest, sig) != 1)
        problem(v, no, -1, "seal %" PRId64 " was altered: its signature does not verify with "
                "this public key", no);

    int rc = STEPUP_OK;
    if (v->problem[0] == '\0' && !only_link) {
        rc = check_events(v, no, db_get(r, row, "xact_from"), db_get(r, row, "xact_to"), list,
                          (size_t)count);
        v->seals++;
    }
    free(list);
    v->prev_no = no;
    v->prev_to = to;
    memcpy(v->prev_digest, digest, sizeof digest);
    return rc;
}

static int audit_verify(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },
        { "public-key", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 },
    };
    const char *from = NULL, *to = NULL, *key_path = getenv("STEPUP_AUDIT_PUBLIC_KEY");
    int ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (ch) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'k': key_path = optarg; break;
        default: return ctl_option_error(c, ch, argv);
        }
    }
    if (optind < argc) {
        ctl_error(c, "usage: audit verify [--from T] [--to T] [--public-key FILE]");
        return CTL_USAGE;
    }
    if (key_path == NULL || key_path[0] == '\0') {
        ctl_error(c, "audit verify needs the sealing key's public half: --public-key FILE or "
                  "STEPUP_AUDIT_PUBLIC_KEY=FILE");
        return CTL_USAGE;
    }
    char err[512];
    struct crypto_sign_key *key = crypto_sign_key_load(key_path, false, err, sizeof err);
    if (key == NULL) {
        ctl_error(c, "%s", err);
        return CTL_FAILED;
    }

    struct verify_state v = { .c = c, .key = key, .problem_seq = -1 };
    int status = CTL_FAILED;
    struct db_call call;
    v.horizon_us = INT64_MIN;
    v.excused_at_us = INT64_MIN;
    db_call_init(&call, &purges_st);
    db_result *r = ctl_call(c, &call);
    if (r == NULL)
        goto out;
    for (int i = 0; i < db_rows(r) && v.npurges < MAX_PURGES; i++) {
        struct purge *p = &v.purges[v.npurges];
        int64_t at_us;
        if (audit_parse_i64(db_get(r, i, "seq"), &p->seq) != STEPUP_OK ||
            audit_parse_i64(db_get(r, i, "before_us"), &p->before_us) != STEPUP_OK ||
            audit_parse_i64(db_get(r, i, "at_us"), &at_us) != STEPUP_OK ||
            p->before_us > at_us - DAY_US)
            continue; /* not a purge ctl_audit_purge could have made: it excuses nothing */
        if (p->before_us > v.horizon_us)
            v.horizon_us = p->before_us;
        v.npurges++;
    }
    db_result_free(r);
    r = NULL;

    int64_t after = 0;
    for (;;) {
        db_call_init(&call, &seals_st);
        db_arg_text(&call, "from", from);
        db_arg_text(&call, "to", to);
        db_arg_int(&call, "after", after);
        r = ctl_call(c, &call);
        if (r == NULL)
            goto out;
        int rows = db_rows(r);
        for (int i = 0; i < rows && v.problem[0] == '\0'; i++) {
            /* The seal before the window (--from) only links the chain to it. */
            bool link = strcmp(db_get(r, i, "in_window"), "t") != 0;
            if (check_seal(&v, r, i, link) != STEPUP_OK)
                goto out;
            after = v.prev_no;
        }
        db_result_free(r);
        r = NULL;
        if (rows < SEALS_PER_QUERY || v.problem[0] != '\0')
            break;
    }

    /* What was excused as purged needs a purge its seal vouches for. */
    if (v.problem[0] == '\0' && v.purged > 0) {
        bool covered = false;
        for (size_t p = 0; p < v.npurges; p++)
            covered = covered || (v.purges[p].vouched && v.purges[p].before_us > v.excused_at_us);
        if (!covered)
            problem(&v, 0, -1, "%lld sealed events are missing and no sealed audit.purged event "
                    "accounts for them: they were removed", v.purged);
    }

    long long unsealed = 0, oldest = 0;
    if (v.problem[0] == '\0' && to == NULL) {
        char tip[24];
        snprintf(tip, sizeof tip, "%" PRIu64, v.prev_no != 0 ? v.prev_to : 0);
        db_call_init(&call, &unsealed_st);
        db_arg_text(&call, "xact_to", tip);
        r = ctl_call(c, &call);
        if (r == NULL)
            goto out;
        unsealed = atoll(db_get(r, 0, "events"));
        oldest = atoll(db_get(r, 0, "oldest_seconds"));
        if (unsealed > 0 && oldest > UNSEALED_GRACE_S)
            problem(&v, 0, atoll(db_get(r, 0, "first_seq")),
                    "%lld events are not sealed, the oldest written %lld s ago, from event %s: "
                    "is the sealer (stepup-sender with audit_key_file) running?", unsealed,
                    oldest, db_get(r, 0, "first_seq"));
        db_result_free(r);
        r = NULL;
    }

    struct json_object *doc = json_object_new_object();
    bool ok = v.problem[0] == '\0';
    json_object_object_add(doc, "verified", json_object_new_boolean(ok));
    json_object_object_add(doc, "seals", json_object_new_int64(v.seals));
    json_object_object_add(doc, "events", json_object_new_int64(v.events));
    json_object_object_add(doc, "purged", json_object_new_int64(v.purged));
    json_object_object_add(doc, "unsealed", json_object_new_int64(unsealed));
    char id[CRYPTO_KEY_ID_LEN + 1];
    crypto_sign_key_id(key, id);
    json_object_object_add(doc, "keyId", json_object_new_string(id));
    if (!ok) {
        json_object_object_add(doc, "problem", json_object_new_string(v.problem));
        if (v.problem_seal > 0)
            json_object_object_add(doc, "seal", json_object_new_int64(v.problem_seal));
        if (v.problem_seq >= 0)
            json_object_object_add(doc, "event", json_object_new_int64(v.problem_seq));
        ctl_error(c, "audit log NOT verified: %s", v.problem);
    }
    ctl_print_json(doc);
    status = ok ? CTL_OK : CTL_FAILED;

out:
    db_result_free(r);
    crypto_sign_key_free(key);
    return status;
}

static const struct db_arg_def purge_args[] = { { "p_older_than_seconds", DB_BIGINT } };
static const struct db_statement purge_st = {
    .name = "ctl_audit_purge", .function = "stepup.ctl_audit_purge", .result = "doc",
    DB_ARGS(purge_args),
};

static int audit_purge(struct ctl *c, int argc, char **argv)
{
    long long secs = 0;
    int rc = ctl_older_than(c, argc, argv, "audit purge --older-than DURATION (e.g. 400d)", &secs);
    if (rc != CTL_OK)
        return rc;
    struct db_call call;
    db_call_init(&call, &purge_st);
    db_arg_int(&call, "p_older_than_seconds", secs);
    return ctl_call_print(c, &call, "doc");
}

/* stepupctl audit verify|purge: argv[0] is "audit", argv[1] the subcommand. */
int ctl_audit(struct ctl *c, int argc, char **argv)
{
    static const struct ctl_subcommand subcommands[] = {
        { "verify", audit_verify },
        { "purge", audit_purge },
    };
    return ctl_subcommand(c, argc, argv, subcommands, ARRAY_LEN(subcommands));
}

static const struct db_arg_def partitions_args[] = { { "p_months", DB_INT } };
static const struct db_statement partitions_st = {
    .name = "ctl_partitions", .function = "stepup.ctl_partitions", DB_ARGS(partitions_args),
};

/* stepupctl partitions [--months N] */
int ctl_partitions(struct ctl *c, int argc, char **argv)
{
    static const struct option options[] = {
        { "months", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    int months = 3, ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (ch != 'm')
            return ctl_option_error(c, ch, argv);
        if (ctl_int_option(c, "--months", optarg, 0, 120, &months) != STEPUP_OK)
            return CTL_FAILED;
    }
    if (optind < argc) {
        ctl_error(c, "usage: partitions [--months N]");
        return CTL_USAGE;
    }
    struct db_call call;
    db_call_init(&call, &partitions_st);
    db_arg_int(&call, "p_months", months);
    return ctl_call_print(c, &call, "doc");
}
