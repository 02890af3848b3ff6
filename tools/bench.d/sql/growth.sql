-- growth.sql - the history of tools/bench's growth rows: months of past
-- challenges, as real rows of stepup's tables, generated in SQL.
--
-- Made by tools/bench, as the owner of the schema, in the growth cluster
-- only (schema bench; needs data.sql).  bench.growth_plan records what is
-- asked for (challenges, users, months) and when the history starts, so
-- that several workers (bench.growth_generate, each in its own session)
-- and a run resumed after an interruption agree; bench.growth_done
-- records each finished batch.
--
-- What a challenge k of the history (1..challenges, oldest first, spread
-- evenly from `months` months ago to an hour ago) leaves, as stepup would:
--   - its session (one per two challenges: a user stepped up twice),
--     ended: logged out (every other session) or expired; users in turn
--     over the history's users (a stride coprime to their count), each
--     with an identity and an active SMS factor (bench.make_users);
--   - the challenge: 85% verified at the first code, 4% verified after one
--     wrong code, 8% expired, 3% failed after five wrong codes;
--   - its text in stepup.sms_outbox, sent and scrubbed (one in a hundred,
--     of an expired challenge, expired unsent), with its delivery attempt
--     in stepup.sms_attempts;
--   - its verification attempts in stepup.verification_attempts;
--   - its events in stepup.audit_log (issued, queued, sms.sent or
--     sms.expired_unsent, verify_failed, verified or failed; login.succeeded
--     and logout of its session), in the monthly partitions the schema
--     expects, each batch in a transaction of its own, so that the sealer
--     of a sender started later seals the history a batch at a time.
-- No trigger is disabled and nothing is unlogged: the counters of GET
-- /metrics count the history too.  Batches are small (1,000 challenges)
-- because the metrics trigger upserts one counter row per inserted row,
-- and every upsert walks the versions of that row its transaction made
-- (a transaction of n inserts costs n^2).

CREATE TABLE IF NOT EXISTS bench.growth_plan (
    only_one    boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    programme   uuid NOT NULL,
    challenges  bigint NOT NULL,
    users       bigint NOT NULL,
    months      integer NOT NULL,
    batch       integer NOT NULL,
    history_from timestamptz NOT NULL,
    history_to  timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seconds     double precision NULL,   -- generation time, once finished
    finished_at timestamptz NULL
);
CREATE TABLE IF NOT EXISTS bench.growth_done (batch bigint PRIMARY KEY);

-- The monthly partitions of stepup.audit_log from p_from's month to this
-- one, as sql/schema/007_audit_log.sql names and bounds them (UTC months);
-- `stepupctl partitions` makes the months ahead.
CREATE OR REPLACE PROCEDURE bench.growth_partitions(p_from timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    v_month timestamp := date_trunc('month', p_from AT TIME ZONE 'UTC');
    v_name text;
BEGIN
    WHILE v_month <= now() AT TIME ZONE 'UTC' LOOP
        v_name := 'audit_log_' || to_char(v_month, 'YYYY_MM');
        IF to_regclass('stepup.' || v_name) IS NULL THEN
            EXECUTE format('CREATE TABLE stepup.%I PARTITION OF stepup.audit_log '
                           'FOR VALUES FROM (%L) TO (%L)', v_name,
                           v_month AT TIME ZONE 'UTC',
                           (v_month + interval '1 month') AT TIME ZONE 'UTC');
        END IF;
        v_month := v_month + interval '1 month';
    END LOOP;
END
$$;

-- One batch: challenges p_from..p_to (p_from odd, so that a session's two
-- challenges are in one batch).
CREATE OR REPLACE PROCEDURE bench.growth_batch(p_from bigint, p_to bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    g bench.growth_plan;
    v_step interval;
BEGIN
    SELECT * INTO g FROM bench.growth_plan;
    v_step := (g.history_to - g.history_from) / g.challenges;

    -- the challenges of the batch, with everything their rows derive from
    -- (the ids once: md5 is the dearest part of a row here)
    CREATE TEMPORARY TABLE IF NOT EXISTS growth_k (
        k bigint, j bigint, t timestamptz, bucket int, ref text, addr inet, c_id uuid, s_id uuid,
        u_id uuid, i_id uuid, o_id uuid, mobile text
    ) ON COMMIT DELETE ROWS;
    INSERT INTO growth_k
    SELECT k, x.j, g.history_from + v_step * (k - 1), (k % 100)::int, gen_random_uuid()::text,
           ('10.' || (k % 200)::text || '.' || ((k / 200) % 250)::text || '.'
                  || (1 + (k / 50000) % 250)::text)::inet,
           bench.id('c', 'h', k), bench.id('s', 'hs', x.j), bench.id('u', 'h', x.u),
           bench.id('i', 'h', x.u), bench.id('o', 'h', k), bench.mobile(0, x.u)
      FROM generate_series(p_from, p_to) k
     CROSS JOIN LATERAL (SELECT (k + 1) / 2 AS j, 1 + (((k + 1) / 2) * 7919) % g.users AS u) x;

    INSERT INTO stepup.sessions (id, programme_id, user_id, token_hash, impersonation, created_at,
                                 last_seen_at, expires_at, ended_at, stepped_up_at,
                                 challenges_issued, last_challenge_at, request_ref, client_addr,
                                 user_agent)
    SELECT a.s_id, g.programme, a.u_id, bench.token_hash('hs', a.j), false,
           a.t - interval '60 seconds', coalesce(b.t, a.t) + interval '40 seconds',
           coalesce(b.t, a.t) + interval '340 seconds',
           CASE WHEN a.j % 2 = 0 THEN coalesce(b.t, a.t) + interval '120 seconds' END,
           coalesce(b.t, a.t) + interval '30 seconds', CASE WHEN b.k IS NULL THEN 1 ELSE 2 END,
           coalesce(b.t, a.t), a.ref, a.addr, 'Mozilla/5.0 (bench history)'
      FROM growth_k a
      LEFT JOIN growth_k b ON b.k = a.k + 1
     WHERE a.k % 2 = 1;

    INSERT INTO stepup.challenges (id, session_id, user_id, programme_id, purpose, channel, mobile,
                                   code_hash, key_id, sandbox, status, attempts, created_at,
                                   expires_at, ended_at, request_ref, client_addr, user_agent)
    SELECT c_id, s_id, u_id, g.programme, 'STEPUP', 'SMS', mobile, sha256(int8send(k)), 'history',
           false,
           CASE WHEN bucket < 85 OR bucket >= 96 THEN 'VERIFIED'
                WHEN bucket < 93 THEN 'EXPIRED' ELSE 'FAILED' END,
           CASE WHEN bucket >= 96 THEN 1 WHEN bucket >= 93 THEN 5 ELSE 0 END,
           t, t + interval '300 seconds',
           t + CASE WHEN bucket < 85 OR bucket >= 96 THEN interval '30 seconds'
                    WHEN bucket < 93 THEN interval '300 seconds' ELSE interval '50 seconds' END,
           ref, addr, 'Mozilla/5.0 (bench history)'
      FROM growth_k;

    INSERT INTO stepup.sms_outbox (id, challenge_id, programme_id, to_number, body_template,
                                   code_sealed, status, attempts, next_attempt_at, created_at,
                                   sent_at, ended_at, claimed_at, provider, provider_message_id,
                                   last_error, key_id)
    SELECT o_id, c_id, g.programme, mobile, NULL, NULL,
           CASE WHEN bucket = 92 THEN 'EXPIRED' ELSE 'SENT' END,
           CASE WHEN bucket = 92 THEN 0 ELSE 1 END, t + interval '1 second', t,
           CASE WHEN bucket <> 92 THEN t + interval '2 seconds' END,
           t + CASE WHEN bucket = 92 THEN interval '300 seconds' ELSE interval '2 seconds' END,
           CASE WHEN bucket <> 92 THEN t + interval '1 second' END, 'http',
           CASE WHEN bucket <> 92 THEN 'gw-' || k::text END,
           CASE WHEN bucket = 92 THEN 'challenge expired before the text was sent' END, 'history'
      FROM growth_k;

    INSERT INTO stepup.sms_attempts (outbox_id, attempt, sender, provider, started_at, duration_ms,
                                     status, http_status, provider_message_id, recorded_at)
    SELECT o_id, 1, 'bench-history:1:0', 'http', t + interval '1 second', 180, 'SENT', 200,
           'gw-' || k::text, t + interval '2 seconds'
      FROM growth_k
     WHERE bucket <> 92;

    INSERT INTO stepup.verification_attempts (challenge_id, attempted_at, matched, outcome)
    SELECT c_id, t + make_interval(secs => 10 * a), v.matched, v.outcome
      FROM growth_k
     CROSS JOIN LATERAL generate_series(1, CASE WHEN bucket < 85 THEN 1 WHEN bucket < 93 THEN 0
                                                WHEN bucket < 96 THEN 5 ELSE 2 END) a
     CROSS JOIN LATERAL (SELECT
            bucket < 85 OR (bucket >= 96 AND a = 2) AS matched,
            CASE WHEN bucket < 85 OR (bucket >= 96 AND a = 2) THEN 'OK'
                 WHEN bucket < 96 AND a = 5 THEN 'CHALLENGE_LIMIT_EXCEEDED'
                 WHEN bucket < 96 AND a = 4 THEN 'ONE_CHALLENGE_LIMIT_REMAINING'
                 ELSE 'VERIFICATION_CODE_INVALID' END AS outcome) v;

    -- The events: each challenge's (the rows of VALUES that apply to its
    -- fate), then its session's login and logout.
    INSERT INTO stepup.audit_log (at, event, programme_id, identity_id, user_id, session_id,
                                  challenge_id, request_ref, client_addr, user_agent, actor, detail)
    SELECT c.t + e.after, e.event, g.programme, c.i_id, c.u_id, c.s_id, c.c_id, c.ref, c.addr,
           'Mozilla/5.0 (bench history)', e.actor,
           CASE WHEN e.event IN ('challenge.queued', 'sms.sent', 'sms.expired_unsent')
                THEN e.detail || jsonb_build_object('outbox_id', c.o_id) ELSE e.detail END
      FROM growth_k c
      JOIN (VALUES
            (interval '0', 'challenge.issued', 'stepup_app', 0, 99,
             '{"purpose": "STEPUP", "channel": "SMS", "sandbox": false}'::jsonb),
            (interval '0', 'challenge.queued', 'stepup_app', 0, 99, '{}'::jsonb),
            (interval '2 seconds', 'sms.sent', 'stepup_sender', 0, 91,
             '{"attempt": 1, "provider": "http"}'::jsonb),
            (interval '2 seconds', 'sms.sent', 'stepup_sender', 93, 99,
             '{"attempt": 1, "provider": "http"}'::jsonb),
            (interval '300 seconds', 'sms.expired_unsent', 'stepup_sender', 92, 92,
             '{"attempts": 0, "challenge_status": "EXPIRED"}'::jsonb),
            (interval '30 seconds', 'challenge.verified', 'stepup_app', 0, 84,
             '{"purpose": "STEPUP", "channel": "SMS", "attempts": 0}'::jsonb),
            (interval '20 seconds', 'challenge.verify_failed', 'stepup_app', 96, 99,
             '{"attempts": 1, "outcome": "VERIFICATION_CODE_INVALID"}'::jsonb),
            (interval '30 seconds', 'challenge.verified', 'stepup_app', 96, 99,
             '{"purpose": "STEPUP", "channel": "SMS", "attempts": 1}'::jsonb),
            (interval '10 seconds', 'challenge.verify_failed', 'stepup_app', 93, 95,
             '{"attempts": 1, "outcome": "VERIFICATION_CODE_INVALID"}'::jsonb),
            (interval '20 seconds', 'challenge.verify_failed', 'stepup_app', 93, 95,
             '{"attempts": 2, "outcome": "VERIFICATION_CODE_INVALID"}'::jsonb),
            (interval '30 seconds', 'challenge.verify_failed', 'stepup_app', 93, 95,
             '{"attempts": 3, "outcome": "VERIFICATION_CODE_INVALID"}'::jsonb),
            (interval '40 seconds', 'challenge.verify_failed', 'stepup_app', 93, 95,
             '{"attempts": 4, "outcome": "ONE_CHALLENGE_LIMIT_REMAINING"}'::jsonb),
            (interval '50 seconds', 'challenge.verify_failed', 'stepup_app', 93, 95,
             '{"attempts": 5, "outcome": "CHALLENGE_LIMIT_EXCEEDED"}'::jsonb),
            (interval '50 seconds', 'challenge.failed', 'stepup_app', 93, 95,
             '{"attempts": 5}'::jsonb)
         ) e (after, event, actor, bucket_from, bucket_to, detail)
        ON c.bucket BETWEEN e.bucket_from AND e.bucket_to
    UNION ALL
    SELECT s.created_at + e.after, e.event, g.programme, c.i_id, c.u_id, s.id, NULL, c.ref,
           c.addr, 'Mozilla/5.0 (bench history)', 'stepup_app', '{}'::jsonb
      FROM growth_k c
      JOIN stepup.sessions s ON s.id = c.s_id
     CROSS JOIN LATERAL (VALUES (interval '0', 'login.succeeded', true),
                                (s.ended_at - s.created_at, 'logout', s.ended_at IS NOT NULL)
         ) e (after, event, present)
     WHERE c.k % 2 = 1 AND e.present;
END
$$;

-- Worker p_worker of p_workers: every p_workers-th batch not done yet,
-- each committed with its mark in bench.growth_done.  tools/bench calls
-- it with synchronous_commit off for the session (each batch still
-- reaches the disk; its commit need not wait for it).
CREATE OR REPLACE PROCEDURE bench.growth_generate(p_worker integer, p_workers integer)
LANGUAGE plpgsql
AS $$
DECLARE
    g bench.growth_plan;
    v_batches bigint;
BEGIN
    SELECT * INTO g FROM bench.growth_plan;
    v_batches := (g.challenges + g.batch - 1) / g.batch;
    FOR b IN 0..v_batches - 1 LOOP
        CONTINUE WHEN b % p_workers <> p_worker
                   OR EXISTS (SELECT 1 FROM bench.growth_done d WHERE d.batch = b);
        CALL bench.growth_batch(b * g.batch + 1, least((b + 1) * g.batch, g.challenges));
        INSERT INTO bench.growth_done (batch) VALUES (b);
        COMMIT;
    END LOOP;
END
$$;
