-- api_gate: the FastCGI Authorizer check in front of legacy applications.
-- No api-key: the bearer token alone names the session and its programme.
--   TOKEN_INVALID   the token is no live session (live_session);
--   NOT_STEPPED_UP  an impersonation session, or one never stepped up, or
--                   stepped up more than p_max_age_seconds ago (NULL or a
--                   negative age: never stepped up enough);
--   OK              stepped up within p_max_age_seconds.
-- The ids are returned with OK and with NOT_STEPPED_UP (for the log), NULL
-- with TOKEN_INVALID.  Unless an impersonation session, the session's idle
-- time starts again (a request through the gate is activity of the
-- session), without waiting for the row (touch_session).
CREATE OR REPLACE FUNCTION stepup.api_gate(p_token_hash bytea, p_max_age_seconds integer)
RETURNS TABLE (outcome text, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_session record;
BEGIN
    SELECT * INTO v_session FROM live_session(p_token_hash);
    IF NOT FOUND THEN
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

    PERFORM touch_session(v_session.session_id);
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
GRANT EXECUTE ON FUNCTION stepup.api_gate(bytea, integer) TO stepup_app;
