-- session_expiry: when a session used now ends: its programme's idle
-- timeout from now, but never later than its absolute lifetime from its
-- creation.  The one rule of a session's end; login and every use store
-- it in sessions.expires_at (so that a later change of the programme's
-- timeouts does not revive a session that had already ended).
CREATE OR REPLACE FUNCTION stepup.session_expiry(p_created_at timestamptz, p_ttl_seconds integer,
                                                 p_max_seconds integer)
RETURNS timestamptz
LANGUAGE sql
STABLE
AS $$
    SELECT least(now() + make_interval(secs => p_ttl_seconds),
                 p_created_at + make_interval(secs => p_max_seconds));
$$;
COMMENT ON FUNCTION stepup.session_expiry(timestamptz, integer, integer) IS
    'Internal: the end of a session used now: now + idle timeout, at most created + absolute lifetime.';

-- live_session: the session a bearer token (by its hash) opens, or no row
-- when no session has this hash, it was logged out, its end has passed,
-- or its user is deactivated (even when that was done in plain SQL,
-- without ending the sessions).  Its end is the stored one
-- (sessions.expires_at: raising a timeout later revives nothing) or what
-- the programme's timeouts say now, whichever comes first (lowering a
-- timeout takes effect at once).  The one place that decides whether a
-- token is a live session (authenticate and api_gate use it).  Inlined
-- into its callers (see 10_key_programme.sql).
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
       AND s.expires_at > now()
       AND s.last_seen_at + make_interval(secs => p.session_ttl_seconds) > now()
       AND s.created_at + make_interval(secs => p.session_max_seconds) > now()
       AND u.active;
$$;
COMMENT ON FUNCTION stepup.live_session(bytea) IS
    'Internal: the open, unexpired session of an active user for a token hash, with its user, identity and programme; no row otherwise.';

-- touch_session: a request of the session arrived, so its idle time starts
-- again (last_seen_at = now(), expires_at by session_expiry), without ever
-- waiting for the row: when another transaction holds it (and is touching
-- it itself), nothing is done, so that concurrent requests of one session
-- do not queue here.  A transaction that holds the row itself (call_begin)
-- touches it, and a session this transaction touched already is not
-- written again.  A session whose end has passed is not revived.
CREATE OR REPLACE FUNCTION stepup.touch_session(p_session_id uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the connection's lifetime.
    UPDATE stepup.sessions s
       SET last_seen_at = now(),
           expires_at = stepup.session_expiry(s.created_at, p.session_ttl_seconds,
                                              p.session_max_seconds)
      FROM stepup.programmes p
     WHERE p.id = s.programme_id AND s.expires_at > now() AND s.last_seen_at < now()
       AND s.id = (SELECT t.id FROM stepup.sessions t WHERE t.id = p_session_id
                      FOR NO KEY UPDATE SKIP LOCKED);
END
$$;
COMMENT ON FUNCTION stepup.touch_session(uuid) IS
    'Internal: sets a session''s last_seen_at to now() and moves its end, unless another transaction holds the row.';
