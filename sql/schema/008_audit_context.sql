-- 008_audit_context.sql - every change writes its audit event, with the
-- request it came from.
--
-- The functions that make a change now append their events to
-- stepup.audit_log (sql/schema/007_audit_log.sql) in their own
-- transaction, through stepup.audit_event.  Those that did not know the
-- request they serve now take its context as well: p_request_ref (the
-- request-ref header), p_client_addr and p_user_agent; verify_failure,
-- which writes the lock-out, takes the session and challenge besides.  A
-- failed login is recorded by a call of its own after the password check
-- (api_login_failed, new).  Nothing here changes a table.
--
-- Upgrading: a stepup-fcgi built before this step calls the old
-- signatures, which are gone; restart it with the new one after migrate.

-- ---------------------------------------------------------------------------
-- Functions whose arguments change (their new definitions are in
-- sql/functions/).
DROP FUNCTION IF EXISTS stepup.call_begin(bytea, bytea, text, text, bytea);
DROP FUNCTION IF EXISTS stepup.verify_failure(uuid, uuid);
DROP FUNCTION IF EXISTS stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea, bytea);
DROP FUNCTION IF EXISTS stepup.api_login_lookup(bytea, text, inet);
DROP FUNCTION IF EXISTS stepup.api_logout(bytea, bytea);
DROP FUNCTION IF EXISTS stepup.api_gate(bytea, integer, text, boolean);
