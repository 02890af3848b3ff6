/*
 * statements.h - the SQL that stepup-fcgi runs, each prepared once per
 * worker connection.  Each is one call of a function in sql/002_api.sql,
 * so that a request costs one round trip; the function does the reads,
 * locks and writes, the C side does HTTP, JSON and cryptography.
 */
#ifndef STEPUP_STATEMENTS_H
#define STEPUP_STATEMENTS_H

#include <stddef.h>
#include "../lib/db.h"

#define STMT_HEALTH "health"
#define STMT_AUTHENTICATE "authenticate"
#define STMT_LOGIN_LOOKUP "login_lookup"
#define STMT_LOGIN_SESSION "login_session"
#define STMT_LOGOUT "logout"
#define STMT_ISSUE_CHALLENGE "issue_challenge"
#define STMT_NOTIFY_OUTBOX "notify_outbox"
#define STMT_VERIFY_CHALLENGE "verify_challenge"
#define STMT_ENROL_FACTOR "enrol_factor"
#define STMT_FACTORS "factors"
#define STMT_GATE "gate"

extern const struct db_statement stepup_statements[];
extern const size_t stepup_nstatements;

#endif
