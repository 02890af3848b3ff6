/*
 * statements.c - the calls of stepup-fcgi.  See statements.h.
 */
#include "../lib/common.h"
#include "statements.h"

/* Every call that authenticates a caller starts with these two. */
#define CALLER_ARGS { "p_api_key_hash", DB_BYTEA }, { "p_token_hash", DB_BYTEA }
/* Every call that writes an audit event also takes the request's context (api_context_args). */
#define CONTEXT_ARGS \
    { "p_request_ref", DB_TEXT }, { "p_client_addr", DB_INET }, { "p_user_agent", DB_TEXT }

const struct db_statement stmt_health = { .name = "health", .sql = "SELECT 1" };

static const struct db_arg_def authenticate_args[] = {
    CALLER_ARGS, { "p_allow_impersonation", DB_BOOL },
};
const struct db_statement stmt_authenticate = {
    .name = "authenticate", .function = "stepup.api_authenticate", DB_ARGS(authenticate_args),
};

static const struct db_arg_def login_lookup_args[] = {
    { "p_api_key_hash", DB_BYTEA }, { "p_email", DB_TEXT }, CONTEXT_ARGS,
};
const struct db_statement stmt_login_lookup = {
    .name = "login_lookup", .function = "stepup.api_login_lookup", DB_ARGS(login_lookup_args),
};

static const struct db_arg_def login_session_args[] = {
    { "p_api_key_hash", DB_BYTEA }, { "p_user_id", DB_UUID }, { "p_token_hash", DB_BYTEA },
    CONTEXT_ARGS,
};
const struct db_statement stmt_login_session = {
    .name = "login_session", .function = "stepup.api_login_session", DB_ARGS(login_session_args),
};

static const struct db_arg_def login_failed_args[] = {
    { "p_api_key_hash", DB_BYTEA }, { "p_user_id", DB_UUID }, { "p_outcome", DB_TEXT },
    CONTEXT_ARGS,
};
const struct db_statement stmt_login_failed = {
    .name = "login_failed", .function = "stepup.api_login_failed", .result = "outcome",
    DB_ARGS(login_failed_args),
};

static const struct db_arg_def caller_args[] = { CALLER_ARGS };
static const struct db_arg_def caller_context_args[] = { CALLER_ARGS, CONTEXT_ARGS };
const struct db_statement stmt_logout = {
    .name = "logout", .function = "stepup.api_logout", .result = "outcome",
    DB_ARGS(caller_context_args),
};

/* Issuing a step-up code and an enrolment code take the same arguments. */
static const struct db_arg_def otp_issue_args[] = {
    CALLER_ARGS,
    { "p_channel", DB_TEXT }, { "p_operation", DB_TEXT }, { "p_idem_ref", DB_TEXT },
    { "p_request_hash", DB_BYTEA }, { "p_challenge_id", DB_UUID }, { "p_code_hash", DB_BYTEA },
    { "p_sandbox_code_hash", DB_BYTEA }, { "p_code_sealed", DB_BYTEA }, { "p_key_id", DB_TEXT },
    { "p_seal_key_id", DB_TEXT }, { "p_sealed_to", DB_TEXT }, CONTEXT_ARGS,
};
const struct db_statement stmt_issue_challenge = {
    .name = "issue_challenge", .function = "stepup.api_issue_challenge", DB_ARGS(otp_issue_args),
};
static const struct db_arg_def destination_args[] = {
    { "p_token_hash", DB_BYTEA }, { "p_purpose", DB_TEXT }, { "p_channel", DB_TEXT },
};
const struct db_statement stmt_issue_destination = {
    .name = "issue_destination", .function = "stepup.api_issue_destination",
    .result = "destination", DB_ARGS(destination_args),
};
const struct db_statement stmt_enrol_factor = {
    .name = "enrol_factor", .function = "stepup.api_enrol_factor", DB_ARGS(otp_issue_args),
};

static const struct db_arg_def verify_args[] = {
    CALLER_ARGS,
    { "p_purpose", DB_TEXT }, { "p_channel", DB_TEXT }, { "p_operation", DB_TEXT },
    { "p_idem_ref", DB_TEXT }, { "p_request_hash", DB_BYTEA }, { "p_code_hashes", DB_BYTEA },
    { "p_key_ids", DB_TEXT_ARRAY }, CONTEXT_ARGS,
};
const struct db_statement stmt_verify_challenge = {
    .name = "verify_challenge", .function = "stepup.api_verify_challenge", DB_ARGS(verify_args),
};

const struct db_statement stmt_factors = {
    .name = "factors", .function = "stepup.api_factors", DB_ARGS(caller_args),
};

static const struct db_arg_def gate_args[] = {
    { "p_token_hash", DB_BYTEA }, { "p_max_age_seconds", DB_INT }, { "p_gate", DB_TEXT },
    { "p_allow_sandbox", DB_BOOL }, { "p_audit_refusal", DB_BOOL }, CONTEXT_ARGS,
};
const struct db_statement stmt_gate = {
    .name = "gate", .function = "stepup.api_gate", DB_ARGS(gate_args),
};

const struct db_statement stmt_wake_sender = {
    .name = "api_wake_sender", .function = "stepup.api_wake_sender",
};

const struct db_statement stmt_metrics = { .name = "metrics", .function = "stepup.api_metrics" };

const struct db_statement *const stepup_statements[] = {
    &stmt_health, &stmt_authenticate, &stmt_login_lookup, &stmt_login_session,
    &stmt_login_failed, &stmt_logout,
    &stmt_issue_challenge, &stmt_issue_destination, &stmt_enrol_factor, &stmt_verify_challenge,
    &stmt_factors, &stmt_gate, &stmt_metrics,
};
const size_t stepup_nstatements = ARRAY_LEN(stepup_statements);
