-- api_logout: POST /logout.  Authenticates (impersonation sessions may log
-- out too) and ends the session, writing the audit event logout (the
-- session and its user, with the request's context): OK, or the
-- authentication outcome (no event).  Of two racing logouts of one
-- session the second waits for the first's row lock, then finds the
-- session ended: TOKEN_INVALID.
CREATE OR REPLACE FUNCTION stepup.api_logout(p_api_key_hash bytea, p_token_hash bytea,
                                             p_request_ref text, p_client_addr inet,
                                             p_user_agent text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
AS $$
DECLARE
    v_auth record;
BEGIN
    SELECT a.outcome, a.session_id, a.user_id, a.identity_id, a.programme_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation => true) a;
    IF v_auth.outcome <> 'OK' THEN
        RETURN v_auth.outcome;
    END IF;
    UPDATE sessions s SET ended_at = now(), last_seen_at = now()
     WHERE s.id = v_auth.session_id AND s.ended_at IS NULL;
    IF NOT FOUND THEN
        RETURN 'TOKEN_INVALID';
    END IF;
    PERFORM audit_event('logout', v_auth.programme_id, p_user_id => v_auth.user_id,
                        p_session_id => v_auth.session_id, p_request_ref => p_request_ref,
                        p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                        p_identity_id => v_auth.identity_id);
    RETURN 'OK';
END
$$;
COMMENT ON FUNCTION stepup.api_logout(bytea, bytea, text, inet, text) IS
    'Ends the session of a token: OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';
GRANT EXECUTE ON FUNCTION stepup.api_logout(bytea, bytea, text, inet, text) TO stepup_app;
