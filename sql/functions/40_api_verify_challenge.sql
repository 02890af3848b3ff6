-- api_verify_challenge: POST /stepup/challenges/otp/{channel}/verify
-- (p_purpose 'STEPUP') and POST /authentication_factors/otp/{channel}/verify
-- (p_purpose 'ENROLMENT').
--
-- The caller hashes the offered code exactly as it hashed the issued one
-- (HMAC-SHA256(otp key, SHA-256(token) || code)), under each key of its
-- otp_key ring, and passes the 32-byte hashes one after another in
-- p_code_hashes, their key ids in the same order in p_key_ids ('' for the
-- hash a row of before key ids needs: sql/schema/011_key_ids.sql); the
-- challenge is compared with the hash of its own key_id, and a challenge
-- whose key is no longer listed takes any code as a wrong one.  The
-- database never sees a code.  In order:
--   a. authenticate, impersonation refused (its outcome unless OK);
--   b. with an idempotency ref: IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH,
--      or the recorded outcome with replayed = true;
--   c. lock the session row: every verification of a session is serialised
--      here, so concurrent wrong codes are all counted and concurrent right
--      codes verify once; TOKEN_INVALID if it was logged out meanwhile
--      then the user's verification lock, so the wrong codes of one user's
--      sessions are counted one after another; RATE_LIMITED while the user
--      is locked out (a-c: call_begin);
--   d. CHANNEL_NOT_SUPPORTED (channel_refusal);
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
--   h. wrong code: attempts + 1.  With the programme's effective limit N
--      (verify_limit: NULL = no limit, always VERIFICATION_CODE_INVALID):
--      attempts >= N CHALLENGE_LIMIT_EXCEEDED (the challenge FAILED, every
--      later attempt STATE_INVALID by f), attempts = N - 1
--      ONE_CHALLENGE_LIMIT_REMAINING, else VERIFICATION_CODE_INVALID; and
--      the wrong code counts against verify-failures-per-user, whose
--      reaching locks the user out (verify_failure): this answer is still
--      the code's, the next request of the user is refused (c);
--   i. with an idempotency ref, the outcome of d..h is recorded.
-- Every attempt that reaches a challenge (f..h) is also recorded in
-- verification_attempts.  And each step writes its audit events, with
-- the request's context (p_request_ref, p_client_addr, p_user_agent) and
-- the challenge it reached: a refusal of b-c those of call_begin
-- (limit.refused while locked out), one of d-f or g's STATE_INVALID
-- challenge.refused (the outcome); g challenge.verified and, enrolment,
-- factor.enrolled; h challenge.verify_failed (attempts, outcome), then
-- limit.locked_out when this code locked the user out (verify_failure),
-- then challenge.failed when it used the challenge's last attempt.  An
-- authentication failure (a) and a replay (b) write none.
--
-- A number change (ctl_user_set_mobile) meets a verification at the factor
-- row: an enrolment code cannot activate a number that is no longer the
-- user's, whatever the timing (f and g).  Lock order: session row, then
-- challenge rows, then the factor row.
CREATE OR REPLACE FUNCTION stepup.api_verify_challenge(p_api_key_hash bytea, p_token_hash bytea,
                                                       p_purpose text, p_channel text,
                                                       p_operation text, p_idem_ref text,
                                                       p_request_hash bytea, p_code_hashes bytea,
                                                       p_key_ids text[], p_request_ref text, p_client_addr inet,
                                                       p_user_agent text)
RETURNS TABLE (outcome text, replayed boolean, limit_name text, limit_count integer,
               limit_seconds integer, retry_after integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
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
    v_key integer;    -- the position of the challenge's key among p_key_ids
    v_outcome text;
BEGIN
    replayed := false;

    SELECT * INTO v_call
      FROM call_begin(p_api_key_hash, p_token_hash, p_operation, p_idem_ref, p_request_hash,
                      p_request_ref, p_client_addr, p_user_agent);
    IF v_call.outcome IS NOT NULL THEN
        SELECT v_call.outcome, v_call.replayed, v_call.limit_name, v_call.limit_count,
               v_call.limit_seconds, v_call.retry_after
          INTO outcome, replayed, limit_name, limit_count, limit_seconds, retry_after;
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT p.sms_enabled, p.verify_attempts INTO v_prog
      FROM programmes p
     WHERE p.id = v_call.programme_id;

    v_outcome := channel_refusal(v_prog.sms_enabled, p_channel);
    IF v_outcome IS NULL AND p_purpose = 'STEPUP'
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
        SELECT c.id, c.channel, c.mobile, c.code_hash, c.key_id, c.status, c.attempts,
               c.expires_at
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
        v_key := array_position(p_key_ids, coalesce(v_ch.key_id, ''));
        v_matched := v_key IS NOT NULL
                     AND hash_equal(v_ch.code_hash,
                                    substring(p_code_hashes FROM (v_key - 1) * 32 + 1 FOR 32));
        IF v_matched AND p_purpose = 'STEPUP' THEN
            UPDATE challenges c SET status = 'VERIFIED', ended_at = now() WHERE c.id = v_ch.id;
            v_outcome := 'OK'; -- and the session is stepped up (call_end)
        ELSIF v_matched THEN
            -- only a factor still waiting on this number (or enrolled on it
            -- meanwhile): not one retired by a number change since
            UPDATE factors f
               SET status = 'ACTIVE', mobile_kind = v_mobile_kind, mobile_region = v_mobile_region
             WHERE f.user_id = v_call.user_id AND f.channel = p_channel
               AND f.mobile = v_ch.mobile AND f.status IN ('PENDING_VERIFICATION', 'ACTIVE');
            IF FOUND THEN
                UPDATE challenges c SET status = 'VERIFIED', ended_at = now() WHERE c.id = v_ch.id;
                v_outcome := 'OK';
            ELSE
                UPDATE challenges c SET status = 'SUPERSEDED', ended_at = now()
                 WHERE c.id = v_ch.id;
                v_outcome := 'STATE_INVALID';
            END IF;
        ELSE
            v_ch.attempts := v_ch.attempts + 1;
            v_limit := verify_limit(v_prog.verify_attempts);
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
            PERFORM audit_event('challenge.verify_failed', v_call.programme_id,
                                p_user_id => v_call.user_id, p_session_id => v_call.session_id,
                                p_challenge_id => v_ch.id, p_request_ref => p_request_ref,
                                p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                                p_detail => jsonb_build_object('attempts', v_ch.attempts,
                                                               'outcome', v_outcome),
                                p_identity_id => v_call.identity_id);
            PERFORM verify_failure(v_call.programme_id, v_call.user_id, v_call.session_id,
                                   v_ch.id, p_request_ref, p_client_addr, p_user_agent);
            IF v_outcome = 'CHALLENGE_LIMIT_EXCEEDED' THEN
                PERFORM audit_event('challenge.failed', v_call.programme_id,
                                    p_user_id => v_call.user_id,
                                    p_session_id => v_call.session_id, p_challenge_id => v_ch.id,
                                    p_request_ref => p_request_ref,
                                    p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                                    p_detail => jsonb_build_object('attempts', v_ch.attempts),
                                    p_identity_id => v_call.identity_id);
            END IF;
        END IF;
    END IF;

    IF v_outcome = 'OK' THEN
        PERFORM audit_event('challenge.verified', v_call.programme_id, p_user_id => v_call.user_id,
                            p_session_id => v_call.session_id, p_challenge_id => v_ch.id,
                            p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                            p_user_agent => p_user_agent,
                            p_detail => jsonb_build_object('purpose', p_purpose,
                                                           'channel', p_channel,
                                                           'attempts', v_ch.attempts),
                            p_identity_id => v_call.identity_id);
        IF p_purpose = 'ENROLMENT' THEN
            PERFORM audit_event('factor.enrolled', v_call.programme_id,
                                p_user_id => v_call.user_id, p_session_id => v_call.session_id,
                                p_challenge_id => v_ch.id, p_request_ref => p_request_ref,
                                p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                                p_detail => jsonb_build_object('channel', p_channel,
                                                               'mobile_region', v_mobile_region),
                                p_identity_id => v_call.identity_id);
        END IF;
    ELSIF v_matched IS NOT false THEN
        -- refused before the code was compared (d-f), or matched too late (g)
        PERFORM audit_event('challenge.refused', v_call.programme_id, p_user_id => v_call.user_id,
                            p_session_id => v_call.session_id, p_challenge_id => v_attempted,
                            p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                            p_user_agent => p_user_agent,
                            p_detail => jsonb_build_object('outcome', v_outcome,
                                                           'purpose', p_purpose,
                                                           'channel', p_channel),
                            p_identity_id => v_call.identity_id);
    END IF;

    IF v_attempted IS NOT NULL THEN
        INSERT INTO verification_attempts (challenge_id, matched, outcome)
        VALUES (v_attempted, v_matched, v_outcome);
    END IF;

    PERFORM call_end(v_call.session_id, v_outcome, p_idem_ref, p_operation, p_request_hash,
                     p_stepped_up => v_outcome = 'OK' AND p_purpose = 'STEPUP');

    outcome := v_outcome;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea, bytea,
                                                text[], text, inet, text) IS
    'Verifies the code of a session''s latest step-up or enrolment challenge (see sql/functions/40_api_verify_challenge.sql for the rules).';
GRANT EXECUTE ON FUNCTION stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea,
                                                      bytea, text[], text, inet, text)
    TO stepup_app;
