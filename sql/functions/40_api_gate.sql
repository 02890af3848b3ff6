-- api_gate: the FastCGI Authorizer check in front of legacy applications.
-- No api-key: the bearer token alone names the session and its programme,
-- so the gate trusts only the programmes that list it by name.
--   TOKEN_INVALID   the token is no live session (live_session: also a
--                   session of a deactivated user);
--   GATE_FORBIDDEN  the session's programme does not list gate p_gate
--                   (programmes.gates), or it is a sandbox programme and
--                   the gate does not allow sandbox sessions
--                   (p_allow_sandbox);
--   NOT_STEPPED_UP  an impersonation session, or one never stepped up, or
--                   stepped up more than p_max_age_seconds ago (NULL or a
--                   negative age: never stepped up enough);
--   OK              stepped up within p_max_age_seconds.
-- The ids are returned with every outcome but TOKEN_INVALID (for the log).
-- GATE_FORBIDDEN and NOT_STEPPED_UP are the audit event gate.refused of
-- the session (the outcome and the gate), with the request's context,
-- unless p_audit_refusal is false: an authorizer whose refusal the web
-- server throws away and sends back as an error document that asks again
-- (Apache's mod_fcgid, sql/schema/009_gate_refusal_once.sql), so that the
-- second ask, whose request-ref the client sees, records it.
-- TOKEN_INVALID (no session) and OK write none.
-- Unless an impersonation session or refused at this gate, the session's
-- idle time starts again (a request through the gate is activity of the
-- session), without waiting for the row (touch_session).
CREATE OR REPLACE FUNCTION stepup.api_gate(p_token_hash bytea, p_max_age_seconds integer,
                                           p_gate text, p_allow_sandbox boolean,
                                           p_audit_refusal boolean, p_request_ref text, p_client_addr inet,
                                           p_user_agent text)
RETURNS TABLE (outcome text, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
AS $$
DECLARE
    v_session record;
BEGIN
    SELECT l.*, p.gates, p.sandbox INTO v_session
      FROM live_session(p_token_hash) l
      JOIN programmes p ON p.id = l.programme_id;
    IF NOT FOUND THEN
        outcome := 'TOKEN_INVALID';
        RETURN NEXT;
        RETURN;
    END IF;

    user_id := v_session.user_id;
    identity_id := v_session.identity_id;
    programme_id := v_session.programme_id;
    IF p_gate IS NULL OR NOT p_gate = ANY (v_session.gates)
       OR (v_session.sandbox AND NOT coalesce(p_allow_sandbox, false)) THEN
        outcome := 'GATE_FORBIDDEN';
    ELSIF v_session.impersonation THEN
        outcome := 'NOT_STEPPED_UP';
    ELSE
        PERFORM touch_session(v_session.session_id);
        IF v_session.stepped_up_at IS NULL OR p_max_age_seconds IS NULL OR p_max_age_seconds < 0
           OR v_session.stepped_up_at + make_interval(secs => p_max_age_seconds) < now() THEN
            outcome := 'NOT_STEPPED_UP';
        ELSE
            outcome := 'OK';
        END IF;
    END IF;

    IF outcome <> 'OK' AND coalesce(p_audit_refusal, true) THEN
        PERFORM audit_event('gate.refused', v_session.programme_id,
                            p_user_id => v_session.user_id,
                            p_session_id => v_session.session_id, p_request_ref => p_request_ref,
                            p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                            p_detail => jsonb_build_object('outcome', outcome, 'gate', p_gate),
                            p_identity_id => v_session.identity_id);
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_gate(bytea, integer, text, boolean, boolean, text, inet, text) IS
    'Authorizer: OK when the token''s session, of a programme that lists this gate, was stepped up within the given seconds; TOKEN_INVALID, GATE_FORBIDDEN or NOT_STEPPED_UP.';
GRANT EXECUTE ON FUNCTION stepup.api_gate(bytea, integer, text, boolean, boolean, text, inet, text)
    TO stepup_app;
