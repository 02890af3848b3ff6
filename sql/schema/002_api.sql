-- 002_api.sql - (no schema objects)
--
-- When it landed this step defined the functions stepup-fcgi calls
-- (authenticate, login, logout, idempotency, call_begin, issue_code,
-- api_issue_challenge) and their grants.  Functions are no longer schema
-- steps: each now has one home under sql/functions/, re-applied by every
-- `stepupctl migrate`.  The step stays, empty, so that the version numbers
-- of databases migrated before that change and of new ones agree.
SELECT 1;
