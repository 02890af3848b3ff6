-- The audit log's rules (its tables: sql/schema/007_audit_log.sql).
--
--   audit_event               writes one event; every function that makes a
--                             change calls it in its own transaction;
--   audit_limit_refused       the event of a 429, in one shape (and its count
--                             for GET /metrics: 55_api_metrics.sql);
--   audit_log_refuse_change   the trigger that keeps the log append-only;
--   audit_partitions          the log's partitions and their bounds;
--   audit_partitions_ensure   makes the months ahead, for ctl_partitions
--                             (stepupctl partitions) and
--                             sender_audit_partitions (the sealer, hourly);
--   sender_audit_pending      what the sealer seals next;
--   sender_audit_seal         records a seal the sealer signed;
--   ctl_partitions            stepupctl partitions;
--   ctl_audit_purge           drops whole months that are sealed
--                             (stepupctl audit purge).
-- The sealer and stepupctl audit verify hash an event from the columns
-- of sender_audit_pending / audit.events in one order (src/lib/audit.c).

-- ---------------------------------------------------------------------------
-- audit_event: one row of stepup.audit_log.  No SET: it runs inside the
-- callers' SECURITY DEFINER functions, once or twice a request.
-- PL/pgSQL, not SQL: its plan is kept for the connection's lifetime (an
-- SQL function that cannot be inlined, as an INSERT cannot, is planned
-- again at every call: measured here, 125 against 24 microseconds).
-- Callers pass every argument but the first two by name.
CREATE OR REPLACE FUNCTION stepup.audit_event(p_event text, p_programme_id uuid,
                                              p_user_id uuid DEFAULT NULL,
                                              p_session_id uuid DEFAULT NULL,
                                              p_challenge_id uuid DEFAULT NULL,
                                              p_request_ref text DEFAULT NULL,
                                              p_client_addr inet DEFAULT NULL,
                                              p_user_agent text DEFAULT NULL,
                                              p_detail jsonb DEFAULT '{}',
                                              p_identity_id uuid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO stepup.audit_log (event, programme_id, identity_id, user_id, session_id,
                                  challenge_id, request_ref, client_addr, user_agent, detail)
    VALUES (p_event, p_programme_id,
            coalesce(p_identity_id,
                     (SELECT u.identity_id FROM stepup.users u WHERE u.id = p_user_id)),
            p_user_id, p_session_id, p_challenge_id, p_request_ref, p_client_addr, p_user_agent,
            coalesce(p_detail, '{}'));
END
$$;
COMMENT ON FUNCTION stepup.audit_event(text, uuid, uuid, uuid, uuid, text, inet, text, jsonb, uuid) IS
    'Internal: appends one event to stepup.audit_log (the identity is the user''s unless given).';

-- audit_limit_refused: the event of a request a rate limit refused (429),
-- in one shape wherever a limit is decided (call_begin's lock-outs, the
-- challenge limits of issue and enrolment, the login limits): the limit,
-- the seconds until it allows again and the operation refused.
CREATE OR REPLACE FUNCTION stepup.audit_limit_refused(p_programme_id uuid, p_user_id uuid,
                                                      p_session_id uuid, p_limit_name text,
                                                      p_retry_after integer, p_operation text,
                                                      p_request_ref text, p_client_addr inet,
                                                      p_user_agent text,
                                                      p_identity_id uuid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM stepup.audit_event('limit.refused', p_programme_id, p_user_id => p_user_id,
                               p_session_id => p_session_id, p_request_ref => p_request_ref,
                               p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                               p_detail => jsonb_build_object('limit', p_limit_name,
                                                              'retry_after', p_retry_after,
                                                              'operation', p_operation),
                               p_identity_id => p_identity_id);
    PERFORM stepup.metric_count('rate_limited', p_limit_name, ''); -- stepup_rate_limited_total
END
$$;
COMMENT ON FUNCTION stepup.audit_limit_refused(uuid, uuid, uuid, text, integer, text, text, inet,
                                               text, uuid) IS
    'Internal: appends limit.refused (the limit, retry_after and the operation) to the audit log.';

-- ---------------------------------------------------------------------------
-- audit_log_refuse_change: UPDATE, DELETE and TRUNCATE of the log and of
-- its seals are refused, superusers included.  Old months go as whole
-- partitions (ctl_audit_purge), which no row trigger sees; a superuser who
-- disables the trigger is caught by the seals instead.
CREATE OR REPLACE FUNCTION stepup.audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % of % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old months leave with stepupctl audit purge --older-than.';
END
$$;
COMMENT ON FUNCTION stepup.audit_log_refuse_change() IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE of the audit log and its seals.';

CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON stepup.audit_log
    FOR EACH ROW EXECUTE FUNCTION stepup.audit_log_refuse_change();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON stepup.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION stepup.audit_log_refuse_change();
CREATE OR REPLACE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON stepup.audit_seals
    FOR EACH ROW EXECUTE FUNCTION stepup.audit_log_refuse_change();
CREATE OR REPLACE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON stepup.audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION stepup.audit_log_refuse_change();

-- ---------------------------------------------------------------------------
-- audit_partitions: the partitions of stepup.audit_log with their bounds
-- as PostgreSQL stores them (NULL for the default partition), for
-- audit_partitions_ensure and ctl_audit_purge.
CREATE OR REPLACE FUNCTION stepup.audit_partitions()
RETURNS TABLE (rel regclass, partition_name text, from_at timestamptz, to_at timestamptz,
               is_default boolean, reltuples real)
LANGUAGE sql
STABLE
AS $$
    SELECT c.oid::regclass, c.relname::text,
           (regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                         'FROM \(''([^'']*)''\)'))[1]::timestamptz,
           (regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                         'TO \(''([^'']*)''\)'))[1]::timestamptz,
           pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT',
           c.reltuples
      FROM pg_catalog.pg_inherits i
      JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'stepup.audit_log'::regclass;
$$;
COMMENT ON FUNCTION stepup.audit_partitions() IS
    'Internal: the audit log''s partitions and their bounds (NULL for the default partition).';

-- ---------------------------------------------------------------------------
-- audit_partitions_ensure: the monthly partitions of stepup.audit_log from
-- this month to p_months ahead, made where missing.  Returns every month
-- partition with its range and rows (estimated), and whether it was made
-- now; last, the default partition, whose rows (counted) should be none.
CREATE OR REPLACE FUNCTION stepup.audit_partitions_ensure(p_months integer)
RETURNS TABLE (partition_name text, from_at timestamptz, to_at timestamptz, estimated_rows bigint,
               created boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    -- months are UTC months, whatever the caller's TimeZone
    v_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    v_name text;
    v_made text[] := '{}';
BEGIN
    IF p_months IS NULL OR p_months < 0 OR p_months > 120 THEN
        RAISE EXCEPTION 'months ahead must be 0..120' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0..p_months LOOP
        v_name := 'audit_log_' || to_char(v_month + make_interval(months => i), 'YYYY_MM');
        IF to_regclass('stepup.' || v_name) IS NULL THEN
            EXECUTE format('CREATE TABLE stepup.%I PARTITION OF stepup.audit_log '
                           'FOR VALUES FROM (%L) TO (%L)', v_name,
                           (v_month + make_interval(months => i)) AT TIME ZONE 'UTC',
                           (v_month + make_interval(months => i + 1)) AT TIME ZONE 'UTC');
            v_made := v_made || v_name;
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT p.partition_name, p.from_at, p.to_at,
           CASE WHEN p.is_default THEN (SELECT count(*) FROM stepup.audit_log_default)
                ELSE greatest(p.reltuples, 0)::bigint END,
           p.partition_name = ANY (v_made)
      FROM audit_partitions() p
     ORDER BY p.is_default, p.partition_name;
END
$$;
COMMENT ON FUNCTION stepup.audit_partitions_ensure(integer) IS
    'Makes the audit log''s monthly partitions up to N months ahead; lists them all.';

-- sender_audit_partitions: the sealer's call of audit_partitions_ensure.
CREATE OR REPLACE FUNCTION stepup.sender_audit_partitions(p_months integer)
RETURNS TABLE (partition_name text, from_at timestamptz, to_at timestamptz, estimated_rows bigint,
               created boolean)
LANGUAGE sql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT * FROM audit_partitions_ensure(p_months);
$$;
COMMENT ON FUNCTION stepup.sender_audit_partitions(integer) IS
    'stepup-sender''s sealer: makes the audit log''s monthly partitions up to N months ahead; lists them.';
GRANT EXECUTE ON FUNCTION stepup.sender_audit_partitions(integer) TO stepup_sender;

-- ---------------------------------------------------------------------------
-- sender_audit_pending: the events the next seal covers, in one snapshot.
--
-- The next seal starts where the last one ended (xact_from; 0 before the
-- first) and ends at the oldest transaction still running (xact_to): every
-- transaction before it has ended, so the events of [xact_from, xact_to)
-- are final.  Up to p_limit events, by (xact_id, seq); each row also
-- carries the chain's tip (seal_no and digest of the last seal) and the
-- range.  When p_limit rows come back the sealer seals only the
-- transactions it has whole.  No rows: nothing to seal.
CREATE OR REPLACE FUNCTION stepup.sender_audit_pending(p_limit integer)
RETURNS TABLE (tip_seal_no bigint, tip_digest bytea, xact_from xid8, xact_to xid8, seq bigint,
               at_us bigint, xact_id xid8, event text, programme_id uuid, identity_id uuid,
               user_id uuid, session_id uuid, challenge_id uuid, request_ref text,
               client_addr inet, user_agent text, actor text, detail jsonb)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    WITH tip AS (
        SELECT s.seal_no, s.digest, s.xact_to
          FROM audit_seals s
         ORDER BY s.seal_no DESC
         LIMIT 1
    ), range AS (
        SELECT coalesce((SELECT t.seal_no FROM tip t), 0) AS seal_no,
               (SELECT t.digest FROM tip t) AS digest,
               coalesce((SELECT t.xact_to FROM tip t), '0'::xid8) AS xact_from,
               pg_snapshot_xmin(pg_current_snapshot()) AS xact_to
    )
    SELECT r.seal_no, r.digest, r.xact_from, r.xact_to, e.seq,
           (extract(epoch FROM e.at) * 1000000)::bigint, e.xact_id, e.event, e.programme_id,
           e.identity_id, e.user_id, e.session_id, e.challenge_id, e.request_ref, e.client_addr,
           e.user_agent, e.actor, e.detail
      FROM range r
      JOIN audit_log e ON e.xact_id >= r.xact_from AND e.xact_id < r.xact_to
     ORDER BY e.xact_id, e.seq
     LIMIT greatest(p_limit, 1);
$$;
COMMENT ON FUNCTION stepup.sender_audit_pending(integer) IS
    'stepup-sender''s sealer: the chain''s tip and up to N events of the transactions ended since the last seal.';
GRANT EXECUTE ON FUNCTION stepup.sender_audit_pending(integer) TO stepup_sender;

-- sender_audit_seal: record a seal (the xid8 bounds as text, which is how
-- stepup-sender has them).  It must extend the tip (seal_no one
-- more, xact_from its xact_to, prev_digest its digest); when another
-- sealer got there first, false and nothing written.
CREATE OR REPLACE FUNCTION stepup.sender_audit_seal(p_seal_no bigint, p_xact_from text,
                                                    p_xact_to text, p_first_at_us bigint,
                                                    p_last_at_us bigint, p_event_count integer,
                                                    p_entries bytea, p_prev_digest bytea,
                                                    p_digest bytea, p_signature bytea,
                                                    p_key_id text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_tip record;
BEGIN
    -- one sealer at a time ("stepupal" as a 64-bit number)
    PERFORM pg_advisory_xact_lock(8319385945341190508);
    SELECT s.seal_no, s.xact_to, s.digest INTO v_tip
      FROM audit_seals s ORDER BY s.seal_no DESC LIMIT 1;
    IF p_seal_no <> coalesce(v_tip.seal_no, 0) + 1
       OR p_xact_from::xid8 <> coalesce(v_tip.xact_to, '0'::xid8)
       OR p_prev_digest <> coalesce(v_tip.digest, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) THEN
        RETURN false;
    END IF;
    INSERT INTO audit_seals (seal_no, xact_from, xact_to, first_at, last_at, event_count, entries,
                             prev_digest, digest, signature, key_id)
    VALUES (p_seal_no, p_xact_from::xid8, p_xact_to::xid8,
            to_timestamp(p_first_at_us / 1000000.0), to_timestamp(p_last_at_us / 1000000.0),
            p_event_count, p_entries, p_prev_digest, p_digest, p_signature, p_key_id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION stepup.sender_audit_seal(bigint, text, text, bigint, bigint, integer, bytea,
                                             bytea, bytea, bytea, text) IS
    'stepup-sender''s sealer: records a signed seal that extends the chain; false when it no longer does.';
GRANT EXECUTE ON FUNCTION stepup.sender_audit_seal(bigint, text, text, bigint, bigint, integer,
                                                   bytea, bytea, bytea, bytea, text)
    TO stepup_sender;

-- ---------------------------------------------------------------------------
-- ctl_partitions: stepupctl partitions [--months N]: audit_partitions_ensure,
-- one JSON object per partition.
CREATE OR REPLACE FUNCTION stepup.ctl_partitions(p_months integer)
RETURNS TABLE (doc jsonb)
LANGUAGE sql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('partition', p.partition_name, 'from', p.from_at, 'to', p.to_at,
                              CASE WHEN p.from_at IS NULL THEN 'rows' ELSE 'estimatedRows' END,
                              p.estimated_rows, 'created', p.created)
      FROM audit_partitions_ensure(p_months) p;
$$;
COMMENT ON FUNCTION stepup.ctl_partitions(integer) IS
    'stepupctl partitions: makes the audit log''s months ahead; one JSON object per partition.';
GRANT EXECUTE ON FUNCTION stepup.ctl_partitions(integer) TO stepup_operator;

-- ---------------------------------------------------------------------------
-- ctl_audit_purge: stepupctl audit purge --older-than DURATION.  Drops the
-- monthly partitions that end at least p_older_than_seconds ago, when
-- every event in them is sealed (else nothing is dropped and the error
-- says why).  The drop is itself an event, audit.purged, naming the time
-- before which events may be missing; stepupctl audit verify accepts
-- exactly those absences.  Returns {"before", "dropped": [{"partition",
-- "events"}], "events"}.
CREATE OR REPLACE FUNCTION stepup.ctl_audit_purge(p_older_than_seconds bigint)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_before timestamptz;
    v_sealed_to xid8;
    v_unsealed bigint;
    v_events bigint;
    v_horizon timestamptz;
    v_dropped jsonb := '[]';
    v_names text[] := '{}';
    v_total bigint := 0;
BEGIN
    IF p_older_than_seconds IS NULL OR p_older_than_seconds < 86400 THEN
        RAISE EXCEPTION 'audit purge keeps at least a day: --older-than must be 1d or more'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_before := now() - make_interval(secs => p_older_than_seconds);
    SELECT s.xact_to INTO v_sealed_to FROM audit_seals s ORDER BY s.seal_no DESC LIMIT 1;
    FOR r IN
        SELECT p.rel, p.partition_name AS name, p.to_at
          FROM audit_partitions() p
         WHERE NOT p.is_default
         ORDER BY p.to_at
    LOOP
        CONTINUE WHEN r.to_at IS NULL OR r.to_at > v_before;
        EXECUTE format('SELECT count(*) FILTER (WHERE $1 IS NULL OR xact_id >= $1), count(*) FROM %s',
                       r.rel)
           INTO v_unsealed, v_events USING v_sealed_to;
        IF v_unsealed > 0 THEN
            RAISE EXCEPTION '% holds % events not sealed yet: nothing was dropped', r.name, v_unsealed
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'The sealer runs in stepup-sender when audit_key_file is set.';
        END IF;
        EXECUTE format('DROP TABLE %s', r.rel);
        v_dropped := v_dropped || jsonb_build_object('partition', r.name, 'events', v_events);
        v_names := v_names || r.name;
        v_total := v_total + v_events;
        v_horizon := greatest(v_horizon, r.to_at);
    END LOOP;
    IF v_horizon IS NOT NULL THEN
        PERFORM audit_event('audit.purged', NULL,
                            p_detail => jsonb_build_object('before', v_horizon, 'partitions', v_names,
                                                           'events', v_total));
    END IF;
    RETURN jsonb_build_object('before', v_horizon, 'dropped', v_dropped, 'events', v_total);
END
$$;
COMMENT ON FUNCTION stepup.ctl_audit_purge(bigint) IS
    'stepupctl audit purge: drops the sealed monthly partitions of the audit log that ended N seconds ago or earlier.';
GRANT EXECUTE ON FUNCTION stepup.ctl_audit_purge(bigint) TO stepup_operator;
