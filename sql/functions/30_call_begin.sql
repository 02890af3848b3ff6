-- call_begin and call_end: the opening and the end of every
-- state-changing api_* function (issue, enrolment, verification).
--
-- call_begin authenticates (impersonation refused; no waiting on the
-- session row), then applies the idempotency-ref: IDEMPOTENCY_IN_FLIGHT,
-- IDEMPOTENCY_MISMATCH, or the recorded outcome with replayed = true.
-- Then it locks the session row, so the calls of one session queue here
-- and each sees what its predecessors wrote (this is what makes 50 racing
-- issues yield one challenge, and 100 racing wrong codes count 100), and
-- answers TOKEN_INVALID if the session ended while it waited.  Then it
-- takes the user's verification lock (verify_lock: the calls of one
-- user's sessions queue there, so that no wrong code slips past
-- verify-failures-per-user) and answers RATE_LIMITED, with the limit and
-- the seconds left, while the user is locked out: a locked-out user can
-- neither verify nor get a new challenge.  A RATE_LIMITED outcome is not
-- recorded for the idempotency-ref (a retry after the lock is a new call).
-- A refusal after authentication is an audit event of the session, with
-- the request's context (p_request_ref, p_client_addr, p_user_agent):
-- limit.refused for RATE_LIMITED (the limit and the seconds left),
-- challenge.refused for IDEMPOTENCY_IN_FLIGHT and IDEMPOTENCY_MISMATCH; an
-- authentication failure (no session) and a replay write none; every
-- refusal of a live session moves its idle time (a request of the
-- session).
-- outcome is NULL when the caller goes on with its own rules, holding the
-- session row; the session's step-up counters are returned as read under
-- the lock.  The caller then ends with call_end, on every path.
--
-- The session row is written once per call, by call_end (its idle time,
-- and what the call changed of it), not touched on the way in: a row
-- version fewer, and the lock is FOR NO KEY UPDATE, which the foreign
-- keys of the rows a call inserts do not wait for.
CREATE OR REPLACE FUNCTION stepup.call_begin(p_api_key_hash bytea, p_token_hash bytea,
                                             p_operation text, p_idem_ref text,
                                             p_request_hash bytea, p_request_ref text,
                                             p_client_addr inet, p_user_agent text)
RETURNS TABLE (outcome text, replayed boolean, session_id uuid, user_id uuid,
               programme_id uuid, challenges_issued integer, last_challenge_at timestamptz,
               limit_name text, limit_count integer, limit_seconds integer, retry_after integer,
               identity_id uuid)
LANGUAGE plpgsql
AS $$
DECLARE
    v_auth record;
    v_idem record;
    v_ended timestamptz;
BEGIN
    replayed := false;
    SELECT a.outcome, a.session_id, a.user_id, a.identity_id, a.programme_id INTO v_auth
      FROM stepup.authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation => false) a;
    IF v_auth.outcome <> 'OK' THEN
        outcome := v_auth.outcome;
        RETURN NEXT;
        RETURN;
    END IF;

    IF p_idem_ref IS NOT NULL THEN
        SELECT b.state, b.outcome INTO v_idem
          FROM stepup.idempotency_begin(v_auth.session_id, p_idem_ref, p_operation,
                                        p_request_hash) b;
        IF v_idem.state <> 'NEW' THEN
            outcome := CASE v_idem.state WHEN 'IN_FLIGHT' THEN 'IDEMPOTENCY_IN_FLIGHT'
                                         WHEN 'MISMATCH' THEN 'IDEMPOTENCY_MISMATCH'
                                         ELSE v_idem.outcome END;
            replayed := v_idem.state = 'REPLAY';
            IF NOT replayed THEN
                PERFORM stepup.audit_event('challenge.refused', v_auth.programme_id,
                                           p_user_id => v_auth.user_id,
                                           p_session_id => v_auth.session_id,
                                           p_request_ref => p_request_ref,
                                           p_client_addr => p_client_addr,
                                           p_user_agent => p_user_agent,
                                           p_detail => jsonb_build_object('outcome', outcome,
                                                                          'operation', p_operation),
                                           p_identity_id => v_auth.identity_id);
            END IF;
            PERFORM stepup.touch_session(v_auth.session_id);
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    SELECT s.ended_at, s.challenges_issued, s.last_challenge_at
      INTO v_ended, challenges_issued, last_challenge_at
      FROM stepup.sessions s
     WHERE s.id = v_auth.session_id
       FOR NO KEY UPDATE;
    IF v_ended IS NOT NULL THEN
        -- logged out (or the user deactivated) while this call waited for the lock
        outcome := 'TOKEN_INVALID';
        RETURN NEXT;
        RETURN;
    END IF;

    PERFORM stepup.verify_lock(v_auth.user_id);
    SELECT 'RATE_LIMITED', r.limit_name, r.limit_count, r.limit_seconds, r.retry_after
      INTO outcome, limit_name, limit_count, limit_seconds, retry_after
      FROM stepup.lockout_refusal(v_auth.user_id) r;
    IF FOUND THEN
        PERFORM stepup.audit_limit_refused(v_auth.programme_id, v_auth.user_id,
                                           v_auth.session_id, limit_name, retry_after,
                                           p_operation, p_request_ref, p_client_addr,
                                           p_user_agent, v_auth.identity_id);
        PERFORM stepup.call_end(v_auth.session_id, outcome, p_idem_ref, p_operation,
                                p_request_hash);
        RETURN NEXT;
        RETURN;
    END IF;

    session_id := v_auth.session_id;
    user_id := v_auth.user_id;
    programme_id := v_auth.programme_id;
    identity_id := v_auth.identity_id;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.call_begin(bytea, bytea, text, text, bytea, text, inet, text) IS
    'Internal: authentication, idempotency and the session lock that open every state-changing call.';

-- call_end: the end of a call that call_begin let through, on every path:
-- the session's one write of the call (its idle time starts again, as
-- touch_session would move it, never reviving a session whose end has
-- passed; with p_issued a challenge was issued: the count of the session's
-- challenges and the retry window move; with p_stepped_up the session is
-- stepped up now), then, with an idempotency ref, the outcome is recorded
-- (idempotency_finish), unless it is RATE_LIMITED (a retry after the
-- window is a new call).  The caller holds the session row (call_begin).
CREATE OR REPLACE FUNCTION stepup.call_end(p_session_id uuid, p_outcome text, p_idem_ref text,
                                           p_operation text, p_request_hash bytea,
                                           p_issued boolean DEFAULT false,
                                           p_stepped_up boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE stepup.sessions s
       SET last_seen_at = CASE WHEN s.expires_at > now() THEN now() ELSE s.last_seen_at END,
           expires_at = CASE WHEN s.expires_at > now()
                             THEN stepup.session_expiry(s.created_at, p.session_ttl_seconds,
                                                        p.session_max_seconds)
                             ELSE s.expires_at END,
           challenges_issued = s.challenges_issued + CASE WHEN p_issued THEN 1 ELSE 0 END,
           last_challenge_at = CASE WHEN p_issued THEN now() ELSE s.last_challenge_at END,
           stepped_up_at = CASE WHEN p_stepped_up THEN now() ELSE s.stepped_up_at END
      FROM stepup.programmes p
     WHERE s.id = p_session_id AND p.id = s.programme_id;
    IF p_idem_ref IS NOT NULL AND p_outcome <> 'RATE_LIMITED' THEN
        PERFORM stepup.idempotency_finish(p_session_id, p_idem_ref, p_operation, p_request_hash,
                                          p_outcome);
    END IF;
END
$$;
COMMENT ON FUNCTION stepup.call_end(uuid, text, text, text, bytea, boolean, boolean) IS
    'Internal: the session''s one write of a call (idle time, issue counters, step-up) and the idempotency record.';
