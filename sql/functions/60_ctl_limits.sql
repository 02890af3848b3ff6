-- The stepupctl commands on rate limits: limits show and limits reset, for
-- a support desk.  What is counted against a user: challenges-per-user and
-- verify-failures-per-user (by the user's id), login-failures-per-user (by
-- the user's e-mail address), challenges-per-number (by the user's number
-- on file and the enrolled one), and the user's lock-outs.

-- user_limit_subjects: the counters that count a user, as (limit, subject).
CREATE OR REPLACE FUNCTION stepup.user_limit_subjects(p_user_id uuid)
RETURNS TABLE (programme_id uuid, limit_name text, subject text)
LANGUAGE sql
STABLE
AS $$
    SELECT u.programme_id, s.limit_name, s.subject
      FROM stepup.users u
     CROSS JOIN LATERAL (VALUES ('challenges-per-user', u.id::text),
                                ('verify-failures-per-user', u.id::text),
                                ('login-failures-per-user', stepup.limit_email_subject(u.email)),
                                ('challenges-per-number', u.mobile)) AS s(limit_name, subject)
     WHERE u.id = p_user_id AND s.subject IS NOT NULL
    UNION
    SELECT u.programme_id, 'challenges-per-number', f.mobile
      FROM stepup.users u
      JOIN stepup.factors f ON f.user_id = u.id
     WHERE u.id = p_user_id AND f.mobile IS NOT NULL;
$$;
COMMENT ON FUNCTION stepup.user_limit_subjects(uuid) IS
    'Internal: the (limit, subject) pairs whose counters count a user.';

-- ctl_limits_show: `stepupctl limits show --user ID`: every limit that
-- counts the user, with its value and the hits of its current window, and
-- the user's lock-outs of the last day.
CREATE OR REPLACE FUNCTION stepup.ctl_limits_show(p_user_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_doc json;
BEGIN
    SELECT json_build_object(
               'user_id', u.id, 'programme_id', u.programme_id,
               'locked_out', EXISTS (SELECT 1 FROM lockout_refusal(u.id)),
               'counted', (SELECT coalesce(json_agg(json_build_object(
                                      'limit', s.limit_name,
                                      'subject', CASE s.limit_name
                                                     WHEN 'challenges-per-number' THEN s.subject
                                                     WHEN 'login-failures-per-user' THEN 'email'
                                                     ELSE 'user' END,
                                      'value', limit_text(e.max_count, e.period_seconds),
                                      'hits', CASE WHEN e.max_count IS NOT NULL THEN
                                                  (SELECT coalesce(sum(c.hits), 0)
                                                     FROM limit_counters c
                                                    WHERE c.programme_id = s.programme_id
                                                      AND c.limit_name = s.limit_name
                                                      AND c.subject = s.subject
                                                      AND c.window_start =
                                                          limit_window_start(e.period_seconds))
                                              END,
                                      'window_resets_in', CASE WHEN e.max_count IS NOT NULL THEN
                                                  ceil(extract(epoch FROM
                                                      limit_window_start(e.period_seconds)
                                                      + make_interval(secs => e.period_seconds)
                                                      - now()))::integer END)
                                      ORDER BY s.limit_name, s.subject), '[]'::json)
                             FROM user_limit_subjects(u.id) s
                            CROSS JOIN LATERAL programme_limit(s.programme_id, s.limit_name) e),
               'lockouts', (SELECT coalesce(json_agg(json_build_object(
                                       'limit', o.limit_name, 'locked_at', o.locked_at,
                                       'locked_until', o.locked_until, 'lifted_at', o.lifted_at,
                                       'holds', o.lifted_at IS NULL AND o.locked_until > now())
                                       ORDER BY o.locked_at), '[]'::json)
                              FROM lockouts o
                             WHERE o.user_id = u.id
                               AND (o.locked_at > now() - interval '1 day'
                                    OR o.locked_until > now())))
      INTO v_doc
      FROM users u
     WHERE u.id = p_user_id;
    IF v_doc IS NULL THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    RETURN v_doc;
END
$$;
COMMENT ON FUNCTION stepup.ctl_limits_show(uuid) IS
    'stepupctl limits show: what the rate limits count against a user, and the user''s lock-outs.';
GRANT EXECUTE ON FUNCTION stepup.ctl_limits_show(uuid) TO stepup_operator;

-- ctl_limits_reset: `stepupctl limits reset --user ID`: lifts the user's
-- lock-outs (so that the next one is short again) and clears the counters
-- that count the user; other users' counters, the prefix and programme
-- counters stay.  Returns how many of each, which the audit event
-- operator.change of the user records too.
CREATE OR REPLACE FUNCTION stepup.ctl_limits_reset(p_user_id uuid)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_lifted integer;
    v_cleared integer;
    v_programme uuid;
BEGIN
    SELECT u.programme_id INTO v_programme FROM users u WHERE u.id = p_user_id;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    -- after any verification of the user in flight (which may lock it out),
    -- and taking the counter rows in the order limits_take does
    PERFORM verify_lock(p_user_id);
    PERFORM 1
       FROM limit_counters c
       JOIN user_limit_subjects(p_user_id) s
         ON c.programme_id = s.programme_id AND c.limit_name = s.limit_name
        AND c.subject = s.subject
      ORDER BY array_position(ARRAY['login-failures-per-user', 'challenges-per-user',
                                    'challenges-per-number', 'verify-failures-per-user'],
                              c.limit_name), c.subject, c.shard
        FOR UPDATE OF c;
    UPDATE lockouts o SET lifted_at = now()
     WHERE o.user_id = p_user_id AND o.lifted_at IS NULL
       AND (o.locked_at > now() - interval '1 day' OR o.locked_until > now());
    GET DIAGNOSTICS v_lifted = ROW_COUNT;
    DELETE FROM limit_counters c
     USING user_limit_subjects(p_user_id) s
     WHERE c.programme_id = s.programme_id AND c.limit_name = s.limit_name
       AND c.subject = s.subject;
    GET DIAGNOSTICS v_cleared = ROW_COUNT;
    PERFORM audit_event('operator.change', v_programme, p_user_id => p_user_id,
                        p_detail => jsonb_build_object('command', 'limits reset',
                                                       'lockouts_lifted', v_lifted,
                                                       'counters_cleared', v_cleared));
    RETURN json_build_object('user_id', p_user_id, 'lockouts_lifted', v_lifted,
                             'counters_cleared', v_cleared);
END
$$;
COMMENT ON FUNCTION stepup.ctl_limits_reset(uuid) IS
    'stepupctl limits reset: lifts a user''s lock-outs and clears the counters that count the user.';
GRANT EXECUTE ON FUNCTION stepup.ctl_limits_reset(uuid) TO stepup_operator;
