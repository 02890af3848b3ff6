-- reference.sql - baseline B of tools/bench: the essential database work
-- of an issue and of a verification, each one SQL function call.
--
-- Made by tools/bench, as the owner of stepup's schema, in the benchmark's
-- own database only (schema bench), never by stepupctl migrate.  The
-- functions work on stepup's own tables, so they pay for the same rows,
-- indexes and triggers (challenges' metrics counter) as stepup does, but
-- do only what no issue or verification can skip:
--
--   reference_issue   find the live session by its token hash and lock
--                     it, read the user's active SMS factor, insert the
--                     challenge, insert its outbox row, update the session;
--   reference_verify  find the live session and lock it, read its latest
--                     step-up challenge (locked), then either mark it
--                     VERIFIED and the session stepped up, or count the
--                     wrong attempt; the session is touched either way.
--
-- Left out, on purpose: api keys, idempotency, the programme's rules,
-- rate limits and lock-outs, supersession, verification_attempts, audit
-- events, the session's sliding end, the NOTIFY.  The gap between stepup
-- and these is what those cost.  Called by bench-reference-fcgi
-- (reference_fcgi.c) and by pgbench (baseline C).  Code hashes here are
-- SHA-256(token hash || code), so tools/bench can make pending challenges
-- in SQL.

CREATE SCHEMA IF NOT EXISTS bench;
COMMENT ON SCHEMA bench IS 'tools/bench: the baselines and bookkeeping of the benchmark (never in production).';
GRANT USAGE ON SCHEMA bench TO stepup_app;

CREATE OR REPLACE FUNCTION bench.reference_issue(p_token_hash bytea, p_challenge_id uuid,
                                                 p_code_hash bytea, p_code_sealed bytea)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_session record;
    v_mobile text;
BEGIN
    SELECT s.id, s.user_id, s.programme_id INTO v_session
      FROM sessions s
     WHERE s.token_hash = p_token_hash AND s.ended_at IS NULL AND s.expires_at > now()
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'TOKEN_INVALID';
    END IF;
    SELECT f.mobile INTO v_mobile
      FROM factors f
     WHERE f.user_id = v_session.user_id AND f.channel = 'SMS' AND f.status = 'ACTIVE';
    IF NOT FOUND THEN
        RETURN 'CHANNEL_NOT_REGISTERED';
    END IF;
    INSERT INTO challenges (id, session_id, user_id, programme_id, purpose, channel, mobile,
                            code_hash, status, expires_at)
    VALUES (p_challenge_id, v_session.id, v_session.user_id, v_session.programme_id, 'STEPUP',
            'SMS', v_mobile, p_code_hash, 'PENDING', now() + interval '5 minutes');
    INSERT INTO sms_outbox (challenge_id, programme_id, to_number, body_template, code_sealed)
    VALUES (p_challenge_id, v_session.programme_id, v_mobile,
            'bench verification code: {code}. It expires in 5 minutes.', p_code_sealed);
    UPDATE sessions s
       SET challenges_issued = s.challenges_issued + 1, last_challenge_at = now(),
           last_seen_at = now()
     WHERE s.id = v_session.id;
    RETURN 'OK';
END
$$;
COMMENT ON FUNCTION bench.reference_issue(bytea, uuid, bytea, bytea) IS
    'tools/bench baseline B: the essential work of an issue (find and lock the session, read the factor, insert challenge and outbox row, update the session).';

CREATE OR REPLACE FUNCTION bench.reference_verify(p_token_hash bytea, p_code_hash bytea)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_session uuid;
    v_ch record;
BEGIN
    SELECT s.id INTO v_session
      FROM sessions s
     WHERE s.token_hash = p_token_hash AND s.ended_at IS NULL AND s.expires_at > now()
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'TOKEN_INVALID';
    END IF;
    SELECT c.id, c.code_hash, c.status, c.expires_at INTO v_ch
      FROM challenges c
     WHERE c.session_id = v_session AND c.purpose = 'STEPUP'
     ORDER BY c.created_at DESC
     LIMIT 1
       FOR UPDATE;
    IF NOT FOUND OR v_ch.status <> 'PENDING' THEN
        RETURN 'STATE_INVALID';
    ELSIF v_ch.expires_at <= now() THEN
        RETURN 'VERIFICATION_CODE_EXPIRED';
    ELSIF v_ch.code_hash = p_code_hash THEN
        UPDATE challenges c SET status = 'VERIFIED', ended_at = now() WHERE c.id = v_ch.id;
        UPDATE sessions s SET stepped_up_at = now(), last_seen_at = now() WHERE s.id = v_session;
        RETURN 'OK';
    END IF;
    UPDATE challenges c SET attempts = c.attempts + 1 WHERE c.id = v_ch.id;
    UPDATE sessions s SET last_seen_at = now() WHERE s.id = v_session;
    RETURN 'VERIFICATION_CODE_INVALID';
END
$$;
COMMENT ON FUNCTION bench.reference_verify(bytea, bytea) IS
    'tools/bench baseline B: the essential work of a verification (find and lock the session, read and lock its challenge, compare, mark verified or count the attempt, update the session).';

REVOKE ALL ON FUNCTION bench.reference_issue(bytea, uuid, bytea, bytea),
                       bench.reference_verify(bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bench.reference_issue(bytea, uuid, bytea, bytea),
                          bench.reference_verify(bytea, bytea) TO stepup_app;
