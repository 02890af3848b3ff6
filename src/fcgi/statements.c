/*
 * statements.c - the prepared statements of stepup-fcgi.  See statements.h.
 * The search_path is empty on these connections: names are qualified.
 */
#include "../lib/common.h"
#include "statements.h"

const struct db_statement stepup_statements[] = {
    { STMT_HEALTH, "SELECT 1" },
    { STMT_AUTHENTICATE,
      "SELECT outcome, session_id, user_id, identity_id, programme_id"
      " FROM stepup.api_authenticate($1::bytea, $2::bytea, $3::boolean)" },
    { STMT_LOGIN_LOOKUP,
      "SELECT outcome, user_id, identity_id, identity_type, role, password_hash"
      " FROM stepup.api_login_lookup($1::bytea, $2::text)" },
    { STMT_LOGIN_SESSION,
      "SELECT outcome, session_id"
      " FROM stepup.api_login_session($1::bytea, $2::uuid, $3::bytea, $4::text, $5::inet, $6::text)" },
    { STMT_LOGOUT, "SELECT stepup.api_logout($1::bytea, $2::bytea)" },
    { STMT_ISSUE_CHALLENGE,
      "SELECT outcome, replayed, outbox_id"
      " FROM stepup.api_issue_challenge($1::bytea, $2::bytea, $3::text, $4::text, $5::text,"
      " $6::bytea, $7::uuid, $8::bytea, $9::bytea, $10::bytea, $11::text, $12::inet, $13::text)" },
    { STMT_VERIFY_CHALLENGE,
      "SELECT outcome, replayed"
      " FROM stepup.api_verify_challenge($1::bytea, $2::bytea, $3::text, $4::text, $5::text,"
      " $6::text, $7::bytea, $8::bytea)" },
    { STMT_ENROL_FACTOR,
      "SELECT outcome, replayed, outbox_id"
      " FROM stepup.api_enrol_factor($1::bytea, $2::bytea, $3::text, $4::text, $5::text,"
      " $6::bytea, $7::uuid, $8::bytea, $9::bytea, $10::bytea, $11::text, $12::inet, $13::text)" },
    { STMT_FACTORS, "SELECT outcome, factors FROM stepup.api_factors($1::bytea, $2::bytea)" },
    { STMT_GATE,
      "SELECT outcome, user_id, identity_id, programme_id"
      " FROM stepup.api_gate($1::bytea, $2::integer)" },
    { STMT_NOTIFY_OUTBOX, "SELECT pg_catalog.pg_notify('stepup_outbox', $1::text)" },
};

const size_t stepup_nstatements = ARRAY_LEN(stepup_statements);
