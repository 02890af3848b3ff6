/*
 * db.h - the one place that talks to libpq.
 *
 * A struct db is one connection plus, for stepup-fcgi, the statements it
 * prepares once per connection.  Every query takes parameters; values are
 * collected in a struct db_params (text, or binary for bytea).  Results are
 * checked here and errors logged here, so callers only see "a result" or
 * "no result".  The caller owns a result and frees it with db_result_free.
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

/* A statement prepared on every new connection, addressed by name. */
struct db_statement {
    const char *name;
    const char *sql;
};

#define DB_MAX_PARAMS 16

struct db_params {
    int count;
    const char *values[DB_MAX_PARAMS];
    int lengths[DB_MAX_PARAMS];
    int formats[DB_MAX_PARAMS];
};

/* Append a text parameter (NULL for SQL NULL) or a binary one (for bytea). */
void db_param_text(struct db_params *p, const char *value);
void db_param_bytes(struct db_params *p, const void *data, size_t len);

/*
 * A handle that connects lazily.  conninfo is a libpq connection string
 * (NULL or "" for libpq's defaults and PG* environment variables);
 * statements (may be NULL) are prepared right after each connect.  Both
 * must outlive the handle.  retry_seconds limits how often a broken
 * connection is retried, so an outage does not turn every request into a
 * connect attempt.
 */
struct db *db_new(const char *conninfo, const struct db_statement *statements,
                  size_t nstatements, int retry_seconds);
void db_free(struct db *db);

/*
 * Connect (and prepare) if not connected.  STEPUP_OK when usable; on
 * failure the reason is logged and, if errbuf is given, copied there.
 */
int db_ensure(struct db *db, char *errbuf, size_t errlen) WARN_UNUSED;

/* True while the last connect or statement left a usable connection. */
bool db_connected(const struct db *db);

/*
 * Run a prepared statement / an ad-hoc parameterised statement.  Returns
 * the result on success (rows or command OK), NULL on failure (logged with
 * ref; the connection is marked for reconnect if it broke).  When the
 * server raised an error, its SQLSTATE is copied to sqlstate if given.
 */
db_result *db_run(struct db *db, const char *ref, const char *statement,
                  const struct db_params *params) WARN_UNUSED;
db_result *db_query(struct db *db, const char *ref, const char *sql,
                    const struct db_params *params) WARN_UNUSED;

/* Run a script of several statements without parameters (migrations only). */
int db_script(struct db *db, const char *ref, const char *sql) WARN_UNUSED;

/* The last error message of db_run/db_query/db_script ("" if none). */
const char *db_last_error(const struct db *db);
/* The last SQLSTATE ("" if none). */
const char *db_last_sqlstate(const struct db *db);

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
int db_cols(const db_result *r);
/* The text value of a cell; "" for NULL (use db_is_null to tell). */
const char *db_value(const db_result *r, int row, int col);
bool db_is_null(const db_result *r, int row, int col);
/* Column number of a named column, or -1. */
int db_col(const db_result *r, const char *name);
void db_result_free(db_result *r);

#endif
