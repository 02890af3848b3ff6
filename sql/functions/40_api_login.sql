-- POST /login_with_password costs two calls: api_login_lookup fetches the
-- user's password hash, the caller verifies the password (scrypt, in C),
-- and api_login_session opens the session once it matched.
--
-- Limits: the lookup counts the attempt against login-per-address and,
-- before the password is checked, as a failure against
-- login-failures-per-user (for the e-mail address as typed, known or
-- not); api_login_session gives the failure back.  So a failed login
-- costs one round trip, and a login over either limit is refused
-- (RATE_LIMITED) before any password is checked, for an unknown address
-- exactly as for a known one.

-- api_login_lookup: API_KEY_UNKNOWN; RATE_LIMITED (with the limit reached
-- and the seconds until a login would be allowed); USER_UNKNOWN when the
-- key's programme has no user with this email (case-insensitive);
-- CREDENTIALS_INACTIVE when the user is deactivated - the password hash is
-- still returned so that the caller spends the same time verifying;
-- otherwise OK.
CREATE OR REPLACE FUNCTION stepup.api_login_lookup(p_api_key_hash bytea, p_email text,
                                                   p_client_addr inet)
RETURNS TABLE (outcome text, user_id uuid, identity_id uuid, identity_type text, role text,
               password_hash text, limit_name text, limit_count integer,
               limit_seconds integer, retry_after integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_programme uuid;
    v_user record;
BEGIN
    SELECT k.programme_id INTO v_programme FROM key_programme(p_api_key_hash) k;
    IF v_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT t.limit_name, t.limit_count, t.limit_seconds, t.retry_after
      INTO limit_name, limit_count, limit_seconds, retry_after
      FROM limits_take(v_programme, ARRAY['login-per-address', 'login-failures-per-user'],
                       ARRAY[limit_address_subject(p_client_addr),
                             limit_email_subject(p_email)]) t;
    IF limit_name IS NOT NULL THEN
        outcome := 'RATE_LIMITED';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT u.id, u.identity_id, i.type, u.role, u.password_hash, u.active
      INTO v_user
      FROM users u
      JOIN identities i ON i.id = u.identity_id
     WHERE u.programme_id = v_programme AND lower(u.email) = lower(p_email);
    IF NOT FOUND THEN
        outcome := 'USER_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;

    outcome := CASE WHEN v_user.active THEN 'OK' ELSE 'CREDENTIALS_INACTIVE' END;
    user_id := v_user.id;
    identity_id := v_user.identity_id;
    identity_type := v_user.type;
    role := v_user.role;
    password_hash := v_user.password_hash;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_login_lookup(bytea, text, inet) IS
    'Login, step 1: counts the attempt and finds the user by email; OK, API_KEY_UNKNOWN, RATE_LIMITED, USER_UNKNOWN or CREDENTIALS_INACTIVE.';
GRANT EXECUTE ON FUNCTION stepup.api_login_lookup(bytea, text, inet) TO stepup_app;

-- api_login_session: after the password was verified.  Re-checks the key
-- and that the user is an active user of the key's programme
-- (API_KEY_UNKNOWN, USER_UNKNOWN, CREDENTIALS_INACTIVE), then opens a
-- session for the token hash, ending at session_expiry, and gives back the
-- failure the lookup counted: OK.  The user row is held FOR SHARE
-- meanwhile, so that a concurrent `stepupctl user deactivate`
-- (ctl_user_set_active) either is seen (CREDENTIALS_INACTIVE) or waits for
-- this login and then ends the session it opened.
CREATE OR REPLACE FUNCTION stepup.api_login_session(p_api_key_hash bytea, p_user_id uuid,
                                                    p_token_hash bytea, p_request_ref text,
                                                    p_client_addr inet, p_user_agent text)
RETURNS TABLE (outcome text, session_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_programme uuid;
    v_user record;
BEGIN
    SELECT k.programme_id INTO v_programme FROM key_programme(p_api_key_hash) k;
    IF v_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT u.active, u.email INTO v_user
      FROM users u
     WHERE u.id = p_user_id AND u.programme_id = v_programme
       FOR SHARE;
    IF NOT FOUND THEN
        outcome := 'USER_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;
    IF NOT v_user.active THEN
        outcome := 'CREDENTIALS_INACTIVE';
        RETURN NEXT;
        RETURN;
    END IF;

    INSERT INTO sessions AS s (programme_id, user_id, token_hash, request_ref, client_addr,
                               user_agent, expires_at)
    SELECT v_programme, p_user_id, p_token_hash, p_request_ref, p_client_addr, p_user_agent,
           session_expiry(now(), p.session_ttl_seconds, p.session_max_seconds)
      FROM programmes p
     WHERE p.id = v_programme
    RETURNING s.id INTO session_id;
    PERFORM limit_give(v_programme, 'login-failures-per-user', limit_email_subject(v_user.email));
    outcome := 'OK';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_login_session(bytea, uuid, bytea, text, inet, text) IS
    'Login, step 2: opens a session for a verified user; OK, API_KEY_UNKNOWN, USER_UNKNOWN or CREDENTIALS_INACTIVE.';
GRANT EXECUTE ON FUNCTION stepup.api_login_session(bytea, uuid, bytea, text, inet, text)
    TO stepup_app;
