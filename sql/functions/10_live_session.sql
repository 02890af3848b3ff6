-- live_session: the session a bearer token (by its hash) opens, or no row
-- when no session has this hash, it was logged out, or it has been idle
-- longer than its programme's session_ttl_seconds.  The one place that
-- decides whether a token is a live session (authenticate and api_gate use
-- it).  Inlined into its callers (see 10_key_programme.sql).
CREATE OR REPLACE FUNCTION stepup.live_session(p_token_hash bytea)
RETURNS TABLE (session_id uuid, programme_id uuid, user_id uuid, identity_id uuid,
               impersonation boolean, stepped_up_at timestamptz)
LANGUAGE sql
STABLE
AS $$
    SELECT s.id, s.programme_id, s.user_id, u.identity_id, s.impersonation, s.stepped_up_at
      FROM stepup.sessions s
      JOIN stepup.users u ON u.id = s.user_id
      JOIN stepup.programmes p ON p.id = s.programme_id
     WHERE s.token_hash = p_token_hash
       AND s.ended_at IS NULL
       AND s.last_seen_at + make_interval(secs => p.session_ttl_seconds) >= now();
$$;
COMMENT ON FUNCTION stepup.live_session(bytea) IS
    'Internal: the open, unexpired session of a token hash, with its user, identity and programme; no row otherwise.';

-- touch_session: a request of the session arrived, so its idle time starts
-- again (last_seen_at = now()), without ever waiting for the row: when
-- another transaction holds it (and is touching it itself), nothing is
-- done, so that concurrent requests of one session do not queue here.
-- Callers that need the session serialised lock the row themselves.
CREATE OR REPLACE FUNCTION stepup.touch_session(p_session_id uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the connection's lifetime.
    UPDATE stepup.sessions s SET last_seen_at = now()
     WHERE s.id = (SELECT t.id FROM stepup.sessions t WHERE t.id = p_session_id
                      FOR NO KEY UPDATE SKIP LOCKED);
END
$$;
COMMENT ON FUNCTION stepup.touch_session(uuid) IS
    'Internal: sets a session''s last_seen_at to now() unless another transaction holds the row.';
