-- api_factors: GET /authentication_factors.  Impersonation sessions may
-- look.  OK with factors = a JSON array of
-- {"type": "OTP", "channel": ..., "status": ...} for the user's factors
-- ([] when there are none), or the authentication outcome with NULL.
CREATE OR REPLACE FUNCTION stepup.api_factors(p_api_key_hash bytea, p_token_hash bytea)
RETURNS TABLE (outcome text, factors jsonb)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_auth record;
BEGIN
    SELECT a.outcome, a.session_id, a.user_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation => true) a;
    outcome := v_auth.outcome;
    IF v_auth.outcome = 'OK' THEN
        PERFORM touch_session(v_auth.session_id); -- a request of the session
        SELECT coalesce(jsonb_agg(jsonb_build_object('type', 'OTP', 'channel', f.channel,
                                                     'status', f.status)
                                  ORDER BY f.channel), '[]'::jsonb)
          INTO factors
          FROM stepup.factors f
         WHERE f.user_id = v_auth.user_id;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_factors(bytea, bytea) IS
    'Lists the user''s authentication factors as a JSON array; OK or the authentication outcome.';
GRANT EXECUTE ON FUNCTION stepup.api_factors(bytea, bytea) TO stepup_app;
