-- POST /login_with_password costs two calls: api_login_lookup fetches the
-- user's password hash, the caller verifies the password (scrypt, in C),
-- and then api_login_session opens the session once it matched, or
-- api_login_failed records why the login was refused.
--
-- Limits: the lookup counts the attempt against login-per-address and,
-- before the password is checked, as a failure against
-- login-failures-per-user (for the e-mail address as typed, known or
-- not); api_login_session gives the failure back.  So a login over either
-- limit is refused (RATE_LIMITED) in one round trip, before any password
-- is checked, for an unknown address exactly as for a known one.
--
-- Audit events, with the request's context: limit.refused (the lookup,
-- when a limit refuses), login.succeeded (api_login_session: the session
-- and its user) and login.failed (api_login_failed: the outcome, the user
-- when the address is a user's, else the programme alone; never the
-- address typed).  Only the caller knows whether the password matched,
-- so a refused login costs the second call as a successful one does: an
-- unknown address, a deactivated user and a wrong password alike, so that
-- the time of the answer does not tell them apart.

-- api_login_lookup: API_KEY_UNKNOWN; RATE_LIMITED (with the limit reached
-- and the seconds until a login would be allowed, and the audit event
-- limit.refused of the programme); USER_UNKNOWN when the
-- key's programme has no user with this email (case-insensitive);
-- CREDENTIALS_INACTIVE when the user is deactivated - the password hash is
-- still returned so that the caller spends the same time verifying;
-- otherwise OK.
CREATE OR REPLACE FUNCTION stepup.api_login_lookup(p_api_key_hash bytea, p_email text,
                                                   p_request_ref text, p_client_addr inet,
                                                   p_user_agent text)
RETURNS TABLE (outcome text, user_id uuid, identity_id uuid, identity_type text, role text,
               password_hash text, limit_name text, limit_count integer,
               limit_seconds integer, retry_after integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
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
        PERFORM audit_limit_refused(v_programme, NULL, NULL, limit_name, retry_after, 'login',
                                    p_request_ref, p_client_addr, p_user_agent);
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
COMMENT ON FUNCTION stepup.api_login_lookup(bytea, text, text, inet, text) IS
    'Login, step 1: counts the attempt and finds the user by email; OK, API_KEY_UNKNOWN, RATE_LIMITED, USER_UNKNOWN or CREDENTIALS_INACTIVE.';
GRANT EXECUTE ON FUNCTION stepup.api_login_lookup(bytea, text, text, inet, text) TO stepup_app;

-- api_login_session: after the password was verified.  Re-checks the key
-- and that the user is an active user of the key's programme
-- (API_KEY_UNKNOWN, USER_UNKNOWN, CREDENTIALS_INACTIVE), then opens a
-- session for the token hash, ending at session_expiry, gives back the
-- failure the lookup counted and writes login.succeeded: OK.  (A refusal
-- here, after the password matched, is login.failed with its outcome.)
-- The user row is held FOR SHARE
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
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
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

    SELECT u.active, u.email, u.identity_id INTO v_user
      FROM users u
     WHERE u.id = p_user_id AND u.programme_id = v_programme
       FOR SHARE;
    IF NOT FOUND THEN
        outcome := 'USER_UNKNOWN';
    ELSIF NOT v_user.active THEN
        outcome := 'CREDENTIALS_INACTIVE';
    END IF;
    IF outcome IS NOT NULL THEN
        PERFORM audit_event('login.failed', v_programme,
                            p_user_id => CASE WHEN outcome = 'CREDENTIALS_INACTIVE'
                                              THEN p_user_id END,
                            p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                            p_user_agent => p_user_agent,
                            p_detail => jsonb_build_object('outcome', outcome));
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
    PERFORM audit_event('login.succeeded', v_programme, p_user_id => p_user_id,
                        p_session_id => session_id, p_request_ref => p_request_ref,
                        p_client_addr => p_client_addr, p_user_agent => p_user_agent,
                        p_identity_id => v_user.identity_id);
    outcome := 'OK';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_login_session(bytea, uuid, bytea, text, inet, text) IS
    'Login, step 2: opens a session for a verified user; OK, API_KEY_UNKNOWN, USER_UNKNOWN or CREDENTIALS_INACTIVE.';
GRANT EXECUTE ON FUNCTION stepup.api_login_session(bytea, uuid, bytea, text, inet, text)
    TO stepup_app;

-- api_login_failed: after the lookup, when the login is refused: records
-- login.failed with p_outcome (USER_UNKNOWN, CREDENTIALS_INACTIVE or
-- PASSWORD_MISMATCH) for the key's programme and, when p_user_id is a user
-- of that programme, that user; nothing else changes.  API_KEY_UNKNOWN
-- (nothing recorded) when the key was revoked meanwhile, else OK.
CREATE OR REPLACE FUNCTION stepup.api_login_failed(p_api_key_hash bytea, p_user_id uuid,
                                                   p_outcome text, p_request_ref text,
                                                   p_client_addr inet, p_user_agent text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan -- plans made once: README, The SQL
AS $$
DECLARE
    v_programme uuid;
BEGIN
    IF p_outcome IS NULL
       OR p_outcome NOT IN ('USER_UNKNOWN', 'CREDENTIALS_INACTIVE', 'PASSWORD_MISMATCH') THEN
        RAISE EXCEPTION 'api_login_failed: unknown outcome %', p_outcome USING ERRCODE = '22023';
    END IF;
    SELECT k.programme_id INTO v_programme FROM key_programme(p_api_key_hash) k;
    IF v_programme IS NULL THEN
        RETURN 'API_KEY_UNKNOWN';
    END IF;
    PERFORM audit_event('login.failed', v_programme,
                        p_user_id => (SELECT u.id FROM users u
                                       WHERE u.id = p_user_id AND u.programme_id = v_programme),
                        p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                        p_user_agent => p_user_agent,
                        p_detail => jsonb_build_object('outcome', p_outcome));
    RETURN 'OK';
END
$$;
COMMENT ON FUNCTION stepup.api_login_failed(bytea, uuid, text, text, inet, text) IS
    'Login, step 2 of a refused login: records login.failed (the user when known, never the e-mail address).';
GRANT EXECUTE ON FUNCTION stepup.api_login_failed(bytea, uuid, text, text, inet, text)
    TO stepup_app;
