-- Rate limits and lock-outs (tables: sql/schema/006_abuse_limits.sql).
--
-- A request is counted by the limits that count it only when it would
-- otherwise succeed, in the same transaction as its own work: limits_take
-- counts it against each of its limits or, when one is reached, against
-- none, and names that limit; the caller then answers RATE_LIMITED (429)
-- and does nothing else.  Windows are fixed and aligned to the epoch
-- (limit_window_start), so the seconds until a refused request would be
-- allowed are exact (x-ratelimit-reset).  A lock-out (verify-failures-per-
-- user) is a row of stepup.lockouts; lockout_refusal finds the one that
-- holds.  The SQL helpers without a SET clause are inlined into their
-- callers; the PL/pgSQL ones have none either (a SET clause costs every
-- call) and name everything in full.

-- programme_limit: a programme's effective limit: its own row of
-- programme_limits, else the kind's default; max_count NULL: off.  No row
-- for a name that is no limit.
CREATE OR REPLACE FUNCTION stepup.programme_limit(p_programme_id uuid, p_name text)
RETURNS TABLE (max_count integer, period_seconds integer, shards smallint)
LANGUAGE sql
STABLE
AS $$
    SELECT CASE WHEN l.limit_name IS NULL THEN k.default_count ELSE l.max_count END,
           CASE WHEN l.limit_name IS NULL THEN k.default_seconds ELSE l.period_seconds END,
           k.shards
      FROM stepup.limit_kinds k
      LEFT JOIN stepup.programme_limits l
        ON l.programme_id = p_programme_id AND l.limit_name = k.name
     WHERE k.name = p_name;
$$;
COMMENT ON FUNCTION stepup.programme_limit(uuid, text) IS
    'Internal: a programme''s effective value of a rate limit (its own, else the default); max_count NULL = off.';

-- limit_text: a limit as stepupctl writes it: "10/15m", "off".
CREATE OR REPLACE FUNCTION stepup.limit_text(p_count integer, p_seconds integer)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN p_count IS NULL THEN 'off'
                WHEN p_seconds % 86400 = 0 THEN p_count || '/' || p_seconds / 86400 || 'd'
                WHEN p_seconds % 3600 = 0 THEN p_count || '/' || p_seconds / 3600 || 'h'
                WHEN p_seconds % 60 = 0 THEN p_count || '/' || p_seconds / 60 || 'm'
                ELSE p_count || '/' || p_seconds || 's' END;
$$;
COMMENT ON FUNCTION stepup.limit_text(integer, integer) IS
    'Internal: a limit as COUNT/PERIOD (10/15m) or off.';

-- limit_window_start: the start of the current window of a period: windows
-- are aligned to the epoch (a 1h window starts on the hour, UTC).
CREATE OR REPLACE FUNCTION stepup.limit_window_start(p_seconds integer)
RETURNS timestamptz
LANGUAGE sql
STABLE
AS $$
    SELECT pg_catalog.to_timestamp(floor(extract(epoch FROM now()) / p_seconds) * p_seconds);
$$;
COMMENT ON FUNCTION stepup.limit_window_start(integer) IS
    'Internal: start of the current fixed window of p_seconds (aligned to the epoch).';

-- limit_shard: which counter row of a sharded limit this connection writes.
CREATE OR REPLACE FUNCTION stepup.limit_shard(p_shards smallint)
RETURNS smallint
LANGUAGE sql
STABLE
AS $$
    SELECT CASE WHEN p_shards > 1 THEN (pg_catalog.pg_backend_pid() % p_shards)::smallint
                ELSE 0::smallint END;
$$;
COMMENT ON FUNCTION stepup.limit_shard(smallint) IS
    'Internal: the counter shard of this database connection (0 for an unsharded limit).';

-- The subjects limits count.  An e-mail address as the SHA-256 of its
-- lower-case form (what was typed at login: an unknown address counts
-- like a known one); an IPv6 address by its /64, which one subscriber
-- usually holds whole; a number's prefix as its country code (ITU-T E.164
-- codes are prefix-free: 1 and 7 have one digit, the 2-digit codes are
-- listed, every other has three) and p_digits more digits.
CREATE OR REPLACE FUNCTION stepup.limit_email_subject(p_email text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT encode(sha256(convert_to(lower(p_email), 'UTF8')), 'hex');
$$;
COMMENT ON FUNCTION stepup.limit_email_subject(text) IS
    'Internal: what login-failures-per-user counts for an e-mail address (SHA-256 of its lower case, hex).';

CREATE OR REPLACE FUNCTION stepup.limit_address_subject(p_addr inet)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN family(p_addr) = 6 THEN network(set_masklen(p_addr, 64))::text
                ELSE host(p_addr) END;
$$;
COMMENT ON FUNCTION stepup.limit_address_subject(inet) IS
    'Internal: what login-per-address counts for a client address (an IPv4 address, an IPv6 /64).';

CREATE OR REPLACE FUNCTION stepup.limit_prefix_subject(p_mobile text, p_digits integer)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT left(p_mobile,
                1 + CASE WHEN p_mobile ~ '^\+[17]' THEN 1
                         WHEN p_mobile ~ '^\+(2[07]|3[0-469]|4[013-9]|5[1-8]|6[0-6]|8[1246]|9[0-58])'
                         THEN 2
                         ELSE 3 END
                  + p_digits);
$$;
COMMENT ON FUNCTION stepup.limit_prefix_subject(text, integer) IS
    'Internal: the prefix challenges-per-prefix counts: + country code and p_digits digits.';

-- limit_retry_after: the whole seconds until p_until, at least 1 (what
-- x-ratelimit-reset and Retry-After say).
CREATE OR REPLACE FUNCTION stepup.limit_retry_after(p_until timestamptz)
RETURNS integer
LANGUAGE sql
STABLE
AS $$
    SELECT greatest(1, ceil(extract(epoch FROM p_until - now())))::integer;
$$;
COMMENT ON FUNCTION stepup.limit_retry_after(timestamptz) IS
    'Internal: whole seconds until a time, at least 1.';

-- limit_give: give back one hit of the current window (a login counted as
-- failed before its password was checked, which then matched).
CREATE OR REPLACE FUNCTION stepup.limit_give(p_programme_id uuid, p_name text, p_subject text)
RETURNS void
LANGUAGE sql
AS $$
    UPDATE stepup.limit_counters c SET hits = c.hits - 1
      FROM stepup.programme_limit(p_programme_id, p_name) e
     WHERE c.programme_id = p_programme_id AND c.limit_name = p_name AND c.subject = p_subject
       AND c.shard = stepup.limit_shard(e.shards)
       AND c.window_start = stepup.limit_window_start(e.period_seconds) AND c.hits > 0;
$$;
COMMENT ON FUNCTION stepup.limit_give(uuid, text, text) IS
    'Internal: takes one hit of the current window back from a limit''s counter.';

-- limits_take: count one request against the limits p_names of programme
-- p_programme_id, each for the subject of the same position in p_subjects
-- (a NULL subject, or a limit that is off, is skipped).  limit_name NULL
-- when every limit took it; else the first limit that was reached, with
-- the seconds until the request would be allowed, and no limit counted
-- it.  counted_hits, counted_max and counted_seconds are the count after
-- this request, the count allowed and the period of the last limit that
-- counted it (NULL when none did): what a caller of one limit would read
-- again (verify_failure).  A counter row stays locked from the hit to the commit, so requests
-- of one subject (a user, a number) queue there, one after the other, and
-- the count is exact; a sharded limit (over a whole programme) adds to its
-- own shard after reading the others, so it may be passed by at most one
-- request per connection racing at the moment it is reached.  One row,
-- not a set.  This runs in every issue and login, so each statement is a
-- plain index lookup: what PostgreSQL spends on a statement is mostly
-- setting up its plan's nodes, and one statement that gathered every
-- limit at once (unnest, a join and four ordered aggregates) cost more
-- than the lookups of the limits one by one.
CREATE OR REPLACE FUNCTION stepup.limits_take(p_programme_id uuid, p_names text[],
                                              p_subjects text[], OUT limit_name text,
                                              OUT limit_count integer, OUT limit_seconds integer,
                                              OUT retry_after integer, OUT counted_hits integer,
                                              OUT counted_max integer,
                                              OUT counted_seconds integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_taken integer[] := '{}'; -- positions in p_names this call has counted
    v record;
    v_window timestamptz;
    v_shard smallint;
    v_others integer;
    v_hits integer;
    j integer;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(p_names), 0) LOOP
        CONTINUE WHEN p_subjects[i] IS NULL;
        SELECT e.max_count, e.period_seconds, e.shards INTO v
          FROM stepup.programme_limit(p_programme_id, p_names[i]) e;
        CONTINUE WHEN v.max_count IS NULL; -- off, or no such limit
        v_window := stepup.limit_window_start(v.period_seconds);
        v_shard := stepup.limit_shard(v.shards);
        v_others := 0;
        IF v.shards > 1 THEN
            SELECT coalesce(sum(c.hits), 0) INTO v_others
              FROM stepup.limit_counters c
             WHERE c.programme_id = p_programme_id AND c.limit_name = p_names[i]
               AND c.subject = p_subjects[i] AND c.shard <> v_shard
               AND c.window_start = v_window;
        END IF;
        v_hits := NULL;
        IF v_others < v.max_count THEN
            INSERT INTO stepup.limit_counters AS c (programme_id, limit_name, subject, shard,
                                                    window_start, hits)
            VALUES (p_programme_id, p_names[i], p_subjects[i], v_shard, v_window, 1)
            ON CONFLICT ON CONSTRAINT limit_counters_pkey DO UPDATE
               SET hits = CASE WHEN c.window_start = excluded.window_start THEN c.hits + 1 ELSE 1 END,
                   window_start = excluded.window_start
             WHERE c.window_start <> excluded.window_start OR c.hits + v_others < v.max_count
            RETURNING c.hits INTO v_hits;
        END IF;
        IF v_hits IS NULL THEN
            FOREACH j IN ARRAY v_taken LOOP -- give back what this call took
                PERFORM stepup.limit_give(p_programme_id, p_names[j], p_subjects[j]);
            END LOOP;
            limit_name := p_names[i];
            limit_count := v.max_count;
            limit_seconds := v.period_seconds;
            retry_after := stepup.limit_retry_after(v_window + make_interval(secs => v.period_seconds));
            counted_hits := NULL;
            counted_max := NULL;
            counted_seconds := NULL;
            RETURN;
        END IF;
        v_taken := v_taken || i;
        counted_hits := v_hits;
        counted_max := v.max_count;
        counted_seconds := v.period_seconds;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stepup.limits_take(uuid, text[], text[]) IS
    'Internal: counts a request against several limits, or against none and names the one reached.';

-- challenge_limits_take: limits_take for a challenge about to be issued
-- (step-up or enrolment) to p_mobile for user p_user_id.
CREATE OR REPLACE FUNCTION stepup.challenge_limits_take(p_programme_id uuid, p_user_id uuid,
                                                        p_mobile text, p_prefix_digits integer,
                                                        OUT limit_name text,
                                                        OUT limit_count integer,
                                                        OUT limit_seconds integer,
                                                        OUT retry_after integer)
LANGUAGE plpgsql
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the connection's lifetime.
    SELECT t.limit_name, t.limit_count, t.limit_seconds, t.retry_after
      INTO limit_name, limit_count, limit_seconds, retry_after
      FROM stepup.limits_take(p_programme_id,
                       '{challenges-per-user,challenges-per-number,challenges-per-prefix,challenges-per-programme}',
                       ARRAY[p_user_id::text, p_mobile,
                             stepup.limit_prefix_subject(p_mobile, p_prefix_digits), '']) t;
END
$$;
COMMENT ON FUNCTION stepup.challenge_limits_take(uuid, uuid, text, integer) IS
    'Internal: counts a challenge per user, number, prefix and programme, or names the limit reached.';

-- lockout_refusal: the lock-out that holds for a user now (the latest to
-- end), with its limit and the seconds it still lasts; no row when none
-- holds.  A lock-out holds while its limit is on.
CREATE OR REPLACE FUNCTION stepup.lockout_refusal(p_user_id uuid)
RETURNS TABLE (limit_name text, limit_count integer, limit_seconds integer, retry_after integer)
LANGUAGE sql
STABLE
AS $$
    SELECT o.limit_name, e.max_count, e.period_seconds, stepup.limit_retry_after(o.locked_until)
      FROM stepup.lockouts o
      CROSS JOIN LATERAL stepup.programme_limit(o.programme_id, o.limit_name) e
     WHERE o.user_id = p_user_id AND o.lifted_at IS NULL AND o.locked_until > now()
       AND e.max_count IS NOT NULL
     ORDER BY o.locked_until DESC
     LIMIT 1;
$$;
COMMENT ON FUNCTION stepup.lockout_refusal(uuid) IS
    'Internal: the lock-out holding for a user now, with the seconds left; no row when none.';

-- verify_failure: count a wrong code of user p_user_id.  When it reaches
-- verify-failures-per-user the user is locked out, for the limit's period
-- doubled for each earlier lock-out within the last day (at most a day,
-- or the period if longer), and the count starts again, and the lock-out
-- is the audit event limit.locked_out (its seconds and end) of the
-- session, challenge and request that offered the code.  Whether this
-- wrong code locked the user out.  The caller holds the user's
-- verification lock (verify_lock), so the count of one user is exact
-- across sessions.
CREATE OR REPLACE FUNCTION stepup.verify_failure(p_programme_id uuid, p_user_id uuid,
                                                 p_session_id uuid, p_challenge_id uuid,
                                                 p_request_ref text, p_client_addr inet,
                                                 p_user_agent text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v record;
    v_earlier integer;
    v_seconds bigint;
BEGIN
    -- counted as every limit is: reached (refused: passed, after the
    -- operator lowered the limit; reaching it empties the counter), or
    -- not yet; the limit off counts nothing
    SELECT t.limit_name AS refused, t.limit_count, t.limit_seconds, t.counted_hits,
           t.counted_max, t.counted_seconds
      INTO v
      FROM stepup.limits_take(p_programme_id, '{verify-failures-per-user}',
                              ARRAY[p_user_id::text]) t;
    IF v.refused IS NOT NULL THEN
        v.counted_max := v.limit_count;
        v.counted_seconds := v.limit_seconds;
    ELSIF v.counted_max IS NULL OR v.counted_hits < v.counted_max THEN
        RETURN false;
    END IF;

    SELECT count(*) INTO v_earlier
      FROM stepup.lockouts o
     WHERE o.user_id = p_user_id AND o.limit_name = 'verify-failures-per-user'
       AND o.lifted_at IS NULL AND o.locked_at > now() - interval '1 day';
    v_seconds := least(v.counted_seconds::bigint << least(v_earlier, 20),
                       greatest(v.counted_seconds, 86400));
    INSERT INTO stepup.lockouts (programme_id, user_id, limit_name, locked_until)
    VALUES (p_programme_id, p_user_id, 'verify-failures-per-user',
            now() + make_interval(secs => v_seconds));
    DELETE FROM stepup.limit_counters c
     WHERE c.programme_id = p_programme_id AND c.limit_name = 'verify-failures-per-user'
       AND c.subject = p_user_id::text;
    PERFORM stepup.audit_event('limit.locked_out', p_programme_id, p_user_id => p_user_id,
                               p_session_id => p_session_id, p_challenge_id => p_challenge_id,
                               p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                               p_user_agent => p_user_agent,
                               p_detail => jsonb_build_object(
                                   'limit', 'verify-failures-per-user', 'seconds', v_seconds,
                                   'locked_until', now() + make_interval(secs => v_seconds)));
    RETURN true;
END
$$;
COMMENT ON FUNCTION stepup.verify_failure(uuid, uuid, uuid, uuid, text, inet, text) IS
    'Internal: counts a wrong code of a user and locks the user out when verify-failures-per-user is reached.';

-- verify_lock: serialise the calls of one user across all of its sessions
-- (call_begin takes it for issue, enrolment and verification; the session
-- row lock only serialises one session's) for the rest of the
-- transaction, so that no wrong code slips past the count.
CREATE OR REPLACE FUNCTION stepup.verify_lock(p_user_id uuid)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(
               pg_catalog.hashtextextended('verify-user:' || p_user_id::text, 0));
$$;
COMMENT ON FUNCTION stepup.verify_lock(uuid) IS
    'Internal: a transaction lock on one user''s calls that may count a wrong code.';

-- sender_prune_limits: delete up to p_batch counter rows whose window has
-- ended (or whose limit is off): the next hit of their subject would
-- start again from 1 anyway.  stepup-sender calls it about once a minute,
-- so that subjects seen once (an unknown e-mail address, an address) do
-- not pile up; rows being counted right now are skipped, not waited for.
-- Returns how many rows it deleted.
CREATE OR REPLACE FUNCTION stepup.sender_prune_limits(p_batch integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_deleted integer;
BEGIN
    DELETE FROM limit_counters c
     WHERE c.ctid = ANY (ARRAY(
               SELECT d.ctid
                 FROM limit_counters d
                 LEFT JOIN LATERAL programme_limit(d.programme_id, d.limit_name) e ON true
                WHERE e.max_count IS NULL
                   OR d.window_start + make_interval(secs => e.period_seconds) <= now()
                LIMIT greatest(p_batch, 0)
                  FOR UPDATE OF d SKIP LOCKED));
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION stepup.sender_prune_limits(integer) IS
    'stepup-sender: deletes up to N rate-limit counters whose window has ended; how many.';
GRANT EXECUTE ON FUNCTION stepup.sender_prune_limits(integer) TO stepup_sender;
