/*
 * db.c - the one place that talks to libpq.  See db.h.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "crypto.h"
#include "db.h"
#include "log.h"

/* The longest SQL a statement description may make. */
#define DB_SQL_MAX 4096

struct db {
    PGconn *conn;
    char *conninfo;
    const struct db_statement *const *statements;
    size_t nstatements;
    int connect_timeout_seconds;
    int statement_timeout_ms;
    bool prepare;        /* prepared statements and the search_path pin (db_options) */
    void (*notice)(void *arg, const char *severity, const char *message);
    void *notice_arg;
    void (*reconnected)(void *arg);
    void *reconnected_arg;
    void (*waiting)(void *arg); /* db_on_wait's */
    void *waiting_arg;
    int waiting_interval_ms;
    int retry_seconds;
    long long last_attempt; /* monotonic ms of a connect that failed; 0 when none */
    bool lost;           /* a connection was lost since the last good connect */
    char *listen_channel; /* LISTENed to after every connect (db_listen); NULL: none */
    char error[512];
    char sqlstate[6];
    int position;   /* of the last error in its statement, 0: unknown */
    bool transient; /* the last failure was one of the moment (db_last_error_transient) */
};

/* The SQL name of a type, as written in a cast. */
static const char *type_name(enum db_type t)
{
    switch (t) {
    case DB_TEXT: return "text";
    case DB_BYTEA: return "bytea";
    case DB_UUID: return "uuid";
    case DB_INET: return "inet";
    case DB_INT: return "integer";
    case DB_BIGINT: return "bigint";
    case DB_BOOL: return "boolean";
    case DB_JSONB: return "jsonb";
    case DB_UUID_ARRAY: return "uuid[]";
    case DB_TEXT_ARRAY: return "text[]";
    }
    return "text";
}

/*
 * True for a name written into SQL as it is: lower-case letters, digits,
 * '_' and one '.' between a schema and a name (PQfnumber folds the names
 * it looks up to lower case, so results are read by names like these).
 */
static bool plain_name(const char *name, bool qualified)
{
    int dots = 0;
    if (name == NULL || name[0] == '\0')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '.' && qualified && dots++ == 0 && p != name && p[1] != '\0')
            continue;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return true;
}

int db_statement_sql(const struct db_statement *st, char *buf, size_t buflen)
{
    size_t used = 0;
    int n;

#define APPEND(...)                                                              \
    do {                                                                         \
        n = snprintf(buf + used, buflen - used, __VA_ARGS__);                    \
        if (n < 0 || (size_t)n >= buflen - used)                                 \
            return STEPUP_ERR;                                                   \
        used += (size_t)n;                                                       \
    } while (0)

    if (buflen == 0 || st->nargs > DB_MAX_ARGS)
        return STEPUP_ERR;
    buf[0] = '\0';
    if (st->function == NULL) {
        APPEND("%s", st->sql != NULL ? st->sql : "");
        return STEPUP_OK;
    }
    if (!plain_name(st->function, true) || (st->result != NULL && !plain_name(st->result, false)))
        return STEPUP_ERR;
    APPEND("SELECT * FROM %s(", st->function);
    for (size_t i = 0; i < st->nargs; i++) {
        if (!plain_name(st->args[i].name, false))
            return STEPUP_ERR;
        APPEND("%s%s => $%zu::%s", i > 0 ? ", " : "", st->args[i].name, i + 1,
               type_name(st->args[i].type));
    }
    APPEND(") AS %s", st->result != NULL ? st->result : "r");
#undef APPEND
    return STEPUP_OK;
}

void db_call_init(struct db_call *c, const struct db_statement *st)
{
    memset(c, 0, sizeof *c);
    c->st = st;
    if (st->nargs > DB_MAX_ARGS)
        abort(); /* a programming error, caught by any test of the caller */
}

/* What a setter gives: text, bytes, a number, a boolean, or SQL NULL (for any type). */
enum arg_kind { ARG_TEXT, ARG_BYTES, ARG_NUMBER, ARG_BOOL, ARG_NULL };

/* Whether a setter of kind may set an argument of type t. */
static bool kind_fits(enum arg_kind kind, enum db_type t)
{
    switch (kind) {
    case ARG_NULL: return true;
    case ARG_BYTES: return t == DB_BYTEA;
    case ARG_NUMBER: return t == DB_INT || t == DB_BIGINT;
    case ARG_BOOL: return t == DB_BOOL;
    case ARG_TEXT: return t != DB_BYTEA; /* a number or boolean may come as text too */
    }
    return false;
}

/*
 * The index of argument name in c's statement, now marked as set.  Aborts
 * when there is none, it is set already, or kind does not fit its type.
 */
static size_t arg_slot(struct db_call *c, const char *name, enum arg_kind kind)
{
    for (size_t i = 0; i < c->st->nargs; i++) {
        if (strcmp(c->st->args[i].name, name) != 0)
            continue;
        if (c->set[i] || !kind_fits(kind, c->st->args[i].type)) {
            log_msg(LOG_ERROR, NULL, "bug: %s: argument %s set twice or with the wrong type",
                    c->st->name, name);
            abort();
        }
        c->set[i] = true;
        return i;
    }
    log_msg(LOG_ERROR, NULL, "bug: %s has no argument %s", c->st->name, name);
    abort();
}

void db_arg_text(struct db_call *c, const char *name, const char *value)
{
    size_t i = arg_slot(c, name, value != NULL ? ARG_TEXT : ARG_NULL);
    c->values[i] = value;
}

void db_arg_null(struct db_call *c, const char *name)
{
    size_t i = arg_slot(c, name, ARG_NULL);
    c->values[i] = NULL;
}

void db_arg_bytes(struct db_call *c, const char *name, const void *data, size_t len)
{
    size_t i = arg_slot(c, name, ARG_BYTES);
    c->values[i] = data;
    c->lengths[i] = (int)len;
    c->formats[i] = 1;
}

void db_arg_int(struct db_call *c, const char *name, long long value)
{
    size_t i = arg_slot(c, name, ARG_NUMBER);
    snprintf(c->scratch[i], sizeof c->scratch[i], "%lld", value);
    c->values[i] = c->scratch[i];
}

void db_arg_bool(struct db_call *c, const char *name, bool value)
{
    size_t i = arg_slot(c, name, ARG_BOOL);
    c->values[i] = value ? "true" : "false";
}

struct db *db_new(const struct db_options *o, const struct db_statement *const *statements,
                  size_t nstatements)
{
    struct db *db = calloc(1, sizeof *db);
    if (db == NULL)
        return NULL;
    db->conninfo = strdup(o->conninfo != NULL ? o->conninfo : "");
    if (db->conninfo == NULL) {
        free(db);
        return NULL;
    }
    db->statements = statements;
    db->nstatements = nstatements;
    db->retry_seconds = o->retry_seconds;
    db->connect_timeout_seconds = o->connect_timeout_seconds;
    db->statement_timeout_ms = o->statement_timeout_ms;
    db->prepare = o->prepare;
    return db;
}

static void db_disconnect(struct db *db)
{
    if (db->conn != NULL) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
}

bool db_options_equal(const struct db_options *a, const struct db_options *b)
{
    return strcmp(a->conninfo != NULL ? a->conninfo : "", b->conninfo != NULL ? b->conninfo : "") ==
               0 &&
           a->retry_seconds == b->retry_seconds &&
           a->connect_timeout_seconds == b->connect_timeout_seconds &&
           a->statement_timeout_ms == b->statement_timeout_ms && a->prepare == b->prepare;
}

void db_free(struct db *db)
{
    if (db == NULL)
        return;
    db_disconnect(db);
    free(db->listen_channel);
    free(db->conninfo);
    free(db);
}

/*
 * Remember the error of a failed operation: the server's primary message
 * when it sent one (without libpq's "ERROR:  " prefix), else message's
 * first line; and the SQLSTATE.
 */
static void db_note_error(struct db *db, const char *message, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary != NULL)
        message = primary;
    snprintf(db->error, sizeof db->error, "%s", message != NULL ? message : "unknown error");
    db->error[strcspn(db->error, "\n")] = '\0';
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state != NULL ? state : "");
    const char *pos = res != NULL ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    db->position = pos != NULL ? atoi(pos) : 0;
}

/*
 * Remember why a connect failed.  libpq writes a line for each host it
 * tried (several in a multi-host conninfo), each maybe followed by hints
 * indented with a tab; every host's line is kept, joined by "; ", so that
 * during a failover the log says that one host refused and that the other
 * is still a standby ("session is read-only"), not only the first.
 */
static void db_note_connect_error(struct db *db, const char *message)
{
    size_t used = 0;
    db->error[0] = '\0';
    for (const char *line = message; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        int len = end != NULL ? (int)(end - line) : (int)strlen(line);
        if (len > 0 && line[0] != '\t' && used < sizeof db->error - 1) {
            int n = snprintf(db->error + used, sizeof db->error - used, "%s%.*s",
                             used > 0 ? "; " : "", len, line);
            used = n < 0 ? used : used + (size_t)n;
        }
        line = end != NULL ? end + 1 : NULL;
    }
    if (db->error[0] == '\0')
        snprintf(db->error, sizeof db->error, "unknown error");
    db->sqlstate[0] = '\0';
    db->position = 0;
}

void db_on_notice(struct db *db, void (*fn)(void *arg, const char *severity, const char *message),
                  void *arg)
{
    db->notice = fn;
    db->notice_arg = arg;
}

void db_on_reconnect(struct db *db, void (*fn)(void *arg), void *arg)
{
    db->reconnected = fn;
    db->reconnected_arg = arg;
}

void db_on_wait(struct db *db, void (*fn)(void *arg), void *arg, int interval_ms)
{
    db->waiting = fn;
    db->waiting_arg = arg;
    db->waiting_interval_ms = interval_ms > 0 ? interval_ms : 1;
}

/* libpq's notice receiver: hand the notice to the handle's function, if any. */
static void db_receive_notice(void *arg, const PGresult *res)
{
    struct db *db = arg;
    char message[512];
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (db->notice == NULL || primary == NULL)
        return;
    snprintf(message, sizeof message, "%s", primary);
    message[strcspn(message, "\n")] = '\0';
    db->notice(db->notice_arg, severity != NULL ? severity : "NOTICE", message);
}

/*
 * The SQLSTATEs of a failure of the moment (db_last_error_transient):
 * class 08 (connection exception) and 53 (insufficient resources), and
 * query_canceled (the statement timeout), lock_not_available,
 * read_only_sql_transaction (a standby: after a failover),
 * serialization_failure, deadlock_detected, and the server shutting down
 * or starting (57P01..57P03).
 */
static bool sqlstate_transient(const char *state)
{
    static const char *const states[] = { "57014", "55P03", "25006", "40001", "40P01",
                                          "57P01", "57P02", "57P03" };
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0)
        return true;
    for (size_t i = 0; i < ARRAY_LEN(states); i++) {
        if (strcmp(state, states[i]) == 0)
            return true;
    }
    return false;
}

/*
 * Wait until the connection's socket is ready for events, or until
 * deadline (stepup_now_ms; 0: none) has passed: 1 ready, 0 timed out, -1
 * no socket or poll failed.  The handle's db_on_wait function is called
 * every interval meanwhile.
 */
static int db_wait_socket(struct db *db, short events, long long deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline > 0) {
            long long left = deadline - stepup_now_ms();
            if (left <= 0)
                return 0;
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }
        if (db->waiting != NULL && (timeout < 0 || timeout > db->waiting_interval_ms))
            timeout = db->waiting_interval_ms;
        struct pollfd pfd = { .fd = PQsocket(db->conn), .events = events };
        if (pfd.fd < 0)
            return -1;
        int n = poll(&pfd, 1, timeout);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
        if (n == 0 && db->waiting != NULL)
            db->waiting(db->waiting_arg);
    }
}

/* A cancel request on its way (db_cancel), owned by the thread that sends it. */
struct db_cancel_request {
    PGcancel *cancel;
    char ref[CRYPTO_UUID_LEN + 1];
};

/* The thread of a cancel request: send it, log when it could not be, free it. */
static void *db_cancel_send(void *arg)
{
    struct db_cancel_request *c = arg;
    char err[256] = "";
    if (!PQcancel(c->cancel, err, sizeof err))
        log_msg(LOG_WARN, c->ref[0] != '\0' ? c->ref : NULL,
                "database: cannot send the cancel request: %s", err);
    PQfreeCancel(c->cancel);
    free(c);
    return NULL;
}

/*
 * Ask the server to cancel the statement running on the connection,
 * without waiting.  PQcancel connects to the server and then waits, with
 * no time limit, until the server has read the request: a server that
 * stopped answering (a paused machine, a stopped process: its kernel
 * still accepts the connection) would hold the caller for as long as it
 * is stopped.  So the request is sent by a detached thread of its own,
 * which ends when the server reads it or the connection fails, and the
 * caller waits for the statement's result only DB_CANCEL_GRACE_MS more.
 * At most one such thread is stuck per connection the server stopped
 * answering, since a new connection to it cannot be made (its
 * connect_timeout).  Logged when it cannot be sent.
 */
static void db_cancel(struct db *db, const char *ref)
{
    struct db_cancel_request *c = calloc(1, sizeof *c);
    pthread_attr_t attr;
    pthread_t thread;
    if (c == NULL || (c->cancel = PQgetCancel(db->conn)) == NULL) {
        log_msg(LOG_WARN, ref, "database: cannot make the cancel request: %s",
                c == NULL ? "out of memory" : "no connection");
        free(c);
        return;
    }
    snprintf(c->ref, sizeof c->ref, "%s", ref != NULL ? ref : "");
    bool started = pthread_attr_init(&attr) == 0;
    if (started) {
        started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&thread, &attr, db_cancel_send, c) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        log_msg(LOG_WARN, ref, "database: cannot start the thread of the cancel request");
        PQfreeCancel(c->cancel);
        free(c);
    }
}

/*
 * The results of what was just sent on the connection, every one read:
 * the last, which is the one that tells (as PQexec's), or NULL when there
 * was none.  The wait lasts at most the statement timeout; past it the
 * statement is cancelled (its result is then the server's error 57014,
 * which db_check notes), and when the server does not answer the cancel
 * within DB_CANCEL_GRACE_MS either, NULL is returned with the error
 * noted (transient: the server may be unreachable).  Either way the
 * connection is dropped afterwards (db_finish): a cancel request names a
 * server process, not a statement, and one sent by a thread of its own
 * (db_cancel) may reach the server late, after the statement it was for,
 * and cancel the next call's instead (seen: a request answered 503 in
 * 10 ms, right after a timeout on its connection).
 */
static PGresult *db_await(struct db *db, const char *ref, const char *what, bool *cancelled)
{
    long long deadline = db->statement_timeout_ms > 0 ?
                             stepup_now_ms() + db->statement_timeout_ms : 0;
    PGresult *last = NULL, *next;

    *cancelled = false;
    for (;;) {
        /* Read what has arrived; PQgetResult does not block while not busy. */
        while (!PQisBusy(db->conn)) {
            next = PQgetResult(db->conn);
            if (next == NULL)
                return last;
            PQclear(last);
            last = next;
        }
        int ready = db_wait_socket(db, POLLIN, deadline);
        if (ready > 0) {
            if (PQconsumeInput(db->conn))
                continue;
            break; /* the connection broke: PQgetResult tells without blocking */
        }
        if (ready < 0)
            break;
        if (!*cancelled) {
            log_msg(LOG_WARN, ref, "database: %s ran past db_statement_timeout_ms (%d ms): "
                    "cancelling it", what, db->statement_timeout_ms);
            db_cancel(db, ref);
            *cancelled = true;
            deadline = stepup_now_ms() + DB_CANCEL_GRACE_MS;
            continue;
        }
        PQclear(last);
        snprintf(db->error, sizeof db->error, "%s ran past db_statement_timeout_ms (%d ms) and "
                 "the server did not answer its cancel", what, db->statement_timeout_ms);
        snprintf(db->sqlstate, sizeof db->sqlstate, "57014");
        db->position = 0;
        db->transient = true;
        log_msg(LOG_ERROR, ref, "database: %s", db->error);
        return NULL;
    }
    while ((next = PQgetResult(db->conn)) != NULL) {
        PQclear(last);
        last = next;
    }
    return last;
}

static db_result *db_check(struct db *db, const char *ref, const char *what, PGresult *res);

/*
 * The outcome of what was just sent (db_await, then db_check): its result
 * when it succeeded, else NULL with the failure noted and logged.  After
 * a cancel the connection is dropped, whatever the outcome (db_await
 * says why), and the next call makes a new one.
 */
static db_result *db_finish(struct db *db, const char *ref, const char *what)
{
    bool cancelled;
    PGresult *res = db_await(db, ref, what, &cancelled);
    if (!cancelled)
        return db_check(db, ref, what, res);
    db_result *out = res != NULL ? db_check(db, ref, what, res) : NULL;
    db_disconnect(db);
    db->lost = true;
    if (out == NULL)
        db->transient = true;
    return out;
}

/*
 * Run sql (no parameters) on the open connection during its set-up, as
 * the calls are run: STEPUP_OK, or STEPUP_ERR logged.
 */
static int db_setup_exec(struct db *db, const char *what, const char *sql)
{
    if (!PQsendQuery(db->conn, sql)) {
        (void)db_check(db, NULL, what, NULL);
        return STEPUP_ERR;
    }
    PGresult *res = db_finish(db, NULL, what);
    if (res == NULL)
        return STEPUP_ERR;
    PQclear(res);
    return STEPUP_OK;
}

/*
 * After every connect, unless the handle keeps no session state
 * (db_options.prepare): pin an empty search_path, so every name must be
 * schema-qualified and nothing can be shadowed (pg_catalog is still
 * searched first), then prepare the handle's statements.
 */
static int db_setup(struct db *db)
{
    char sql[DB_SQL_MAX];
    if (!db->prepare)
        return STEPUP_OK;
    if (db_setup_exec(db, "search_path", "SELECT pg_catalog.set_config('search_path', '', false)") !=
        STEPUP_OK)
        return STEPUP_ERR;
    for (size_t i = 0; i < db->nstatements; i++) {
        const struct db_statement *st = db->statements[i];
        if (db_statement_sql(st, sql, sizeof sql) != STEPUP_OK) {
            log_msg(LOG_ERROR, NULL, "bug: the SQL of %s is too long or has a strange name",
                    st->name);
            return STEPUP_ERR;
        }
        if (!PQsendPrepare(db->conn, st->name, sql, 0, NULL)) {
            (void)db_check(db, NULL, st->name, NULL);
            return STEPUP_ERR;
        }
        PGresult *res = db_finish(db, NULL, st->name);
        if (res == NULL) {
            log_msg(LOG_ERROR, NULL, "database: cannot prepare %s", st->name);
            return STEPUP_ERR;
        }
        PQclear(res);
    }
    return STEPUP_OK;
}

/* Issue LISTEN for the remembered channel, if any, on the open connection. */
static int db_listen_now(struct db *db)
{
    if (db->listen_channel == NULL)
        return STEPUP_OK;
    char *quoted = PQescapeIdentifier(db->conn, db->listen_channel, strlen(db->listen_channel));
    if (quoted == NULL) {
        db_note_error(db, PQerrorMessage(db->conn), NULL);
        return STEPUP_ERR;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "LISTEN %s", quoted);
    PQfreemem(quoted);
    return db_setup_exec(db, "LISTEN", sql);
}

/*
 * True when the server has closed an idle connection: a restart or a
 * failover ends every backend, each saying so (57P01) and hanging up, and
 * libpq notices only when it next reads.  A readable idle socket is that,
 * or a notification or notice; reading it tells which.  One poll(2) with
 * no wait, so a restart of the database costs no request a 503.
 */
static bool db_peer_closed(struct db *db)
{
    for (int i = 0; i < 4; i++) { /* the goodbye, then the end of the stream */
        struct pollfd pfd = { .fd = PQsocket(db->conn), .events = POLLIN };
        if (pfd.fd < 0)
            return true;
        int n = poll(&pfd, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK)
            return true;
    }
    return false;
}

/*
 * A new connection: conninfo, with the handle's connect_timeout (per host,
 * in libpq) unless conninfo sets its own (it is expanded after it).
 */
static PGconn *db_connect(const struct db *db)
{
    char timeout[16];
    const char *keys[] = { "connect_timeout", "dbname", NULL };
    const char *values[] = { timeout, db->conninfo, NULL };
    snprintf(timeout, sizeof timeout, "%d", db->connect_timeout_seconds);
    int skip = db->connect_timeout_seconds > 0 ? 0 : 1;
    return PQconnectdbParams(keys + skip, values + skip, 1);
}

int db_ensure(struct db *db, char *errbuf, size_t errlen)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK) {
        if (!db_peer_closed(db))
            return STEPUP_OK;
        log_msg(LOG_WARN, NULL, "database: the server closed the connection; connecting again");
        db->lost = true;
    }
    db_disconnect(db);

    long long now = stepup_now_ms();
    if (db->last_attempt != 0 && now - db->last_attempt < db->retry_seconds * 1000LL) {
        db->transient = true;
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "%s", db->error);
        return STEPUP_ERR; /* too soon to try again: fail fast */
    }

    db->conn = db_connect(db);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        db_note_connect_error(db, db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory");
        log_msg(LOG_ERROR, NULL, "database: cannot connect: %s", db->error);
        goto failed;
    }
    PQsetNoticeReceiver(db->conn, db_receive_notice, db);
    if (db_setup(db) != STEPUP_OK || db->conn == NULL || db_listen_now(db) != STEPUP_OK)
        goto failed;
    if (db->last_attempt != 0 || db->lost) {
        log_msg(LOG_INFO, NULL, "database: connected again");
        if (db->reconnected != NULL)
            db->reconnected(db->reconnected_arg);
    }
    db->last_attempt = 0;
    db->lost = false;
    return STEPUP_OK;

failed:
    db_disconnect(db);
    db->last_attempt = now;
    db->transient = true;
    if (errbuf != NULL)
        snprintf(errbuf, errlen, "%s", db->error);
    return STEPUP_ERR;
}

bool db_connected(const struct db *db)
{
    return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

/*
 * Check a result: keep it when it carries rows or a completed command,
 * otherwise log, free and return NULL, noting whether the failure is of
 * the moment (db_last_error_transient).  A broken connection, or one to
 * a server that refuses writes (a standby, after a failover), is dropped
 * so that the next db_ensure connects again.
 */
static db_result *db_check(struct db *db, const char *ref, const char *what, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        db->error[0] = '\0';
        db->sqlstate[0] = '\0';
        db->position = 0;
        db->transient = false;
        return res;
    }
    db_note_error(db, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn), res);
    if (db->error[0] == '\0')
        db_note_error(db, PQerrorMessage(db->conn), res);
    log_msg(LOG_ERROR, ref, "database: %s failed: %s%s%s", what, db->error,
            db->sqlstate[0] != '\0' ? " SQLSTATE " : "", db->sqlstate);
    PQclear(res);
    bool broken = PQstatus(db->conn) != CONNECTION_OK;
    db->transient = broken || sqlstate_transient(db->sqlstate);
    if (broken || strcmp(db->sqlstate, "25006") == 0) {
        /* The next call connects at once; a failed connect starts the wait. */
        db_disconnect(db);
        db->lost = true;
    }
    return NULL;
}

/* True when st is one of the statements prepared on this handle's connections. */
static bool db_prepared(const struct db *db, const struct db_statement *st)
{
    if (!db->prepare)
        return false;
    for (size_t i = 0; i < db->nstatements; i++) {
        if (db->statements[i] == st)
            return true;
    }
    return false;
}

/* An unset argument is a programming error (db.h): abort, connected or not. */
static void db_call_complete(const struct db_call *c, const char *ref)
{
    const struct db_statement *st = c->st;
    for (size_t i = 0; i < st->nargs; i++) {
        if (!c->set[i]) {
            log_msg(LOG_ERROR, ref, "bug: %s: argument %s was not set", st->name, st->args[i].name);
            abort();
        }
    }
}

/*
 * Send a call on a usable connection: the statement prepared on this
 * handle, or its text with the call's parameters (an unnamed statement).
 * False when nothing could be sent.
 */
static bool db_send_call(struct db *db, const char *ref, const struct db_call *c)
{
    const struct db_statement *st = c->st;
    if (db_prepared(db, st))
        return PQsendQueryPrepared(db->conn, st->name, (int)st->nargs, c->values, c->lengths,
                                   c->formats, 0) == 1;
    char sql[DB_SQL_MAX];
    if (db_statement_sql(st, sql, sizeof sql) != STEPUP_OK) {
        log_msg(LOG_ERROR, ref, "bug: the SQL of %s is too long or has a strange name", st->name);
        return false;
    }
    return PQsendQueryParams(db->conn, sql, (int)st->nargs, NULL, c->values, c->lengths,
                             c->formats, 0) == 1;
}

db_result *db_run(struct db *db, const char *ref, struct db_call *c)
{
    db_call_complete(c, ref);
    if (db_ensure(db, NULL, 0) != STEPUP_OK)
        return NULL;
    if (!db_send_call(db, ref, c))
        return db_check(db, ref, c->st->name, NULL);
    return db_finish(db, ref, c->st->name);
}

int db_script(struct db *db, const char *ref, const char *sql)
{
    if (db_ensure(db, NULL, 0) != STEPUP_OK)
        return STEPUP_ERR;
    if (!PQsendQuery(db->conn, sql)) {
        (void)db_check(db, ref, "script", NULL);
        return STEPUP_ERR;
    }
    PGresult *res = db_finish(db, ref, "script");
    if (res == NULL)
        return STEPUP_ERR;
    PQclear(res);
    return STEPUP_OK;
}

int db_listen(struct db *db, const char *channel)
{
    char *copy = strdup(channel);
    if (copy == NULL || strlen(channel) > 63) {
        free(copy);
        return STEPUP_ERR;
    }
    free(db->listen_channel);
    db->listen_channel = copy;
    if (!db_connected(db))
        return db_ensure(db, NULL, 0); /* connecting listens */
    return db_listen_now(db);
}

/* Consume every queued notification; the number consumed. */
static int db_drain_notifies(struct db *db)
{
    PGnotify *n;
    int count = 0;
    while ((n = PQnotifies(db->conn)) != NULL) {
        PQfreemem(n);
        count++;
    }
    return count;
}

/* Sleep up to timeout_ms (interrupted by an unblocked signal). */
static void db_sleep(int timeout_ms, const sigset_t *unblock)
{
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    (void)ppoll(NULL, 0, &ts, unblock);
}

int db_wait_notify(struct db *db, int timeout_ms, const sigset_t *unblock)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (db_ensure(db, NULL, 0) != STEPUP_OK) {
        db_sleep(timeout_ms, unblock);
        return STEPUP_ERR;
    }
    /* Notifications that arrived with earlier results are queued already. */
    if (PQconsumeInput(db->conn) == 0)
        goto broken;
    if (db_drain_notifies(db) > 0)
        return 1;

    struct pollfd pfd = { .fd = PQsocket(db->conn), .events = POLLIN };
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    if (pfd.fd < 0)
        goto broken;
    int n = ppoll(&pfd, 1, &ts, unblock);
    if (n < 0)
        return errno == EINTR ? 0 : STEPUP_ERR;
    if (n == 0)
        return 0;
    if (PQconsumeInput(db->conn) == 0)
        goto broken;
    return db_drain_notifies(db) > 0 ? 1 : 0;

broken:
    db_note_error(db, PQerrorMessage(db->conn), NULL);
    db->transient = true;
    log_msg(LOG_ERROR, NULL, "database: connection lost while waiting: %s", db->error);
    db_disconnect(db);
    db->lost = true;
    return STEPUP_ERR;
}

const char *db_last_error(const struct db *db)
{
    return db->error;
}

const char *db_last_sqlstate(const struct db *db)
{
    return db->sqlstate;
}

bool db_last_error_transient(const struct db *db)
{
    return db->transient;
}

int db_last_error_position(const struct db *db)
{
    return db->position;
}

int db_rows(const db_result *r)
{
    return PQntuples(r);
}

/* The column number of column in r, or -1 (logged: a bug). */
static int db_column(const db_result *r, const char *column)
{
    int col = PQfnumber(r, column);
    if (col < 0)
        log_msg(LOG_ERROR, NULL, "bug: the result has no column %s", column);
    return col;
}

const char *db_get(const db_result *r, int row, const char *column)
{
    int col = db_column(r, column);
    if (row < 0 || row >= PQntuples(r) || col < 0)
        return "";
    return PQgetvalue(r, row, col);
}

bool db_is_null(const db_result *r, int row, const char *column)
{
    int col = db_column(r, column);
    if (row < 0 || row >= PQntuples(r) || col < 0)
        return true;
    return PQgetisnull(r, row, col) != 0;
}

int db_get_bytes(const db_result *r, int row, const char *column, unsigned char *out,
                 size_t outlen, size_t *len)
{
    size_t n = 0;
    *len = 0;
    if (db_is_null(r, row, column))
        return STEPUP_ERR;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)db_get(r, row, column), &n);
    if (bytes == NULL || n > outlen) {
        if (bytes != NULL) {
            crypto_wipe(bytes, n); /* it may be a secret */
            PQfreemem(bytes);
        }
        return STEPUP_ERR;
    }
    memcpy(out, bytes, n);
    crypto_wipe(bytes, n);
    PQfreemem(bytes);
    *len = n;
    return STEPUP_OK;
}

void db_result_free(db_result *r)
{
    PQclear(r);
}
