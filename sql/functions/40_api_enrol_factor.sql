-- api_enrol_factor: POST /authentication_factors/otp/{channel}, step one
-- of enrolling the user's number on file.
--
-- Same parameters and shape as api_issue_challenge.  In order:
--   1. authenticate, impersonation refused; 2. idempotency; 3. lock the
--      session row, TOKEN_INVALID if logged out meanwhile; RATE_LIMITED
--      while the user is locked out (call_begin);
--   4. CHANNEL_NOT_SUPPORTED (channel_refusal), CHANNEL_ALREADY_REGISTERED
--      (factor ACTIVE), MOBILE_NUMBER_NOT_AVAILABLE (no number on file),
--      MOBILE_NUMBER_INVALID, MOBILE_COUNTRY_NOT_SUPPORTED (mobile_refusal,
--      on the number on file), CREDENTIALS_INACTIVE (the user is
--      deactivated; live_session already refuses such a session, so this
--      is a second line of defence);
--   4a. RATE_LIMITED when a challenge limit is reached, exactly as for a
--      step-up code (challenge_limits_take: an enrolment code is a
--      challenge of the user, sent to a number), not recorded for the
--      idempotency-ref;
--   5. OK: the session's pending enrolment challenge is superseded, the
--      factor (re)set to PENDING_VERIFICATION on the number on file, the
--      enrolment challenge inserted (the sandbox hash in a sandbox
--      programme) and, outside sandbox, an outbox row queued exactly as for
--      a step-up code, its id returned as outbox_id (the caller notifies
--      after commit);
--   6. with an idempotency ref, the outcome of 4/5 is recorded.
-- The audit events are a step-up code's: those of call_begin (2-3),
-- challenge.refused (4), limit.refused (4a), those of issue_code (5).
-- The step-up retry window and counters (sessions.challenges_issued,
-- last_challenge_at) are not touched: asking again while pending sends a
-- fresh code, as long as the challenge limits allow (4a).
CREATE OR REPLACE FUNCTION stepup.api_enrol_factor(p_api_key_hash bytea, p_token_hash bytea,
                                                   p_channel text, p_operation text,
                                                   p_idem_ref text, p_request_hash bytea,
                                                   p_challenge_id uuid, p_code_hash bytea,
                                                   p_sandbox_code_hash bytea,
                                                   p_code_sealed bytea, p_key_id text,
                                                   p_seal_key_id text,
                                                   p_sealed_to text, p_request_ref text,
                                                   p_client_addr inet, p_user_agent text)
RETURNS TABLE (outcome text, replayed boolean, outbox_id uuid, limit_name text,
               limit_count integer, limit_seconds integer, retry_after integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
AS $$
DECLARE
    v_call record;
    v_prog record;
    v_user record;
    v_outcome text;
BEGIN
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
    replayed := false;

    SELECT p.sms_enabled, p.countries, p.prefix_digits INTO v_prog
      FROM programmes p
     WHERE p.id = v_call.programme_id;
    SELECT u.mobile, u.mobile_kind, u.mobile_region, u.active INTO v_user
      FROM users u
     WHERE u.id = v_call.user_id;

    -- the first refusal, in this order
    v_outcome := coalesce(
        channel_refusal(v_prog.sms_enabled, p_channel),
        CASE WHEN EXISTS (SELECT 1 FROM factors f
                           WHERE f.user_id = v_call.user_id AND f.channel = p_channel
                             AND f.status = 'ACTIVE')
             THEN 'CHANNEL_ALREADY_REGISTERED' END,
        CASE WHEN v_user.mobile IS NULL THEN 'MOBILE_NUMBER_NOT_AVAILABLE' END,
        mobile_refusal(v_prog.countries, v_user.mobile, v_user.mobile_kind, v_user.mobile_region),
        CASE WHEN NOT v_user.active THEN 'CREDENTIALS_INACTIVE' END);
    IF v_outcome IS NULL THEN
        SELECT r.limit_name, r.limit_count, r.limit_seconds, r.retry_after
          INTO limit_name, limit_count, limit_seconds, retry_after
          FROM challenge_limits_take(v_call.programme_id, v_call.user_id, v_user.mobile,
                                     v_prog.prefix_digits) r;
        IF limit_name IS NOT NULL THEN
            PERFORM audit_limit_refused(v_call.programme_id, v_call.user_id, v_call.session_id,
                                        limit_name, retry_after, p_operation, p_request_ref,
                                        p_client_addr, p_user_agent, v_call.identity_id);
            outcome := 'RATE_LIMITED';
            PERFORM call_end(v_call.session_id, outcome, p_idem_ref, p_operation, p_request_hash);
            RETURN NEXT;
            RETURN;
        END IF;
        -- challenges (issue_code) before the factor: the lock order of
        -- api_verify_challenge and ctl_user_set_mobile
        outbox_id := issue_code(p_session_id => v_call.session_id, p_user_id => v_call.user_id,
                                p_programme_id => v_call.programme_id, p_purpose => 'ENROLMENT',
                                p_channel => p_channel, p_mobile => v_user.mobile,
                                p_challenge_id => p_challenge_id, p_code_hash => p_code_hash,
                                p_sandbox_code_hash => p_sandbox_code_hash,
                                p_code_sealed => p_code_sealed, p_key_id => p_key_id,
                                p_seal_key_id => p_seal_key_id, p_sealed_to => p_sealed_to,
                                p_request_ref => p_request_ref,
                                p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                                p_identity_id => v_call.identity_id);
        INSERT INTO factors AS f (user_id, channel, status, mobile, mobile_kind, mobile_region)
        VALUES (v_call.user_id, p_channel, 'PENDING_VERIFICATION', v_user.mobile,
                v_user.mobile_kind, v_user.mobile_region)
        ON CONFLICT (user_id, channel) DO UPDATE
           SET status = 'PENDING_VERIFICATION', mobile = excluded.mobile,
               mobile_kind = excluded.mobile_kind, mobile_region = excluded.mobile_region;
        v_outcome := 'OK';
    ELSE
        PERFORM audit_event('challenge.refused', v_call.programme_id, p_user_id => v_call.user_id,
                            p_session_id => v_call.session_id, p_request_ref => p_request_ref,
                            p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                            p_detail => jsonb_build_object('outcome', v_outcome,
                                                           'purpose', 'ENROLMENT',
                                                           'channel', p_channel));
    END IF;

    PERFORM call_end(v_call.session_id, v_outcome, p_idem_ref, p_operation, p_request_hash);
    outcome := v_outcome;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_enrol_factor(bytea, bytea, text, text, text, bytea, uuid, bytea,
                                            bytea, bytea, text, text, text, text, inet, text) IS
    'Enrolment, step one: sends a code to the user''s number on file and leaves the factor PENDING_VERIFICATION.';
GRANT EXECUTE ON FUNCTION stepup.api_enrol_factor(bytea, bytea, text, text, text, bytea, uuid,
                                                  bytea, bytea, bytea, text, text, text, text, inet, text)
    TO stepup_app;
