-- 012_hot_path: functions of the issue and verification path whose shape
-- changed, dropped so that sql/functions/ creates them anew (CREATE OR
-- REPLACE cannot change a function's result).
--
-- call_begin returns the caller's identity too, so that the audit events
-- of a call do not look it up again, event by event; the session row is
-- written once per call, at its end (call_end, sql/functions/30_call_begin.sql).
DROP FUNCTION IF EXISTS stepup.call_begin(bytea, bytea, text, text, bytea, text, inet, text);
