-- call_begin: the opening every state-changing api_* function shares.
--
-- Authenticates (impersonation refused; no waiting on the session row),
-- then applies the idempotency-ref: IDEMPOTENCY_IN_FLIGHT,
-- IDEMPOTENCY_MISMATCH, or the recorded outcome with replayed = true.
-- Then it locks the session row FOR UPDATE, so the calls of one session
-- queue here and each sees what its predecessors wrote (this is what makes
-- 50 racing issues yield one challenge, and 100 racing wrong codes count
-- 100), and answers TOKEN_INVALID if the session ended while it waited.
-- Then it takes the user's verification lock (verify_lock: the calls of
-- one user's sessions queue there, so that no wrong code slips past
-- verify-failures-per-user) and answers RATE_LIMITED, with the limit and
-- the seconds left, while the user is locked out: a locked-out user can
-- neither verify nor get a new challenge.  A RATE_LIMITED outcome is not
-- recorded for the idempotency-ref (a retry after the lock is a new call).
-- A refusal after authentication is an audit event of the session, with
-- the request's context (p_request_ref, p_client_addr, p_user_agent):
-- limit.refused for RATE_LIMITED (the limit and the seconds left),
-- challenge.refused for IDEMPOTENCY_IN_FLIGHT and IDEMPOTENCY_MISMATCH; an
-- authentication failure (no session) and a replay write none.
-- outcome is NULL when the caller goes on with its own rules, holding the
-- session row; the session's step-up counters are returned as read under
-- the lock.  The caller ends with idempotency_finish.
CREATE OR REPLACE FUNCTION stepup.call_begin(p_api_key_hash bytea, p_token_hash bytea,
                                             p_operation text, p_idem_ref text,
                                             p_request_hash bytea, p_request_ref text,
                                             p_client_addr inet, p_user_agent text)
RETURNS TABLE (outcome text, replayed boolean, session_id uuid, user_id uuid,
               programme_id uuid, challenges_issued integer, last_challenge_at timestamptz,
               limit_name text, limit_count integer, limit_seconds integer, retry_after integer)
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_auth record;
    v_idem record;
    v_ended timestamptz;
BEGIN
    replayed := false;
    SELECT a.outcome, a.session_id, a.user_id, a.identity_id, a.programme_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation => false) a;
    IF v_auth.outcome <> 'OK' THEN
        outcome := v_auth.outcome;
        RETURN NEXT;
        RETURN;
    END IF;

    IF p_idem_ref IS NOT NULL THEN
        SELECT b.state, b.outcome INTO v_idem
          FROM idempotency_begin(v_auth.session_id, p_idem_ref, p_operation, p_request_hash) b;
        IF v_idem.state <> 'NEW' THEN
            outcome := CASE v_idem.state WHEN 'IN_FLIGHT' THEN 'IDEMPOTENCY_IN_FLIGHT'
                                         WHEN 'MISMATCH' THEN 'IDEMPOTENCY_MISMATCH'
                                         ELSE v_idem.outcome END;
            replayed := v_idem.state = 'REPLAY';
            IF NOT replayed THEN
                PERFORM audit_event('challenge.refused', v_auth.programme_id,
                                    p_user_id => v_auth.user_id,
                                    p_session_id => v_auth.session_id,
                                    p_request_ref => p_request_ref,
                                    p_client_addr => p_client_addr,
                                    p_user_agent => p_user_agent,
                                    p_detail => jsonb_build_object('outcome', outcome,
                                                                   'operation', p_operation),
                                    p_identity_id => v_auth.identity_id);
            END IF;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    SELECT s.ended_at, s.challenges_issued, s.last_challenge_at
      INTO v_ended, challenges_issued, last_challenge_at
      FROM sessions s
     WHERE s.id = v_auth.session_id
       FOR UPDATE;
    IF v_ended IS NOT NULL THEN
        -- logged out (or the user deactivated) while this call waited for the lock
        outcome := 'TOKEN_INVALID';
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM touch_session(v_auth.session_id); -- holding the row: it is touched

    PERFORM verify_lock(v_auth.user_id);
    SELECT 'RATE_LIMITED', r.limit_name, r.limit_count, r.limit_seconds, r.retry_after
      INTO outcome, limit_name, limit_count, limit_seconds, retry_after
      FROM lockout_refusal(v_auth.user_id) r;
    IF FOUND THEN
        PERFORM audit_limit_refused(v_auth.programme_id, v_auth.user_id, v_auth.session_id,
                                    limit_name, retry_after, p_operation, p_request_ref,
                                    p_client_addr, p_user_agent, v_auth.identity_id);
        RETURN NEXT;
        RETURN;
    END IF;

    session_id := v_auth.session_id;
    user_id := v_auth.user_id;
    programme_id := v_auth.programme_id;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.call_begin(bytea, bytea, text, text, bytea, text, inet, text) IS
    'Internal: authentication, idempotency and the session lock that open every state-changing call.';
