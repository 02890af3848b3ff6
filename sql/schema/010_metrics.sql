-- 010_metrics.sql - the counters behind GET /metrics.
--
-- Some figures of stepup.api_metrics() (sql/functions/55_api_metrics.sql)
-- count events whose rows may be deleted later (purged challenges and
-- outbox messages take their attempts with them), and a Prometheus
-- counter must never go down: they are kept here, by the triggers and the
-- function stepup.metric_count of that file.
--
-- A counter is the sum of its shards: each database connection adds to the
-- row of its own shard (its backend pid modulo 8), so that concurrent
-- requests do not queue on one row lock until they commit.
--
-- The counters start from what the tables already hold.

CREATE TABLE stepup.metric_counts (
    metric text NOT NULL,
    label1 text NOT NULL DEFAULT '',
    label2 text NOT NULL DEFAULT '',
    shard  smallint NOT NULL,
    value  bigint NOT NULL DEFAULT 0,
    CONSTRAINT metric_counts_pkey PRIMARY KEY (metric, label1, label2, shard)
);
COMMENT ON TABLE stepup.metric_counts IS
    'Counters of GET /metrics that outlive the rows they count (read them with stepup.api_metrics()).';
COMMENT ON COLUMN stepup.metric_counts.metric IS
    'challenges_issued (label1 purpose), challenge_verifications (label1 outcome), '
    'rate_limited (label1 the limit), sms_delivery_attempts (label1 provider, label2 status).';
COMMENT ON COLUMN stepup.metric_counts.shard IS
    'Which connection''s row (backend pid modulo 8): the counter is the sum over shards.';

INSERT INTO stepup.metric_counts (metric, label1, label2, shard, value)
SELECT 'challenges_issued', c.purpose, '', 0, count(*)
  FROM stepup.challenges c GROUP BY c.purpose
UNION ALL
SELECT 'challenge_verifications', v.outcome, '', 0, count(*)
  FROM stepup.verification_attempts v GROUP BY v.outcome
UNION ALL
SELECT 'rate_limited', coalesce(a.detail ->> 'limit', ''), '', 0, count(*)
  FROM stepup.audit_log a WHERE a.event = 'limit.refused' GROUP BY 2
UNION ALL
SELECT 'sms_delivery_attempts', coalesce(s.provider, ''), s.status, 0, count(*)
  FROM stepup.sms_attempts s GROUP BY 2, 3;

REVOKE ALL ON stepup.metric_counts FROM PUBLIC;
GRANT SELECT ON stepup.metric_counts TO stepup_auditor;
