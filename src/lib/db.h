/*
 * db.h - the one place that talks to libpq.
 *
 * A struct db is one connection plus the statements it prepares once per
 * connection.  Every connection pins an empty search_path (names must be
 * schema-qualified; nothing can be shadowed), as PostgreSQL's own client
 * programs do.  Results are checked here and errors logged here, so callers
 * only see "a result" or "no result".  The caller owns a result and frees
 * it with db_result_free.
 *
 * The contract with SQL is by name.  A struct db_statement describes one
 * call: the function, each argument's name and type (spelled once, here),
 * and, for a function that returns a single value, the name its result is
 * read by.  The SQL text is made from the description, in named notation:
 *
 *   SELECT * FROM stepup.api_logout(p_api_key_hash => $1::bytea,
 *                                   p_token_hash => $2::bytea) AS outcome
 *
 * A caller sets each argument by its name (db_arg_*) and reads each column
 * by its name (db_get); naming an argument the description lacks, setting
 * one twice, with the wrong kind of value, or running a call with one
 * unset is a programming error: the process aborts, so that any test of
 * the caller catches it.
 *
 * Nothing outside db.c includes libpq-fe.h.
 */
#ifndef STEPUP_DB_H
#define STEPUP_DB_H

#include <signal.h>
#include <stdbool.h>
#include "common.h"

struct db;
struct pg_result; /* libpq's PGresult */
typedef struct pg_result db_result;

#define DB_MAX_ARGS 16

/* The SQL types of arguments: all sent as text, but bytea (binary). */
enum db_type { DB_TEXT, DB_BYTEA, DB_UUID, DB_INET, DB_INT, DB_BIGINT, DB_BOOL, DB_JSONB,
               DB_UUID_ARRAY, DB_TEXT_ARRAY };

struct db_arg_def {
    const char *name; /* the function's parameter name (p_token_hash) */
    enum db_type type;
};

/*
 * One statement.  Either function (qualified: "stepup.api_gate"), called
 * with every argument of args in named notation, or sql, a statement of its
 * own whose $1, $2... are args in order (for the few calls that are no
 * function of ours, such as pg_notify).  result names the column of a
 * function that returns one value (NULL for one that returns a table,
 * whose columns keep their names).  name is the prepared statement's name
 * (and what the log says failed).
 */
struct db_statement {
    const char *name;
    const char *function;
    const char *sql;
    const char *result;
    const struct db_arg_def *args;
    size_t nargs;
};

#define DB_ARGS(a) .args = (a), .nargs = ARRAY_LEN(a)

/* The arguments of one call of a statement, filled by name. */
struct db_call {
    const struct db_statement *st;
    const char *values[DB_MAX_ARGS];
    int lengths[DB_MAX_ARGS];
    int formats[DB_MAX_ARGS];
    bool set[DB_MAX_ARGS];
    char scratch[DB_MAX_ARGS][24]; /* text of numbers and booleans */
};

/* Start a call of st (no argument set yet). */
void db_call_init(struct db_call *c, const struct db_statement *st);
/* Set argument name: text (NULL for SQL NULL), bytes (bytea), a number, a boolean. */
void db_arg_text(struct db_call *c, const char *name, const char *value);
void db_arg_bytes(struct db_call *c, const char *name, const void *data, size_t len);
void db_arg_int(struct db_call *c, const char *name, long long value);
void db_arg_bool(struct db_call *c, const char *name, bool value);
void db_arg_null(struct db_call *c, const char *name);

/*
 * The SQL text of st into buf (for preparing, and for the unit tests).
 * STEPUP_ERR when it does not fit.
 */
int db_statement_sql(const struct db_statement *st, char *buf, size_t buflen) WARN_UNUSED;

/*
 * How a handle reaches the server.  conninfo is a libpq connection string
 * (NULL or "" for libpq's defaults and PG* environment variables; a
 * multi-host string with target_session_attrs=read-write follows a
 * failover).  retry_seconds limits how often a broken connection is
 * retried, so an outage does not turn every request into a connect
 * attempt.  connect_timeout_seconds bounds each attempt per host (libpq's
 * connect_timeout, which conninfo may set itself; 0: libpq's default, no
 * limit).  statement_timeout_ms bounds each call: past it the call is
 * cancelled (a cancel request, which PgBouncer passes on too, sent
 * without waiting for the server to take it) and fails with SQLSTATE
 * 57014, or, when the server does not answer the cancel within
 * DB_CANCEL_GRACE_MS, fails all the same (0: no limit); so a call never
 * lasts much longer than statement_timeout_ms + DB_CANCEL_GRACE_MS, even
 * against a server that stopped answering.  The connection of a
 * cancelled call is dropped, and the next call makes a new one: a cancel
 * that reached the server late would cancel whatever ran there next.
 * prepare: the statements of db_new are prepared once per connection and
 * the session's search_path is pinned; false keeps no state in the
 * server's session at all (PgBouncer in transaction pooling mode, whose
 * server connections serve other clients between transactions): every
 * call is sent with its text, as an unnamed statement, and the names in
 * it are schema-qualified anyway.
 */
struct db_options {
    const char *conninfo;
    int retry_seconds;
    int connect_timeout_seconds;
    int statement_timeout_ms;
    bool prepare;
};
#define DB_CANCEL_GRACE_MS 1000

/* True when a and b reach the server the same way (the same text of conninfo). */
bool db_options_equal(const struct db_options *a, const struct db_options *b);

/*
 * A handle that connects lazily, with o (conninfo is copied).  statements
 * (may be NULL) are prepared right after each connect when o->prepare,
 * and calls of other statements are sent with their text each time; they
 * must outlive the handle.
 */
struct db *db_new(const struct db_options *o, const struct db_statement *const *statements,
                  size_t nstatements);
void db_free(struct db *db);

/*
 * Where the server's notices and warnings go: fn(arg, severity, message)
 * for each (severity "WARNING", "NOTICE", ...; message without its
 * newline).  By default they are dropped.
 */
void db_on_notice(struct db *db, void (*fn)(void *arg, const char *severity, const char *message),
                  void *arg);

/*
 * Call fn(arg) each time db_ensure connects again after a lost connection
 * or a failed attempt (what it logs as "connected again"), in the thread
 * that called db_ensure: stepup-fcgi counts reconnects for GET /metrics.
 */
void db_on_reconnect(struct db *db, void (*fn)(void *arg), void *arg);

/*
 * Call fn(arg) every interval_ms while a call waits for the server's
 * answer, in the thread that waits, so that work of the caller's that must
 * not stall meanwhile goes on: stepup-sender drives its HTTP sends, whose
 * answers would otherwise wait unread while the database is slow, and be
 * taken for timeouts (then sent again).  fn must not use db.
 */
void db_on_wait(struct db *db, void (*fn)(void *arg), void *arg, int interval_ms);

/*
 * Connect (and prepare) if not connected.  STEPUP_OK when usable; on
 * failure the reason is logged and, if errbuf is given, copied there.
 */
int db_ensure(struct db *db, char *errbuf, size_t errlen) WARN_UNUSED;

/* True while the last connect or statement left a usable connection. */
bool db_connected(const struct db *db);

/*
 * Run a call whose every argument is set.  Returns the result on success
 * (rows or command OK), NULL on failure (logged with ref; the connection
 * is marked for reconnect if it broke).  When the server raised an error,
 * db_last_error and db_last_sqlstate tell what it said.
 */
db_result *db_run(struct db *db, const char *ref, struct db_call *c) WARN_UNUSED;

/* Run a script of statements without parameters (stepupctl migrate only). */
int db_script(struct db *db, const char *ref, const char *sql) WARN_UNUSED;

/*
 * The last error message of db_run/db_script ("" if none), its SQLSTATE,
 * and where in the statement's text it arose (a character position from
 * 1; 0 when the server did not say).
 */
const char *db_last_error(const struct db *db);
const char *db_last_sqlstate(const struct db *db);
int db_last_error_position(const struct db *db);

/*
 * True when the last call failed for a reason of the moment rather than
 * of the call: the connection was lost, the call was cancelled (the
 * statement timeout) or waited too long for a lock, the server is
 * shutting down, starting up or out of resources, a serialization
 * failure or deadlock, or the server is a standby that refuses writes (a
 * failover happened: the connection is then dropped, so the next call
 * finds the new primary).  Such a call was rolled back, or, when the
 * connection was lost after it was sent, may or may not have committed;
 * stepup-fcgi answers it 503, and trying again later can work.  False
 * after a success and for every other error (a bug, a missing function:
 * stepup-fcgi answers 500).
 */
bool db_last_error_transient(const struct db *db);

/*
 * LISTEN on channel (an identifier, quoted here) now, and again after every
 * reconnect, for stepup-sender.  One channel per handle; the name is
 * copied.  STEPUP_ERR when the LISTEN failed now (logged); the channel is
 * remembered all the same, so the next reconnect listens.
 */
int db_listen(struct db *db, const char *channel) WARN_UNUSED;

/*
 * Wait up to timeout_ms for a notification on the channel of db_listen,
 * reconnecting first if the connection was lost.  Returns 1 when at least
 * one arrived (every queued notification is consumed: they only wake the
 * caller), 0 on timeout or when a signal interrupted the wait, STEPUP_ERR
 * when there is no usable connection (the wait still lasts timeout_ms, so
 * a caller's loop does not spin while the database is away).  With
 * unblock, the signal mask is unblock during the wait only (ppoll): a
 * caller that blocks its signals elsewhere sees them exactly here.
 */
int db_wait_notify(struct db *db, int timeout_ms, const sigset_t *unblock) WARN_UNUSED;

int db_rows(const db_result *r);
/*
 * The text value of a column of a row, by the column's name; "" for NULL
 * (db_is_null tells).  A column the result does not have is a bug: it is
 * logged and "" returned (NULL is true), so the caller answers with an
 * error rather than crash.
 */
const char *db_get(const db_result *r, int row, const char *column);
bool db_is_null(const db_result *r, int row, const char *column);
/*
 * A bytea column's bytes into out (at most outlen) and their number into
 * *len, decoded from whichever text form the server sends (bytea_output
 * hex or escape).  STEPUP_ERR for NULL, no such column, or too many bytes.
 */
int db_get_bytes(const db_result *r, int row, const char *column, unsigned char *out,
                 size_t outlen, size_t *len) WARN_UNUSED;
void db_result_free(db_result *r);

#endif
