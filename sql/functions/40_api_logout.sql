-- api_logout: POST /logout.  Authenticates (impersonation sessions may log
-- out too) and ends the session: OK, or the authentication outcome.  Of
-- two racing logouts of one session the second waits for the first's row
-- lock, then finds the session ended: TOKEN_INVALID.
CREATE OR REPLACE FUNCTION stepup.api_logout(p_api_key_hash bytea, p_token_hash bytea)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_auth record;
BEGIN
    SELECT a.outcome, a.session_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation => true) a;
    IF v_auth.outcome <> 'OK' THEN
        RETURN v_auth.outcome;
    END IF;
    UPDATE sessions s SET ended_at = now(), last_seen_at = now()
     WHERE s.id = v_auth.session_id AND s.ended_at IS NULL;
    RETURN CASE WHEN FOUND THEN 'OK' ELSE 'TOKEN_INVALID' END;
END
$$;
COMMENT ON FUNCTION stepup.api_logout(bytea, bytea) IS
    'Ends the session of a token: OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';
GRANT EXECUTE ON FUNCTION stepup.api_logout(bytea, bytea) TO stepup_app;
