-- authenticate: the api-key and bearer-token check shared by every endpoint.
--
-- API_KEY_UNKNOWN when no unrevoked key has this hash (key_programme);
-- TOKEN_INVALID when the token is no live session (live_session); FORBIDDEN
-- when the session belongs to another programme than the key, or is an
-- impersonation session and p_allow_impersonation is false; otherwise OK
-- with the ids.  It only reads, in one statement: a caller whose request
-- is activity of the session moves its idle time itself, either without
-- waiting for the row (touch_session: api_authenticate, api_factors) or
-- holding it (call_begin, which locks the row after these checks, and
-- call_end).  No SET clause, and every name qualified: it runs inside the
-- SECURITY DEFINER functions, in every call.
CREATE OR REPLACE FUNCTION stepup.authenticate(p_api_key_hash bytea, p_token_hash bytea,
                                               p_allow_impersonation boolean)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
AS $$
DECLARE
    v record;
BEGIN
    SELECT (SELECT k.programme_id FROM stepup.key_programme(p_api_key_hash) k) AS key_programme,
           l.session_id, l.programme_id, l.user_id, l.identity_id, l.impersonation
      INTO v
      FROM (VALUES (true)) AS one (x)
      LEFT JOIN stepup.live_session(p_token_hash) l ON true;
    IF v.key_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
    ELSIF v.session_id IS NULL THEN
        outcome := 'TOKEN_INVALID';
    ELSIF v.programme_id <> v.key_programme
          OR (v.impersonation AND NOT p_allow_impersonation) THEN
        outcome := 'FORBIDDEN';
    ELSE
        outcome := 'OK';
        session_id := v.session_id;
        user_id := v.user_id;
        identity_id := v.identity_id;
        programme_id := v.programme_id;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.authenticate(bytea, bytea, boolean) IS
    'Internal: checks api-key hash and token hash; OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';

-- api_authenticate: authenticate, for the endpoints that answer a request
-- that failed validation (401/403 before 400); the request is activity of
-- the session (touch_session).  PL/pgSQL: a SECURITY DEFINER SQL function
-- is planned at every call.
CREATE OR REPLACE FUNCTION stepup.api_authenticate(p_api_key_hash bytea, p_token_hash bytea,
                                                   p_allow_impersonation boolean)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    SELECT a.outcome, a.session_id, a.user_id, a.identity_id, a.programme_id
      INTO outcome, session_id, user_id, identity_id, programme_id
      FROM stepup.authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation) a;
    IF outcome = 'OK' THEN
        PERFORM stepup.touch_session(session_id); -- a request of the session
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_authenticate(bytea, bytea, boolean) IS
    'The api-key and bearer-token check: OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';
GRANT EXECUTE ON FUNCTION stepup.api_authenticate(bytea, bytea, boolean) TO stepup_app;
