-- 003_verify_enrol.sql - verification, enrolment, the factor list and the
-- step-up gate for legacy applications.
--
-- Same conventions as 002_api.sql: each stepup.api_* function is one
-- request's reads, locks and writes, SECURITY DEFINER with a pinned
-- search_path, executable by stepup_app only, answering an `outcome` from a
-- closed set.  Helpers without the api_ prefix are granted to nobody.
--
-- Outcomes added here:
--   verify     OK (204), CHANNEL_NOT_SUPPORTED, CHANNEL_NOT_REGISTERED, STATE_INVALID,
--              ALREADY_VERIFIED, VERIFICATION_CODE_EXPIRED, VERIFICATION_CODE_INVALID,
--              ONE_CHALLENGE_LIMIT_REMAINING, CHALLENGE_LIMIT_EXCEEDED (409)
--   enrolment  OK (204), CHANNEL_NOT_SUPPORTED, CHANNEL_ALREADY_REGISTERED,
--              MOBILE_NUMBER_NOT_AVAILABLE, MOBILE_NUMBER_INVALID,
--              MOBILE_COUNTRY_NOT_SUPPORTED, CREDENTIALS_INACTIVE (409)
--   gate       OK (200), TOKEN_INVALID (401), NOT_STEPPED_UP (403)
--
-- Deactivated users.  authenticate() does not look at users.active; instead
-- `stepupctl user deactivate` ends every open session of the user in the
-- same transaction, so a deactivated user is logged out everywhere (401)
-- and cannot log in again (api_login_lookup / api_login_session answer
-- CREDENTIALS_INACTIVE, 403).  So that no login can slip in between,
-- api_login_session (002) holds the user row FOR SHARE while it opens the
-- session: deactivation (UPDATE users, then UPDATE
-- sessions in a later statement) either waits for that login and then ends
-- its session, or is seen by it.  api_enrol_factor still answers
-- CREDENTIALS_INACTIVE for a session that survives anyway (a user made
-- inactive by plain SQL, without ending the sessions).
--
-- Changing a user's number (`stepupctl user set-mobile`) supersedes the
-- user's pending challenges sent to the old number and makes an ACTIVE or
-- PENDING_VERIFICATION factor on another number INACTIVE.  An enrolment
-- code then cannot activate the old number, whatever the timing:
-- api_verify_challenge refuses it (STATE_INVALID) when the challenge's
-- number is no longer the user's, and activates the factor only while it
-- is still PENDING_VERIFICATION (or ACTIVE) on the challenge's number - the
-- factor row is where a verification and a number change meet.
--
-- Lock order, to stay free of deadlocks: session row, then challenge rows,
-- then the factor row.  The api_* functions here never lock a user row
-- (stepupctl takes it first: user deactivate then updates sessions, user
-- set-mobile then challenges and the factor).

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.verification_attempts (
    id           bigserial PRIMARY KEY,
    challenge_id uuid NOT NULL REFERENCES stepup.challenges (id),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    matched      boolean NULL,
    outcome      text NOT NULL
);
CREATE INDEX verification_attempts_challenge
    ON stepup.verification_attempts (challenge_id, attempted_at);
COMMENT ON TABLE stepup.verification_attempts IS
    'Every verification attempt that reached a challenge (right, wrong, or too late), for audit.';
COMMENT ON COLUMN stepup.verification_attempts.matched IS
    'Whether the offered code matched; NULL when it was not compared (the challenge was no longer pending).';
COMMENT ON COLUMN stepup.verification_attempts.outcome IS
    'The outcome answered (OK, VERIFICATION_CODE_INVALID, STATE_INVALID, ...).';

REVOKE ALL ON stepup.verification_attempts FROM PUBLIC;
GRANT SELECT ON stepup.verification_attempts TO stepup_auditor;

-- ---------------------------------------------------------------------------
-- hash_equal: true when a and b are both 32 bytes long and equal.  Every
-- byte pair is XORed into an accumulator without stopping early, so the
-- time taken does not depend on where the first difference is (as far as
-- PL/pgSQL lets us: the loop always runs 32 times).  NULL or another length
-- is false.
CREATE FUNCTION stepup.hash_equal(a bytea, b bytea)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    acc integer := 0;
BEGIN
    IF a IS NULL OR b IS NULL OR octet_length(a) <> 32 OR octet_length(b) <> 32 THEN
        RETURN false;
    END IF;
    FOR i IN 0 .. 31 LOOP
        acc := acc | (get_byte(a, i) # get_byte(b, i));
    END LOOP;
    RETURN acc = 0;
END
$$;
COMMENT ON FUNCTION stepup.hash_equal(bytea, bytea) IS
    'Internal: constant-time comparison of two 32-byte hashes.';

-- ---------------------------------------------------------------------------
-- api_verify_challenge: POST /stepup/challenges/otp/{channel}/verify
-- (p_purpose 'STEPUP') and POST /authentication_factors/otp/{channel}/verify
-- (p_purpose 'ENROLMENT').
--
-- The caller hashes the offered code exactly as it hashed the issued one
-- (HMAC-SHA256(otp key, SHA-256(token) || code)) and passes p_code_hash;
-- the database never sees a code.  In order:
--   a. authenticate, impersonation refused (its outcome unless OK);
--   b. with an idempotency ref: IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH,
--      or the recorded outcome with replayed = true;
--   c. lock the session row: every verification of a session is serialised
--      here, so concurrent wrong codes are all counted and concurrent right
--      codes verify once; TOKEN_INVALID if it was logged out meanwhile;
--   d. CHANNEL_NOT_SUPPORTED (SMS switched off, or another channel);
--   e. step-up only: CHANNEL_NOT_REGISTERED without an ACTIVE factor;
--   f. the session's latest challenge of p_purpose: none (or of another
--      channel) STATE_INVALID; VERIFIED ALREADY_VERIFIED; FAILED or
--      SUPERSEDED STATE_INVALID; expired VERIFICATION_CODE_EXPIRED (a
--      PENDING one past expires_at is stored as EXPIRED, ended_at =
--      expires_at); enrolment: sent to a number that is no longer the
--      user's, STATE_INVALID (and the challenge is SUPERSEDED);
--   g. right code (constant-time hash_equal): the challenge is VERIFIED;
--      step-up: sessions.stepped_up_at = now(); enrolment: the factor,
--      still PENDING_VERIFICATION on the challenge's number, is ACTIVE
--      (with the user's mobile_kind and mobile_region); OK.  (An enrolment
--      factor retired meanwhile by a number change: STATE_INVALID, and
--      the challenge is SUPERSEDED);
--   h. wrong code: attempts + 1.  With the programme's verify_attempts N
--      (NULL = no limit: always VERIFICATION_CODE_INVALID; outside 1..5 =
--      5): attempts >= N CHALLENGE_LIMIT_EXCEEDED (the challenge FAILED,
--      every later attempt STATE_INVALID by f), attempts = N - 1
--      ONE_CHALLENGE_LIMIT_REMAINING, else VERIFICATION_CODE_INVALID;
--   i. with an idempotency ref, the outcome of d..h is recorded.
-- Every attempt that reaches a challenge (f..h) is also recorded in
-- verification_attempts.
CREATE FUNCTION stepup.api_verify_challenge(p_api_key_hash bytea, p_token_hash bytea,
                                            p_purpose text, p_channel text, p_operation text,
                                            p_idem_ref text, p_request_hash bytea,
                                            p_code_hash bytea)
RETURNS TABLE (outcome text, replayed boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_call record;
    v_prog record;
    v_mobile text;        -- enrolment: the user's number on file, its kind and region
    v_mobile_kind text;
    v_mobile_region text;
    v_ch record;
    v_attempted uuid; -- the challenge this attempt reached, if any
    v_limit integer;
    v_matched boolean;
    v_outcome text;
BEGIN
    replayed := false;

    SELECT * INTO v_call
      FROM call_begin(p_api_key_hash, p_token_hash, p_operation, p_idem_ref, p_request_hash);
    IF v_call.outcome IS NOT NULL THEN
        outcome := v_call.outcome;
        replayed := v_call.replayed;
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT p.sms_enabled, p.verify_attempts INTO v_prog
      FROM programmes p
     WHERE p.id = v_call.programme_id;

    IF p_channel IS DISTINCT FROM 'SMS' OR NOT v_prog.sms_enabled THEN
        v_outcome := 'CHANNEL_NOT_SUPPORTED';
    ELSIF p_purpose = 'STEPUP'
          AND NOT EXISTS (SELECT 1 FROM factors f
                           WHERE f.user_id = v_call.user_id AND f.channel = p_channel
                             AND f.status = 'ACTIVE') THEN
        v_outcome := 'CHANNEL_NOT_REGISTERED';
    END IF;

    IF v_outcome IS NULL AND p_purpose = 'ENROLMENT' THEN
        SELECT u.mobile, u.mobile_kind, u.mobile_region
          INTO v_mobile, v_mobile_kind, v_mobile_region
          FROM users u
         WHERE u.id = v_call.user_id;
    END IF;

    IF v_outcome IS NULL THEN
        SELECT c.id, c.channel, c.mobile, c.code_hash, c.status, c.attempts, c.expires_at
          INTO v_ch
          FROM challenges c
         WHERE c.session_id = v_call.session_id AND c.purpose = p_purpose
         ORDER BY c.created_at DESC
         LIMIT 1
           FOR UPDATE;
        IF FOUND AND v_ch.channel = p_channel THEN
            v_attempted := v_ch.id;
        END IF;
        IF v_attempted IS NULL THEN
            v_outcome := 'STATE_INVALID';
        ELSIF v_ch.status = 'VERIFIED' THEN
            v_outcome := 'ALREADY_VERIFIED';
        ELSIF v_ch.status IN ('FAILED', 'SUPERSEDED') THEN
            v_outcome := 'STATE_INVALID';
        ELSIF v_ch.status = 'EXPIRED' THEN
            v_outcome := 'VERIFICATION_CODE_EXPIRED';
        ELSIF v_ch.expires_at <= now() THEN
            UPDATE challenges c SET status = 'EXPIRED', ended_at = c.expires_at
             WHERE c.id = v_ch.id;
            v_outcome := 'VERIFICATION_CODE_EXPIRED';
        ELSIF p_purpose = 'ENROLMENT' AND v_mobile IS DISTINCT FROM v_ch.mobile THEN
            -- the number on file changed after this code was sent
            UPDATE challenges c SET status = 'SUPERSEDED', ended_at = now()
             WHERE c.id = v_ch.id;
            v_outcome := 'STATE_INVALID';
        END IF;
    END IF;

    IF v_outcome IS NULL THEN
        -- PENDING and in time: compare the code
        v_matched := hash_equal(v_ch.code_hash, p_code_hash);
        IF v_matched AND p_purpose = 'STEPUP' THEN
            UPDATE challenges c SET status = 'VERIFIED', ended_at = now() WHERE c.id = v_ch.id;
            UPDATE sessions s SET stepped_up_at = now(), last_seen_at = now()
             WHERE s.id = v_call.session_id;
            v_outcome := 'OK';
        ELSIF v_matched THEN
            -- only a factor still waiting on this number (or enrolled on it
            -- meanwhile): not one retired by a number change since
            UPDATE factors f
               SET status = 'ACTIVE', mobile_kind = v_mobile_kind, mobile_region = v_mobile_region
             WHERE f.user_id = v_call.user_id AND f.channel = p_channel
               AND f.mobile = v_ch.mobile AND f.status IN ('PENDING_VERIFICATION', 'ACTIVE');
            IF FOUND THEN
                UPDATE challenges c SET status = 'VERIFIED', ended_at = now() WHERE c.id = v_ch.id;
                UPDATE sessions s SET last_seen_at = now() WHERE s.id = v_call.session_id;
                v_outcome := 'OK';
            ELSE
                UPDATE challenges c SET status = 'SUPERSEDED', ended_at = now()
                 WHERE c.id = v_ch.id;
                v_outcome := 'STATE_INVALID';
            END IF;
        ELSE
            v_ch.attempts := v_ch.attempts + 1;
            v_limit := CASE WHEN v_prog.verify_attempts IS NULL THEN NULL
                            WHEN v_prog.verify_attempts BETWEEN 1 AND 5 THEN v_prog.verify_attempts
                            ELSE 5 END;
            IF v_limit IS NOT NULL AND v_ch.attempts >= v_limit THEN
                UPDATE challenges c SET attempts = v_ch.attempts, status = 'FAILED', ended_at = now()
                 WHERE c.id = v_ch.id;
                v_outcome := 'CHALLENGE_LIMIT_EXCEEDED';
            ELSE
                UPDATE challenges c SET attempts = v_ch.attempts WHERE c.id = v_ch.id;
                v_outcome := CASE WHEN v_limit IS NOT NULL AND v_ch.attempts = v_limit - 1
                                  THEN 'ONE_CHALLENGE_LIMIT_REMAINING'
                                  ELSE 'VERIFICATION_CODE_INVALID' END;
            END IF;
        END IF;
    END IF;

    IF v_attempted IS NOT NULL THEN
        INSERT INTO verification_attempts (challenge_id, matched, outcome)
        VALUES (v_attempted, v_matched, v_outcome);
    END IF;

    PERFORM idempotency_finish(v_call.session_id, p_idem_ref, p_operation, p_request_hash,
                               v_outcome);

    outcome := v_outcome;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea, bytea) IS
    'Verifies the code of a session''s latest step-up or enrolment challenge (see 003_verify_enrol.sql for the rules).';

-- ---------------------------------------------------------------------------
-- api_enrol_factor: POST /authentication_factors/otp/{channel}, step one
-- of enrolling the user's number on file.
--
-- Same parameters and shape as api_issue_challenge.  In order:
--   1. authenticate, impersonation refused; 2. idempotency; 3. lock the
--      session row (TOKEN_INVALID if logged out meanwhile);
--   4. CHANNEL_NOT_SUPPORTED, CHANNEL_ALREADY_REGISTERED (factor ACTIVE),
--      MOBILE_NUMBER_NOT_AVAILABLE (no number on file),
--      MOBILE_NUMBER_INVALID (not a mobile number),
--      MOBILE_COUNTRY_NOT_SUPPORTED (region outside the programme's list),
--      CREDENTIALS_INACTIVE (the user is deactivated);
--   5. OK: the session's pending enrolment challenge is superseded, the
--      factor (re)set to PENDING_VERIFICATION on the number on file, the
--      enrolment challenge inserted (the sandbox hash in a sandbox
--      programme) and, outside sandbox, an outbox row queued exactly as for
--      a step-up code, its id returned as outbox_id (the caller notifies
--      after commit);
--   6. with an idempotency ref, the outcome of 4/5 is recorded.
-- The step-up retry window and counters (sessions.challenges_issued,
-- last_challenge_at) are not touched: asking again while pending simply
-- sends a fresh code.
CREATE FUNCTION stepup.api_enrol_factor(p_api_key_hash bytea, p_token_hash bytea,
                                        p_channel text, p_operation text, p_idem_ref text,
                                        p_request_hash bytea, p_challenge_id uuid,
                                        p_code_hash bytea, p_sandbox_code_hash bytea,
                                        p_code_sealed bytea, p_request_ref text,
                                        p_client_addr inet, p_user_agent text)
RETURNS TABLE (outcome text, replayed boolean, outbox_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_call record;
    v_prog record;
    v_user record;
    v_outcome text;
BEGIN
    SELECT * INTO v_call
      FROM call_begin(p_api_key_hash, p_token_hash, p_operation, p_idem_ref, p_request_hash);
    IF v_call.outcome IS NOT NULL THEN
        outcome := v_call.outcome;
        replayed := v_call.replayed;
        RETURN NEXT;
        RETURN;
    END IF;
    replayed := false;

    SELECT p.sms_enabled, p.countries INTO v_prog
      FROM programmes p
     WHERE p.id = v_call.programme_id;
    SELECT u.mobile, u.mobile_kind, u.mobile_region, u.active INTO v_user
      FROM users u
     WHERE u.id = v_call.user_id;

    IF p_channel IS DISTINCT FROM 'SMS' OR NOT v_prog.sms_enabled THEN
        v_outcome := 'CHANNEL_NOT_SUPPORTED';
    ELSIF EXISTS (SELECT 1 FROM factors f
                   WHERE f.user_id = v_call.user_id AND f.channel = p_channel
                     AND f.status = 'ACTIVE') THEN
        v_outcome := 'CHANNEL_ALREADY_REGISTERED';
    ELSIF v_user.mobile IS NULL THEN
        v_outcome := 'MOBILE_NUMBER_NOT_AVAILABLE';
    ELSIF v_user.mobile_kind IS DISTINCT FROM 'MOBILE' THEN
        v_outcome := 'MOBILE_NUMBER_INVALID';
    ELSIF v_prog.countries IS NOT NULL
          AND (v_user.mobile_region IS NULL OR NOT v_user.mobile_region = ANY (v_prog.countries)) THEN
        v_outcome := 'MOBILE_COUNTRY_NOT_SUPPORTED';
    ELSIF NOT v_user.active THEN
        v_outcome := 'CREDENTIALS_INACTIVE';
    ELSE
        INSERT INTO factors AS f (user_id, channel, status, mobile, mobile_kind, mobile_region)
        VALUES (v_call.user_id, p_channel, 'PENDING_VERIFICATION', v_user.mobile,
                v_user.mobile_kind, v_user.mobile_region)
        ON CONFLICT (user_id, channel) DO UPDATE
           SET status = 'PENDING_VERIFICATION', mobile = excluded.mobile,
               mobile_kind = excluded.mobile_kind, mobile_region = excluded.mobile_region;
        outbox_id := issue_code(v_call.session_id, v_call.user_id, v_call.programme_id, 'ENROLMENT',
                                p_channel, v_user.mobile, p_challenge_id, p_code_hash,
                                p_sandbox_code_hash, p_code_sealed, p_request_ref, p_client_addr,
                                p_user_agent);
        v_outcome := 'OK';
    END IF;

    PERFORM idempotency_finish(v_call.session_id, p_idem_ref, p_operation, p_request_hash,
                               v_outcome);
    outcome := v_outcome;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_enrol_factor(bytea, bytea, text, text, text, bytea, uuid, bytea,
                                            bytea, bytea, text, inet, text) IS
    'Enrolment, step one: sends a code to the user''s number on file and leaves the factor PENDING_VERIFICATION.';

-- ---------------------------------------------------------------------------
-- api_factors: GET /authentication_factors.  Impersonation sessions may
-- look.  OK with factors = a JSON array of
-- {"type": "OTP", "channel": ..., "status": ...} for the user's factors
-- ([] when there are none), or the authentication outcome with NULL.
CREATE FUNCTION stepup.api_factors(p_api_key_hash bytea, p_token_hash bytea)
RETURNS TABLE (outcome text, factors jsonb)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_auth record;
BEGIN
    SELECT a.outcome, a.user_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, true, false) a;
    outcome := v_auth.outcome;
    IF v_auth.outcome = 'OK' THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object('type', 'OTP', 'channel', f.channel,
                                                     'status', f.status)
                                  ORDER BY f.channel), '[]'::jsonb)
          INTO factors
          FROM stepup.factors f
         WHERE f.user_id = v_auth.user_id;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_factors(bytea, bytea) IS
    'Lists the user''s authentication factors as a JSON array; OK or the authentication outcome.';

-- ---------------------------------------------------------------------------
-- api_gate: the FastCGI Authorizer check in front of legacy applications.
-- No api-key: the bearer token alone names the session and its programme.
--   TOKEN_INVALID   no session with this token hash, logged out, or idle
--                   longer than its programme's session_ttl_seconds;
--   NOT_STEPPED_UP  an impersonation session, or one never stepped up, or
--                   stepped up more than p_max_age_seconds ago (NULL or a
--                   negative age: never stepped up enough);
--   OK              stepped up within p_max_age_seconds.
-- The ids are returned with OK and with NOT_STEPPED_UP (for the log), NULL
-- with TOKEN_INVALID.  Unless an impersonation session, last_seen_at is
-- touched (a request through the gate is activity of the session) without
-- ever waiting for the row: when another transaction holds it, skipped.
CREATE FUNCTION stepup.api_gate(p_token_hash bytea, p_max_age_seconds integer)
RETURNS TABLE (outcome text, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_session record;
BEGIN
    SELECT s.id, s.programme_id, s.user_id, u.identity_id, s.impersonation, s.ended_at,
           s.last_seen_at, s.stepped_up_at, p.session_ttl_seconds
      INTO v_session
      FROM sessions s
      JOIN users u ON u.id = s.user_id
      JOIN programmes p ON p.id = s.programme_id
     WHERE s.token_hash = p_token_hash;
    IF NOT FOUND
       OR v_session.ended_at IS NOT NULL
       OR v_session.last_seen_at + make_interval(secs => v_session.session_ttl_seconds) < now() THEN
        outcome := 'TOKEN_INVALID';
        RETURN NEXT;
        RETURN;
    END IF;

    user_id := v_session.user_id;
    identity_id := v_session.identity_id;
    programme_id := v_session.programme_id;
    IF v_session.impersonation THEN
        outcome := 'NOT_STEPPED_UP';
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE sessions s SET last_seen_at = now()
     WHERE s.id = (SELECT t.id FROM sessions t WHERE t.id = v_session.id
                      FOR NO KEY UPDATE SKIP LOCKED);

    IF v_session.stepped_up_at IS NULL OR p_max_age_seconds IS NULL OR p_max_age_seconds < 0
       OR v_session.stepped_up_at + make_interval(secs => p_max_age_seconds) < now() THEN
        outcome := 'NOT_STEPPED_UP';
    ELSE
        outcome := 'OK';
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_gate(bytea, integer) IS
    'Authorizer: OK when the token''s session was stepped up within the given seconds; TOKEN_INVALID or NOT_STEPPED_UP.';

-- ---------------------------------------------------------------------------
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA stepup FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea, bytea),
    stepup.api_enrol_factor(bytea, bytea, text, text, text, bytea, uuid, bytea, bytea, bytea,
                            text, inet, text),
    stepup.api_factors(bytea, bytea),
    stepup.api_gate(bytea, integer)
    TO stepup_app;
