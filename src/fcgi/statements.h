/*
 * statements.h - the calls stepup-fcgi makes, each prepared once per
 * worker connection.  Each is one call of a stepup.api_* function
 * (sql/functions/40_api_*.sql), so that a request costs one round trip:
 * the function does the reads, locks and writes (its audit events
 * included), the C side does HTTP, JSON and cryptography.  Every
 * function's arguments are named here, once (see db.h); handlers set them
 * and read the results by name.
 */
#ifndef STEPUP_STATEMENTS_H
#define STEPUP_STATEMENTS_H

#include <stddef.h>
#include "../lib/db.h"

extern const struct db_statement stmt_health;          /* SELECT 1 */
extern const struct db_statement stmt_authenticate;    /* api_authenticate */
extern const struct db_statement stmt_login_lookup;    /* api_login_lookup */
extern const struct db_statement stmt_login_session;   /* api_login_session */
extern const struct db_statement stmt_login_failed;    /* api_login_failed -> outcome */
extern const struct db_statement stmt_logout;          /* api_logout -> outcome */
extern const struct db_statement stmt_issue_challenge; /* api_issue_challenge */
extern const struct db_statement stmt_enrol_factor;    /* api_enrol_factor (same arguments) */
extern const struct db_statement stmt_issue_destination; /* api_issue_destination -> destination */
extern const struct db_statement stmt_verify_challenge; /* api_verify_challenge */
extern const struct db_statement stmt_factors;         /* api_factors */
extern const struct db_statement stmt_gate;            /* api_gate */
extern const struct db_statement stmt_wake_sender;     /* NOTIFY stepup_outbox (waker.c's own) */
extern const struct db_statement stmt_metrics;         /* api_metrics */

extern const struct db_statement *const stepup_statements[];
extern const size_t stepup_nstatements;

#endif
