-- The database's figures of GET /metrics (the table: sql/schema/010_metrics.sql).
--
--   metric_count            adds one to a counter (this connection's shard);
--   metrics_count_insert    the trigger: a challenge was issued, a code was
--                           offered, the sender recorded an attempt;
--   api_metrics             every figure, in one call of stepup-fcgi.
-- Rate-limit refusals are counted where they are recorded, in
-- audit_limit_refused (15_audit.sql).

-- ---------------------------------------------------------------------------
-- metric_count: one more of metric (label1, label2), on the row of this
-- connection's shard (its backend pid modulo 1024: sql/schema/
-- 013_metric_shards.sql), so that concurrent transactions seldom wait for
-- each other's commit on one counter's row lock.  PL/pgSQL for its kept
-- plan; it runs inside the callers' SECURITY DEFINER functions.
CREATE OR REPLACE FUNCTION stepup.metric_count(p_metric text, p_label1 text, p_label2 text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO stepup.metric_counts AS m (metric, label1, label2, shard, value)
    VALUES (p_metric, coalesce(p_label1, ''), coalesce(p_label2, ''),
            (pg_catalog.pg_backend_pid() % 1024)::smallint, 1)
    ON CONFLICT ON CONSTRAINT metric_counts_pkey DO UPDATE SET value = m.value + 1;
END
$$;
COMMENT ON FUNCTION stepup.metric_count(text, text, text) IS
    'Internal: adds one to a counter of stepup.metric_counts (the shard of this connection).';

-- ---------------------------------------------------------------------------
-- metrics_count_insert: the trigger of the three tables whose rows the
-- counters count, one row each.  SECURITY DEFINER: whoever inserts (the
-- API's functions, the sender's, an operator) counts, without a right on
-- the table.
CREATE OR REPLACE FUNCTION stepup.metrics_count_insert() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    CASE TG_TABLE_NAME
    WHEN 'challenges' THEN
        PERFORM metric_count('challenges_issued', NEW.purpose, '');
    WHEN 'verification_attempts' THEN
        PERFORM metric_count('challenge_verifications', NEW.outcome, '');
    WHEN 'sms_attempts' THEN
        PERFORM metric_count('sms_delivery_attempts', NEW.provider, NEW.status);
    END CASE;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stepup.metrics_count_insert() IS
    'Trigger: counts an issued challenge by purpose, a verification attempt by outcome, a delivery '
    'attempt by provider and status (stepup.metric_counts).';
CREATE OR REPLACE TRIGGER challenges_metrics AFTER INSERT ON stepup.challenges
    FOR EACH ROW EXECUTE FUNCTION stepup.metrics_count_insert();
CREATE OR REPLACE TRIGGER verification_attempts_metrics AFTER INSERT ON stepup.verification_attempts
    FOR EACH ROW EXECUTE FUNCTION stepup.metrics_count_insert();
CREATE OR REPLACE TRIGGER sms_attempts_metrics AFTER INSERT ON stepup.sms_attempts
    FOR EACH ROW EXECUTE FUNCTION stepup.metrics_count_insert();

-- ---------------------------------------------------------------------------
-- api_metrics: GET /metrics.  One row per figure: the counters of
-- metric_counts summed over their shards, and the outbox's depth (its
-- PENDING and SENDING messages, both always present; the partial index
-- sms_outbox_due holds exactly those), ordered by metric and labels.
-- stepup-fcgi names, types and renders them (src/fcgi/api_metrics.c).
CREATE OR REPLACE FUNCTION stepup.api_metrics()
RETURNS TABLE (metric text, label1 text, label2 text, value bigint)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT f.metric, f.label1, f.label2, f.value
      FROM (SELECT m.metric, m.label1, m.label2, sum(m.value)::bigint AS value
              FROM metric_counts m
             GROUP BY m.metric, m.label1, m.label2
            UNION ALL
            SELECT 'outbox_messages', s.status, '',
                   (SELECT count(*) FROM sms_outbox o
                     WHERE o.status IN ('PENDING', 'SENDING') AND o.status = s.status)
              FROM (VALUES ('PENDING'), ('SENDING')) AS s (status)) f
     ORDER BY f.metric, f.label1, f.label2;
$$;
COMMENT ON FUNCTION stepup.api_metrics() IS
    'GET /metrics: the counters of stepup.metric_counts and the outbox depth by status, one row each.';
GRANT EXECUTE ON FUNCTION stepup.api_metrics() TO stepup_app;
