/*
 * db.c - the one place that talks to libpq.  See db.h.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "db.h"
#include "log.h"

struct db {
    PGconn *conn;
    char *conninfo;
    const struct db_statement *statements;
    size_t nstatements;
    int retry_seconds;
    time_t last_attempt; /* of a connect that failed; 0 when none */
    char *listen_channel; /* LISTENed to after every connect (db_listen); NULL: none */
    char error[256];
    char sqlstate[6];
};

void db_param_text(struct db_params *p, const char *value)
{
    if (p->count >= DB_MAX_PARAMS)
        abort(); /* a programming error, caught by any test of the caller */
    p->values[p->count] = value;
    p->lengths[p->count] = 0;
    p->formats[p->count] = 0;
    p->count++;
}

void db_param_bytes(struct db_params *p, const void *data, size_t len)
{
    if (p->count >= DB_MAX_PARAMS)
        abort();
    p->values[p->count] = data;
    p->lengths[p->count] = (int)len;
    p->formats[p->count] = 1;
    p->count++;
}

struct db *db_new(const char *conninfo, const struct db_statement *statements,
                  size_t nstatements, int retry_seconds)
{
    struct db *db = calloc(1, sizeof *db);
    if (db == NULL)
        return NULL;
    db->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (db->conninfo == NULL) {
        free(db);
        return NULL;
    }
    db->statements = statements;
    db->nstatements = nstatements;
    db->retry_seconds = retry_seconds;
    return db;
}

static void db_disconnect(struct db *db)
{
    if (db->conn != NULL) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
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

/* Remember the error of a failed operation: message (first line) and SQLSTATE. */
static void db_note_error(struct db *db, const char *message, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(db->error, sizeof db->error, "%s", message != NULL ? message : "unknown error");
    db->error[strcspn(db->error, "\n")] = '\0';
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state != NULL ? state : "");
}

/* Silence libpq's default notice printer; notices are not errors. */
static void db_ignore_notice(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/*
 * For a handle with prepared statements (stepup-fcgi): pin an empty
 * search_path, so every name must be schema-qualified and nothing can be
 * shadowed, then prepare the statements.  The operator's ad-hoc handle
 * keeps the server's search_path.
 */
static int db_setup(struct db *db)
{
    if (db->nstatements == 0)
        return STEPUP_OK;
    PGresult *res = PQexec(db->conn, "SELECT pg_catalog.set_config('search_path', '', false)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_note_error(db, PQerrorMessage(db->conn), res);
        PQclear(res);
        return STEPUP_ERR;
    }
    PQclear(res);
    for (size_t i = 0; i < db->nstatements; i++) {
        res = PQprepare(db->conn, db->statements[i].name, db->statements[i].sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            db_note_error(db, PQresultErrorMessage(res), res);
            log_msg(LOG_ERROR, NULL, "database: cannot prepare %s: %s", db->statements[i].name,
                    db->error);
            PQclear(res);
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
    PGresult *res = PQexec(db->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        db_note_error(db, PQresultErrorMessage(res), res);
        log_msg(LOG_ERROR, NULL, "database: LISTEN %s failed: %s", db->listen_channel, db->error);
        PQclear(res);
        return STEPUP_ERR;
    }
    PQclear(res);
    return STEPUP_OK;
}

int db_ensure(struct db *db, char *errbuf, size_t errlen)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
        return STEPUP_OK;
    db_disconnect(db);

    time_t now = time(NULL);
    if (db->last_attempt != 0 && now - db->last_attempt < db->retry_seconds) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "%s", db->error);
        return STEPUP_ERR; /* too soon to try again: fail fast */
    }

    db->conn = PQconnectdb(db->conninfo);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        db_note_error(db, db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory", NULL);
        log_msg(LOG_ERROR, NULL, "database: cannot connect: %s", db->error);
        goto failed;
    }
    PQsetNoticeReceiver(db->conn, db_ignore_notice, NULL);
    if (db_setup(db) != STEPUP_OK || db_listen_now(db) != STEPUP_OK)
        goto failed;
    if (db->last_attempt != 0)
        log_msg(LOG_INFO, NULL, "database: connected again");
    db->last_attempt = 0;
    return STEPUP_OK;

failed:
    db_disconnect(db);
    db->last_attempt = now;
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
 * otherwise log, free and return NULL.  A broken connection is dropped so
 * that the next db_ensure reconnects.
 */
static db_result *db_check(struct db *db, const char *ref, const char *what, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        db->error[0] = '\0';
        db->sqlstate[0] = '\0';
        return res;
    }
    db_note_error(db, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn), res);
    if (db->error[0] == '\0')
        db_note_error(db, PQerrorMessage(db->conn), res);
    log_msg(LOG_ERROR, ref, "database: %s failed: %s%s%s", what, db->error,
            db->sqlstate[0] != '\0' ? " SQLSTATE " : "", db->sqlstate);
    PQclear(res);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_disconnect(db);
        db->last_attempt = time(NULL);
    }
    return NULL;
}

db_result *db_run(struct db *db, const char *ref, const char *statement,
                  const struct db_params *params)
{
    if (db_ensure(db, NULL, 0) != STEPUP_OK)
        return NULL;
    PGresult *res = PQexecPrepared(db->conn, statement, params != NULL ? params->count : 0,
                                   params != NULL ? params->values : NULL,
                                   params != NULL ? params->lengths : NULL,
                                   params != NULL ? params->formats : NULL, 0);
    return db_check(db, ref, statement, res);
}

db_result *db_query(struct db *db, const char *ref, const char *sql,
                    const struct db_params *params)
{
    if (db_ensure(db, NULL, 0) != STEPUP_OK)
        return NULL;
    PGresult *res = PQexecParams(db->conn, sql, params != NULL ? params->count : 0, NULL,
                                 params != NULL ? params->values : NULL,
                                 params != NULL ? params->lengths : NULL,
                                 params != NULL ? params->formats : NULL, 0);
    return db_check(db, ref, "query", res);
}

int db_script(struct db *db, const char *ref, const char *sql)
{
    if (db_ensure(db, NULL, 0) != STEPUP_OK)
        return STEPUP_ERR;
    db_result *res = db_check(db, ref, "script", PQexec(db->conn, sql));
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
    log_msg(LOG_ERROR, NULL, "database: connection lost while waiting: %s", db->error);
    db_disconnect(db);
    db->last_attempt = time(NULL);
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

int db_rows(const db_result *r)
{
    return PQntuples(r);
}

int db_cols(const db_result *r)
{
    return PQnfields(r);
}

const char *db_value(const db_result *r, int row, int col)
{
    if (row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r))
        return "";
    return PQgetvalue(r, row, col);
}

bool db_is_null(const db_result *r, int row, int col)
{
    if (row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r))
        return true;
    return PQgetisnull(r, row, col) != 0;
}

int db_col(const db_result *r, const char *name)
{
    return PQfnumber(r, name);
}

void db_result_free(db_result *r)
{
    PQclear(r);
}
