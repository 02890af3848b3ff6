-- The stepupctl commands on users and sessions: user create, enrol,
-- deactivate, activate, set-mobile and token impersonate, each one call of
-- a SECURITY DEFINER function executable by stepup_operator.  stepupctl
-- does what needs C: hashing the password (scrypt), judging a number with
-- libphonenumber (kind and region are passed in), making the token.
--
-- Deactivated users.  Deactivation ends every open session of the user in
-- the same transaction, so a deactivated user is logged out everywhere
-- (401) and cannot log in again (api_login_lookup / api_login_session
-- answer CREDENTIALS_INACTIVE, 403); live_session also refuses the
-- sessions of a user deactivated in plain SQL.  So that no login can slip
-- in between, api_login_session holds the user row FOR SHARE while it
-- opens the session: deactivation (UPDATE users, then UPDATE sessions)
-- either waits for that login and then ends its session, or is seen by it.

-- Changing a user's number supersedes the user's pending challenges sent
-- to another number and makes an ACTIVE or PENDING_VERIFICATION factor on
-- another number INACTIVE; api_verify_challenge then refuses an old
-- enrolment code (see 40_api_verify_challenge.sql).
--
-- Each command writes the audit event operator.change of the user (detail:
-- the command and what it set; never a password, its hash or a token).
--
-- Lock order, to stay free of deadlocks: these functions take the user row
-- first, then sessions, challenges and the factor in the order of the
-- api_* functions (session row, challenge rows, factor row: enrolment
-- writes its challenge before the factor), which never lock a user row for
-- update.

-- ctl_user_create: `stepupctl user create`.  A new user of the programme,
-- with a new identity whose ROOT it is, or, with p_identity_id, in that
-- identity of the same programme (role USER unless p_role says ROOT).
CREATE OR REPLACE FUNCTION stepup.ctl_user_create(p_programme_id uuid, p_email text,
                                                  p_password_hash text, p_mobile text,
                                                  p_mobile_kind text, p_mobile_region text,
                                                  p_role text, p_identity_id uuid)
RETURNS TABLE (user_id uuid, identity_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_role text := coalesce(p_role, CASE WHEN p_identity_id IS NULL THEN 'ROOT' ELSE 'USER' END);
BEGIN
    IF v_role NOT IN ('ROOT', 'USER') THEN
        RAISE EXCEPTION 'role: expected ROOT or USER, got %', p_role USING ERRCODE = '22023';
    END IF;
    PERFORM 1 FROM programmes p WHERE p.id = p_programme_id FOR KEY SHARE;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('programme', p_programme_id);
    END IF;
    IF p_identity_id IS NULL THEN
        INSERT INTO identities AS i (programme_id) VALUES (p_programme_id)
        RETURNING i.id INTO identity_id;
    ELSE
        SELECT i.id INTO identity_id
          FROM identities i
         WHERE i.id = p_identity_id AND i.programme_id = p_programme_id
           FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no identity % in programme %', p_identity_id, p_programme_id
                USING ERRCODE = 'P0002';
        END IF;
    END IF;
    INSERT INTO users AS u (identity_id, programme_id, role, email, password_hash, mobile,
                            mobile_kind, mobile_region)
    VALUES (identity_id, p_programme_id, v_role, p_email, p_password_hash, p_mobile,
            p_mobile_kind, p_mobile_region)
    RETURNING u.id INTO user_id;
    PERFORM audit_event('operator.change', p_programme_id, p_user_id => user_id,
                        p_identity_id => identity_id,
                        p_detail => jsonb_build_object('command', 'user create', 'role', v_role,
                                                       'identity', CASE WHEN p_identity_id IS NULL
                                                                        THEN 'new'
                                                                        ELSE 'existing' END,
                                                       'mobile', p_mobile,
                                                       'mobile_kind', p_mobile_kind,
                                                       'mobile_region', p_mobile_region));
    RETURN NEXT;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a user with this email already exists in the programme'
        USING ERRCODE = 'unique_violation';
END
$$;
COMMENT ON FUNCTION stepup.ctl_user_create(uuid, text, text, text, text, text, text, uuid) IS
    'stepupctl user create: a new user (and, unless given, a new identity); their ids.';
GRANT EXECUTE ON FUNCTION stepup.ctl_user_create(uuid, text, text, text, text, text, text, uuid)
    TO stepup_operator;

-- ctl_user_enrol: `stepupctl user enrol`: the factor of the channel (SMS)
-- becomes ACTIVE on the number on file, with its stored verdict, without
-- an OTP (for migrations and tests); the factor's status.
CREATE OR REPLACE FUNCTION stepup.ctl_user_enrol(p_user_id uuid, p_channel text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_user record;
BEGIN
    IF p_channel IS DISTINCT FROM 'SMS' THEN
        RAISE EXCEPTION 'channel: only SMS is supported, got %', p_channel USING ERRCODE = '22023';
    END IF;
    SELECT u.programme_id, u.mobile, u.mobile_kind, u.mobile_region INTO v_user
      FROM users u WHERE u.id = p_user_id;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    IF v_user.mobile IS NULL THEN
        RAISE EXCEPTION 'user % has no mobile number on file (stepupctl user set-mobile)', p_user_id
            USING ERRCODE = '55000';
    END IF;
    INSERT INTO factors AS f (user_id, channel, status, mobile, mobile_kind, mobile_region)
    VALUES (p_user_id, p_channel, 'ACTIVE', v_user.mobile, v_user.mobile_kind, v_user.mobile_region)
    ON CONFLICT (user_id, channel) DO UPDATE
       SET status = 'ACTIVE', mobile = excluded.mobile, mobile_kind = excluded.mobile_kind,
           mobile_region = excluded.mobile_region;
    PERFORM audit_event('operator.change', v_user.programme_id, p_user_id => p_user_id,
                        p_detail => jsonb_build_object('command', 'user enrol',
                                                       'channel', p_channel, 'status', 'ACTIVE',
                                                       'mobile', v_user.mobile));
    RETURN 'ACTIVE';
END
$$;
COMMENT ON FUNCTION stepup.ctl_user_enrol(uuid, text) IS
    'stepupctl user enrol: makes the user''s factor ACTIVE on the number on file, without an OTP.';
GRANT EXECUTE ON FUNCTION stepup.ctl_user_enrol(uuid, text) TO stepup_operator;

-- ctl_user_set_active: `stepupctl user deactivate|activate`.  Deactivating
-- also ends every open session of the user (see above); returns how many
-- (0 when activating: ended sessions stay ended).
CREATE OR REPLACE FUNCTION stepup.ctl_user_set_active(p_user_id uuid, p_active boolean)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_ended integer := 0;
    v_programme uuid;
BEGIN
    UPDATE users u SET active = p_active WHERE u.id = p_user_id
    RETURNING u.programme_id INTO v_programme;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    IF NOT p_active THEN
        UPDATE sessions s SET ended_at = now()
         WHERE s.user_id = p_user_id AND s.ended_at IS NULL;
        GET DIAGNOSTICS v_ended = ROW_COUNT;
    END IF;
    PERFORM audit_event('operator.change', v_programme, p_user_id => p_user_id,
                        p_detail => jsonb_build_object('command',
                                                       CASE WHEN p_active THEN 'user activate'
                                                            ELSE 'user deactivate' END,
                                                       'active', p_active,
                                                       'sessions_ended', v_ended));
    RETURN v_ended;
END
$$;
COMMENT ON FUNCTION stepup.ctl_user_set_active(uuid, boolean) IS
    'stepupctl user deactivate / activate; deactivation ends the user''s open sessions (their number is returned).';
GRANT EXECUTE ON FUNCTION stepup.ctl_user_set_active(uuid, boolean) TO stepup_operator;

-- ctl_user_set_mobile: `stepupctl user set-mobile`: stores the number with
-- its verdict and, in the same transaction, supersedes the user's pending
-- challenges sent to another number and retires an ACTIVE or
-- PENDING_VERIFICATION factor on another number (INACTIVE until enrolled
-- again).  Returns the factor's status, NULL when the user has none.
CREATE OR REPLACE FUNCTION stepup.ctl_user_set_mobile(p_user_id uuid, p_mobile text,
                                                      p_mobile_kind text, p_mobile_region text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_status text;
    v_programme uuid;
    v_superseded uuid[];
    v_retired integer;
BEGIN
    UPDATE users u
       SET mobile = p_mobile, mobile_kind = p_mobile_kind, mobile_region = p_mobile_region
     WHERE u.id = p_user_id
    RETURNING u.programme_id INTO v_programme;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    -- challenges before the factor: the lock order of api_verify_challenge
    WITH s AS (
        UPDATE challenges c SET status = 'SUPERSEDED', ended_at = now()
         WHERE c.user_id = p_user_id AND c.status = 'PENDING' AND c.expires_at > now()
           AND c.mobile IS DISTINCT FROM p_mobile
        RETURNING c.id
    )
    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}') INTO v_superseded FROM s;
    UPDATE factors f SET status = 'INACTIVE'
     WHERE f.user_id = p_user_id AND f.channel = 'SMS'
       AND f.status IN ('ACTIVE', 'PENDING_VERIFICATION')
       AND f.mobile IS DISTINCT FROM p_mobile;
    GET DIAGNOSTICS v_retired = ROW_COUNT;
    SELECT f.status INTO v_status FROM factors f WHERE f.user_id = p_user_id AND f.channel = 'SMS';
    PERFORM audit_event('operator.change', v_programme, p_user_id => p_user_id,
                        p_detail => jsonb_build_object('command', 'user set-mobile',
                                                       'mobile', p_mobile,
                                                       'mobile_kind', p_mobile_kind,
                                                       'mobile_region', p_mobile_region,
                                                       'challenges_superseded', v_superseded,
                                                       'factor_retired', v_retired > 0,
                                                       'factor_status', v_status));
    RETURN v_status;
END
$$;
COMMENT ON FUNCTION stepup.ctl_user_set_mobile(uuid, text, text, text) IS
    'stepupctl user set-mobile: a new number on file; retires a factor and pending codes on another number.';
GRANT EXECUTE ON FUNCTION stepup.ctl_user_set_mobile(uuid, text, text, text) TO stepup_operator;

-- ctl_token_impersonate: `stepupctl token impersonate --user ID`: a
-- back-office session of the user (impersonation: it may read, never step
-- up) for a token stepupctl made and shows once; the session's id.
CREATE OR REPLACE FUNCTION stepup.ctl_token_impersonate(p_user_id uuid, p_token_hash bytea)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid;
    v_programme uuid;
BEGIN
    INSERT INTO sessions AS s (programme_id, user_id, token_hash, impersonation, user_agent,
                               expires_at)
    SELECT u.programme_id, u.id, p_token_hash, true, 'stepupctl',
           session_expiry(now(), p.session_ttl_seconds, p.session_max_seconds)
      FROM users u JOIN programmes p ON p.id = u.programme_id
     WHERE u.id = p_user_id
    RETURNING s.id, s.programme_id INTO v_id, v_programme;
    IF v_id IS NULL THEN
        PERFORM ctl_not_found('user', p_user_id);
    END IF;
    PERFORM audit_event('operator.change', v_programme, p_user_id => p_user_id,
                        p_session_id => v_id,
                        p_detail => jsonb_build_object('command', 'token impersonate'));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION stepup.ctl_token_impersonate(uuid, bytea) IS
    'stepupctl token impersonate: opens a back-office (impersonation) session; its id.';
GRANT EXECUTE ON FUNCTION stepup.ctl_token_impersonate(uuid, bytea) TO stepup_operator;
