-- authenticate: the api-key and bearer-token check shared by every endpoint.
--
-- API_KEY_UNKNOWN when no unrevoked key has this hash (key_programme);
-- TOKEN_INVALID when the token is no live session (live_session); FORBIDDEN
-- when the session belongs to another programme than the key, or is an
-- impersonation session and p_allow_impersonation is false; otherwise OK
-- with the ids, and the session's idle time starts again (touch_session,
-- which never waits for the row).  Callers that need the session serialised
-- lock its row themselves after these non-blocking checks (call_begin).
CREATE OR REPLACE FUNCTION stepup.authenticate(p_api_key_hash bytea, p_token_hash bytea,
                                               p_allow_impersonation boolean)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_key_programme uuid;
    v_session record;
BEGIN
    SELECT k.programme_id INTO v_key_programme FROM key_programme(p_api_key_hash) k;
    IF v_key_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT * INTO v_session FROM live_session(p_token_hash);
    IF NOT FOUND THEN
        outcome := 'TOKEN_INVALID';
        RETURN NEXT;
        RETURN;
    END IF;

    IF v_session.programme_id <> v_key_programme
       OR (v_session.impersonation AND NOT p_allow_impersonation) THEN
        outcome := 'FORBIDDEN';
        RETURN NEXT;
        RETURN;
    END IF;

    PERFORM touch_session(v_session.session_id);
    outcome := 'OK';
    session_id := v_session.session_id;
    user_id := v_session.user_id;
    identity_id := v_session.identity_id;
    programme_id := v_session.programme_id;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.authenticate(bytea, bytea, boolean) IS
    'Internal: checks api-key hash and token hash; OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';

-- api_authenticate: authenticate, for the endpoints that answer a request
-- that failed validation (401/403 before 400) and for those that only read.
CREATE OR REPLACE FUNCTION stepup.api_authenticate(p_api_key_hash bytea, p_token_hash bytea,
                                                   p_allow_impersonation boolean)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE sql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT a.outcome, a.session_id, a.user_id, a.identity_id, a.programme_id
      FROM stepup.authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation) a;
$$;
COMMENT ON FUNCTION stepup.api_authenticate(bytea, bytea, boolean) IS
    'The api-key and bearer-token check: OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';
GRANT EXECUTE ON FUNCTION stepup.api_authenticate(bytea, bytea, boolean) TO stepup_app;
