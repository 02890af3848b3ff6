-- 013_metric_shards: the counters of GET /metrics spread over 1024 shards
-- (a connection's backend pid modulo 1024), not 8 (metric_count,
-- sql/functions/55_api_metrics.sql).  With 8, two of four connections
-- shared a shard more often than not (59%), and the second waited for the
-- first's commit on that counter's row lock: under load the count of an
-- issued challenge took 290 microseconds on average, almost all of it
-- waiting, and four senders recording batches of results at once queued
-- on their delivery counters past the statement timeout (tools/bench's
-- four-sender row ran slower than its two-sender one).  Nothing here
-- changes a table: the existing rows stay where they are, the sums over
-- shards stay exact, and a counter now has at most one row per shard that
-- a connection used.
COMMENT ON COLUMN stepup.metric_counts.shard IS
    'Which connection''s row (backend pid modulo 1024): the counter is the sum over shards.';
