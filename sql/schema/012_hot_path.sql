-- 012_hot_path: functions of the issue and verification path whose result
-- changed, dropped so that sql/functions/ creates them anew (CREATE OR
-- REPLACE cannot change a function's result).  Nothing here changes a
-- table.
--
-- call_begin returns the caller's identity too, so that the audit events
-- of a call do not look it up again, event by event; the session row is
-- written once per call, at its end (call_end, sql/functions/30_call_begin.sql).
DROP FUNCTION IF EXISTS stepup.call_begin(bytea, bytea, text, text, bytea, text, inet, text);
--
-- limits_take also says what it counted (the count, the limit and the
-- period of the last limit that counted the request), so that a wrong code
-- is counted and judged without reading the limit and its counter again
-- (verify_failure, sql/functions/20_limits.sql).
DROP FUNCTION IF EXISTS stepup.limits_take(uuid, text[], text[]);
--
-- issue_code takes the caller's identity, which its audit events record,
-- instead of looking it up for each of them.
DROP FUNCTION IF EXISTS stepup.issue_code(uuid, uuid, uuid, text, text, text, uuid, bytea, bytea,
                                          bytea, text, text, text, text, inet, text);
