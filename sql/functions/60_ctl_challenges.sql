-- ctl_challenges: `stepupctl challenges --user ID [--limit N]`: the user's
-- challenges from stepup.challenge_history (effective status, never a code
-- or a hash), newest first, one JSON object each (json_build_object keeps
-- the key order; timestamps in ISO 8601); all of them when p_limit is NULL.
CREATE OR REPLACE FUNCTION stepup.ctl_challenges(p_user_id uuid, p_limit integer)
RETURNS SETOF json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM users u WHERE u.id = p_user_id;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    RETURN QUERY
    SELECT json_build_object(
               'id', h.id, 'purpose', h.purpose, 'channel', h.channel, 'status', h.status,
               'attempts', h.attempts, 'createdAt', h.created_at, 'expiresAt', h.expires_at,
               'endedAt', h.ended_at, 'mobile', h.mobile, 'requestRef', h.request_ref,
               'clientAddr', host(h.client_addr), 'userAgent', h.user_agent,
               'sessionId', h.session_id)
      FROM challenge_history h
     WHERE h.user_id = p_user_id
     ORDER BY h.created_at DESC, h.id
     LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION stepup.ctl_challenges(uuid, integer) IS
    'stepupctl challenges: a user''s challenge history as JSON objects, newest first.';
GRANT EXECUTE ON FUNCTION stepup.ctl_challenges(uuid, integer) TO stepup_operator;
