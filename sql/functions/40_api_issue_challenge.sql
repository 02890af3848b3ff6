-- api_issue_challenge: POST /stepup/challenges/otp/{channel}.
--
-- The caller supplies the challenge id and the code's hashes (the real
-- code's and the sandbox code's; the programme decides which is stored),
-- and the code sealed for the outbox (for the number
-- p_sealed_to, which it read with api_issue_destination), with the ids of
-- the keys it used (p_key_id, p_seal_key_id).  In order:
--   1. authenticate, impersonation refused (its outcome unless OK);
--   2. with an idempotency ref: IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH,
--      or the recorded outcome with replayed = true;
--   3. lock the session row, so racing issues on one session queue here and
--      each sees its predecessors' counters; RATE_LIMITED while the user is
--      locked out (1-3: call_begin);
--   4. CHANNEL_NOT_SUPPORTED (channel_refusal), CHANNEL_NOT_REGISTERED (no
--      ACTIVE factor), MOBILE_NUMBER_INVALID, MOBILE_COUNTRY_NOT_SUPPORTED
--      (mobile_refusal, on the enrolled number), RETRY_IN_15SEC,
--      CHALLENGE_LIMIT_EXCEEDED;
--   4a. RATE_LIMITED when a challenge limit is reached (challenge_limits_take
--      counts this challenge per user, number, prefix and programme
--      otherwise); a RATE_LIMITED outcome names the limit and the seconds
--      until a challenge would be allowed, and is not recorded for the
--      idempotency-ref (a retry after the window is a new call);
--   5. OK: the session's pending step-up challenge is superseded, the new
--      one inserted, and outside sandbox an outbox row queued, its id
--      returned as outbox_id (issue_code);
--   6. the session's counters move (only a success moves the retry window)
--      and, with an idempotency ref, the outcome of 4/5 is recorded
--      (call_end).
-- Each step writes its audit events in this transaction, with the
-- request's context: a refusal of 2-3 those of call_begin, one of 4
-- challenge.refused (the outcome), 4a limit.refused (the limit and
-- retry_after), 5 those of issue_code (challenge.superseded, .issued,
-- .queued); an authentication failure (1) and a replay (2) write none.
-- The caller wakes the senders after the commit and its answer, not in here
-- (stepup.api_wake_sender, sql/functions/45_api_wake_sender.sql):
-- PostgreSQL serialises the commits of transactions that notify, which
-- measured here cut issue throughput from ~1,000/s to ~370/s.  A notify
-- lost to a crash between the two only delays the text until the sender's
-- next poll.
CREATE OR REPLACE FUNCTION stepup.api_issue_challenge(p_api_key_hash bytea, p_token_hash bytea,
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
    v_prog record; -- the programme's settings, and the user's ACTIVE factor of p_channel
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

    SELECT p.sms_enabled, p.countries, p.retry_seconds, p.issue_limit, p.prefix_digits,
           f.user_id IS NOT NULL AS registered, f.mobile, f.mobile_kind, f.mobile_region
      INTO v_prog
      FROM programmes p
      LEFT JOIN factors f
        ON f.user_id = v_call.user_id AND f.channel = p_channel AND f.status = 'ACTIVE'
     WHERE p.id = v_call.programme_id;

    -- the first refusal, in this order
    v_outcome := coalesce(
        channel_refusal(v_prog.sms_enabled, p_channel),
        CASE WHEN NOT v_prog.registered THEN 'CHANNEL_NOT_REGISTERED' END,
        mobile_refusal(v_prog.countries, v_prog.mobile, v_prog.mobile_kind, v_prog.mobile_region),
        CASE WHEN now() < v_call.last_challenge_at + make_interval(secs => v_prog.retry_seconds)
             THEN 'RETRY_IN_15SEC' END,
        CASE WHEN v_call.challenges_issued >= v_prog.issue_limit
             THEN 'CHALLENGE_LIMIT_EXCEEDED' END);
    IF v_outcome IS NULL THEN
        SELECT r.limit_name, r.limit_count, r.limit_seconds, r.retry_after
          INTO limit_name, limit_count, limit_seconds, retry_after
          FROM challenge_limits_take(v_call.programme_id, v_call.user_id, v_prog.mobile,
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
        outbox_id := issue_code(p_session_id => v_call.session_id, p_user_id => v_call.user_id,
                                p_programme_id => v_call.programme_id, p_purpose => 'STEPUP',
                                p_channel => p_channel, p_mobile => v_prog.mobile,
                                p_challenge_id => p_challenge_id, p_code_hash => p_code_hash,
                                p_sandbox_code_hash => p_sandbox_code_hash,
                                p_code_sealed => p_code_sealed, p_key_id => p_key_id,
                                p_seal_key_id => p_seal_key_id, p_sealed_to => p_sealed_to,
                                p_request_ref => p_request_ref,
                                p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                                p_identity_id => v_call.identity_id);
        v_outcome := 'OK';
    ELSE
        PERFORM audit_event('challenge.refused', v_call.programme_id, p_user_id => v_call.user_id,
                            p_session_id => v_call.session_id, p_request_ref => p_request_ref,
                            p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                            p_detail => jsonb_build_object('outcome', v_outcome,
                                                           'purpose', 'STEPUP',
                                                           'channel', p_channel),
                            p_identity_id => v_call.identity_id);
    END IF;

    PERFORM call_end(v_call.session_id, v_outcome, p_idem_ref, p_operation, p_request_hash,
                     p_issued => v_outcome = 'OK');
    outcome := v_outcome;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_issue_challenge(bytea, bytea, text, text, text, bytea, uuid, bytea,
                                               bytea, bytea, text, text, text, text, inet, text) IS
    'Issues a step-up OTP challenge for a session (see sql/functions/40_api_issue_challenge.sql for the order of checks).';
GRANT EXECUTE ON FUNCTION stepup.api_issue_challenge(bytea, bytea, text, text, text, bytea, uuid,
                                                     bytea, bytea, bytea, text, text, text, text, inet, text)
    TO stepup_app;
