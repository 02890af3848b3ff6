-- 002_api.sql - the functions stepup-fcgi calls: one call per request.
--
-- stepup-fcgi does HTTP, JSON and cryptography; each stepup.api_* function
-- does the reads, locks and writes of one request atomically (a function
-- call is one statement, hence one transaction) and answers with an
-- `outcome` from a closed set, which the C side maps to an HTTP response.
--
-- The api_* functions are SECURITY DEFINER with a pinned search_path and are
-- the only thing stepup_app may execute; the helpers without the api_
-- prefix (key_programme, authenticate, idempotency_begin/finish, call_begin,
-- issue_code) are internal building blocks for them and are granted to
-- nobody.
--
-- Outcomes:
--   authentication  OK, API_KEY_UNKNOWN (401), TOKEN_INVALID (401), FORBIDDEN (403)
--   login           OK, API_KEY_UNKNOWN, USER_UNKNOWN, CREDENTIALS_INACTIVE
--   idempotency     IDEMPOTENCY_IN_FLIGHT (409), IDEMPOTENCY_MISMATCH (422)
--   issue           CHANNEL_NOT_SUPPORTED, CHANNEL_NOT_REGISTERED, MOBILE_NUMBER_INVALID,
--                   MOBILE_COUNTRY_NOT_SUPPORTED, RETRY_IN_15SEC, CHALLENGE_LIMIT_EXCEEDED (409)

-- ---------------------------------------------------------------------------
-- key_programme: the programme an API key (by its hash) belongs to, or NULL
-- when no unrevoked key has this hash.  The one place that decides whether
-- an api-key is valid.
CREATE FUNCTION stepup.key_programme(p_api_key_hash bytea)
RETURNS uuid
LANGUAGE sql
STABLE
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT k.programme_id
      FROM stepup.api_keys k
     WHERE k.key_hash = p_api_key_hash AND k.revoked_at IS NULL;
$$;
COMMENT ON FUNCTION stepup.key_programme(bytea) IS
    'Internal: the programme of an unrevoked API key hash, or NULL.';

-- ---------------------------------------------------------------------------
-- authenticate: the api-key and bearer-token check shared by every endpoint.
--
-- API_KEY_UNKNOWN when no unrevoked key has this hash; TOKEN_INVALID when no
-- session has this token hash, or it was logged out, or it has been idle
-- longer than its programme's session_ttl_seconds; FORBIDDEN when the
-- session belongs to another programme than the key, or is an impersonation
-- session and p_allow_impersonation is false; otherwise OK with the ids,
-- and the session's last_seen_at is set to now().
--
-- With p_lock the session row is locked FOR UPDATE first (the caller then
-- owns it until commit).  Without it the touch never waits: when another
-- transaction holds the row (and is touching it itself), it is skipped, so
-- that concurrent requests of one session do not queue here - callers that
-- need the row serialised lock it themselves after their non-blocking
-- checks (api_issue_challenge takes its idempotency lock first).
CREATE FUNCTION stepup.authenticate(p_api_key_hash bytea, p_token_hash bytea,
                                    p_allow_impersonation boolean, p_lock boolean)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_key_programme uuid;
    v_session record;
BEGIN
    v_key_programme := key_programme(p_api_key_hash);
    IF v_key_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;

    IF p_lock THEN
        SELECT s.id, s.programme_id, s.user_id, u.identity_id, s.impersonation, s.ended_at,
               s.last_seen_at, p.session_ttl_seconds
          INTO v_session
          FROM sessions s
          JOIN users u ON u.id = s.user_id
          JOIN programmes p ON p.id = s.programme_id
         WHERE s.token_hash = p_token_hash
           FOR UPDATE OF s;
    ELSE
        SELECT s.id, s.programme_id, s.user_id, u.identity_id, s.impersonation, s.ended_at,
               s.last_seen_at, p.session_ttl_seconds
          INTO v_session
          FROM sessions s
          JOIN users u ON u.id = s.user_id
          JOIN programmes p ON p.id = s.programme_id
         WHERE s.token_hash = p_token_hash;
    END IF;
    IF NOT FOUND
       OR v_session.ended_at IS NOT NULL
       OR v_session.last_seen_at + make_interval(secs => v_session.session_ttl_seconds) < now() THEN
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

    IF p_lock THEN
        UPDATE sessions s SET last_seen_at = now() WHERE s.id = v_session.id;
    ELSE
        UPDATE sessions s SET last_seen_at = now()
         WHERE s.id = (SELECT t.id FROM sessions t WHERE t.id = v_session.id
                          FOR NO KEY UPDATE SKIP LOCKED);
    END IF;

    outcome := 'OK';
    session_id := v_session.id;
    user_id := v_session.user_id;
    identity_id := v_session.identity_id;
    programme_id := v_session.programme_id;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.authenticate(bytea, bytea, boolean, boolean) IS
    'Internal: checks api-key hash and token hash; OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';

-- ---------------------------------------------------------------------------
-- api_authenticate: authenticate for endpoints that only read (no lock).
CREATE FUNCTION stepup.api_authenticate(p_api_key_hash bytea, p_token_hash bytea,
                                        p_allow_impersonation boolean)
RETURNS TABLE (outcome text, session_id uuid, user_id uuid, identity_id uuid, programme_id uuid)
LANGUAGE sql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT a.outcome, a.session_id, a.user_id, a.identity_id, a.programme_id
      FROM stepup.authenticate(p_api_key_hash, p_token_hash, p_allow_impersonation, false) a;
$$;
COMMENT ON FUNCTION stepup.api_authenticate(bytea, bytea, boolean) IS
    'The api-key and bearer-token check: OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';

-- ---------------------------------------------------------------------------
-- api_login_lookup: the first half of POST /login_with_password.
--
-- API_KEY_UNKNOWN; USER_UNKNOWN when the key's programme has no user with
-- this email (case-insensitive); CREDENTIALS_INACTIVE when the user is
-- deactivated - the password hash is still returned so that the caller
-- spends the same time verifying; otherwise OK.  The caller verifies the
-- password and, if it matches, calls api_login_session.
CREATE FUNCTION stepup.api_login_lookup(p_api_key_hash bytea, p_email text)
RETURNS TABLE (outcome text, user_id uuid, identity_id uuid, identity_type text, role text,
               password_hash text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_programme uuid;
    v_user record;
BEGIN
    v_programme := key_programme(p_api_key_hash);
    IF v_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
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
COMMENT ON FUNCTION stepup.api_login_lookup(bytea, text) IS
    'Login, step 1: finds the user by email; OK, API_KEY_UNKNOWN, USER_UNKNOWN or CREDENTIALS_INACTIVE.';

-- ---------------------------------------------------------------------------
-- api_login_session: the second half of POST /login_with_password, after
-- the password was verified.  Re-checks the key and that the user is an
-- active user of the key's programme (API_KEY_UNKNOWN, USER_UNKNOWN,
-- CREDENTIALS_INACTIVE), then opens a session for the token hash: OK.
-- The user row is held FOR SHARE meanwhile, so that a concurrent
-- `stepupctl user deactivate` either is seen (CREDENTIALS_INACTIVE) or
-- waits for this login and then ends the session it opened.
CREATE FUNCTION stepup.api_login_session(p_api_key_hash bytea, p_user_id uuid, p_token_hash bytea,
                                         p_request_ref text, p_client_addr inet,
                                         p_user_agent text)
RETURNS TABLE (outcome text, session_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_programme uuid;
    v_active boolean;
BEGIN
    v_programme := key_programme(p_api_key_hash);
    IF v_programme IS NULL THEN
        outcome := 'API_KEY_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT u.active INTO v_active
      FROM users u
     WHERE u.id = p_user_id AND u.programme_id = v_programme
       FOR SHARE;
    IF NOT FOUND THEN
        outcome := 'USER_UNKNOWN';
        RETURN NEXT;
        RETURN;
    END IF;
    IF NOT v_active THEN
        outcome := 'CREDENTIALS_INACTIVE';
        RETURN NEXT;
        RETURN;
    END IF;

    INSERT INTO sessions AS s (programme_id, user_id, token_hash, request_ref, client_addr, user_agent)
    VALUES (v_programme, p_user_id, p_token_hash, p_request_ref, p_client_addr, p_user_agent)
    RETURNING s.id INTO session_id;
    outcome := 'OK';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_login_session(bytea, uuid, bytea, text, inet, text) IS
    'Login, step 2: opens a session for a verified user; OK, API_KEY_UNKNOWN, USER_UNKNOWN or CREDENTIALS_INACTIVE.';

-- ---------------------------------------------------------------------------
-- api_logout: POST /logout.  Authenticates (impersonation sessions may log
-- out too), ends the session and answers OK, or the authentication outcome.
CREATE FUNCTION stepup.api_logout(p_api_key_hash bytea, p_token_hash bytea)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_auth record;
BEGIN
    SELECT a.outcome, a.session_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, true, true) a;
    IF v_auth.outcome <> 'OK' THEN
        RETURN v_auth.outcome;
    END IF;
    UPDATE sessions s SET ended_at = now() WHERE s.id = v_auth.session_id;
    RETURN 'OK';
END
$$;
COMMENT ON FUNCTION stepup.api_logout(bytea, bytea) IS
    'Ends the session of a token: OK, API_KEY_UNKNOWN, TOKEN_INVALID or FORBIDDEN.';

-- ---------------------------------------------------------------------------
-- Idempotency (header idempotency-ref), for every endpoint that changes
-- state.  A caller that got state NEW does its work and then records its
-- outcome with idempotency_finish in the same transaction.
--
-- idempotency_begin takes a transaction-scoped advisory lock on (session,
-- ref) without waiting: IN_FLIGHT when another transaction holds it (the
-- first call is still running).  A recorded call younger than 24 hours is a
-- REPLAY (with its outcome) when operation and request hash match, else a
-- MISMATCH; an older record is deleted and the call is NEW.
CREATE FUNCTION stepup.idempotency_begin(p_session_id uuid, p_ref text, p_operation text,
                                         p_request_hash bytea)
RETURNS TABLE (state text, outcome text)
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_key record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('idem:' || p_session_id::text || ':' || p_ref, 0)) THEN
        state := 'IN_FLIGHT';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT k.operation, k.request_hash, k.outcome, k.created_at INTO v_key
      FROM idempotency_keys k
     WHERE k.session_id = p_session_id AND k.ref = p_ref;
    IF FOUND AND v_key.created_at <= now() - interval '24 hours' THEN
        DELETE FROM idempotency_keys k WHERE k.session_id = p_session_id AND k.ref = p_ref;
    ELSIF FOUND THEN
        IF v_key.operation = p_operation
           AND v_key.request_hash = coalesce(p_request_hash, '\x'::bytea) THEN
            state := 'REPLAY';
            outcome := v_key.outcome;
        ELSE
            state := 'MISMATCH';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    state := 'NEW';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.idempotency_begin(uuid, text, text, bytea) IS
    'Internal: NEW, REPLAY (with the recorded outcome), MISMATCH or IN_FLIGHT for an idempotency-ref.';

CREATE FUNCTION stepup.idempotency_finish(p_session_id uuid, p_ref text, p_operation text,
                                          p_request_hash bytea, p_outcome text)
RETURNS void
LANGUAGE sql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    INSERT INTO stepup.idempotency_keys (session_id, ref, operation, request_hash, outcome)
    SELECT p_session_id, p_ref, p_operation, coalesce(p_request_hash, '\x'::bytea), p_outcome
     WHERE p_ref IS NOT NULL;
$$;
COMMENT ON FUNCTION stepup.idempotency_finish(uuid, text, text, bytea, text) IS
    'Internal: records the outcome of a NEW idempotent call (after idempotency_begin, same transaction); nothing without a ref.';

-- ---------------------------------------------------------------------------
-- call_begin: the opening every state-changing api_* function shares.
--
-- Authenticates (impersonation refused; no waiting on the session row),
-- then applies the idempotency-ref: IDEMPOTENCY_IN_FLIGHT,
-- IDEMPOTENCY_MISMATCH, or the recorded outcome with replayed = true.
-- Then it locks the session row FOR UPDATE, so the calls of one session
-- queue here and each sees what its predecessors wrote (this is what makes
-- 50 racing issues yield one challenge, and 100 racing wrong codes count
-- 100), and answers TOKEN_INVALID if the session ended while it waited.
-- outcome is NULL when the caller goes on with its own rules, holding the
-- session row; the session's step-up counters are returned as read under
-- the lock.  The caller ends with idempotency_finish.
CREATE FUNCTION stepup.call_begin(p_api_key_hash bytea, p_token_hash bytea, p_operation text,
                                  p_idem_ref text, p_request_hash bytea)
RETURNS TABLE (outcome text, replayed boolean, session_id uuid, user_id uuid,
               programme_id uuid, challenges_issued integer, last_challenge_at timestamptz)
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_auth record;
    v_idem record;
    v_ended timestamptz;
BEGIN
    replayed := false;
    SELECT a.outcome, a.session_id, a.user_id, a.programme_id INTO v_auth
      FROM authenticate(p_api_key_hash, p_token_hash, false, false) a;
    IF v_auth.outcome <> 'OK' THEN
        outcome := v_auth.outcome;
        RETURN NEXT;
        RETURN;
    END IF;

    IF p_idem_ref IS NOT NULL THEN
        SELECT b.state, b.outcome INTO v_idem
          FROM idempotency_begin(v_auth.session_id, p_idem_ref, p_operation, p_request_hash) b;
        IF v_idem.state <> 'NEW' THEN
            outcome := CASE v_idem.state WHEN 'IN_FLIGHT' THEN 'IDEMPOTENCY_IN_FLIGHT'
                                         WHEN 'MISMATCH' THEN 'IDEMPOTENCY_MISMATCH'
                                         ELSE v_idem.outcome END;
            replayed := v_idem.state = 'REPLAY';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    SELECT s.ended_at, s.challenges_issued, s.last_challenge_at
      INTO v_ended, challenges_issued, last_challenge_at
      FROM sessions s
     WHERE s.id = v_auth.session_id
       FOR UPDATE;
    IF v_ended IS NOT NULL THEN
        -- logged out (or the user deactivated) while this call waited for the lock
        outcome := 'TOKEN_INVALID';
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE sessions s SET last_seen_at = now() WHERE s.id = v_auth.session_id;

    session_id := v_auth.session_id;
    user_id := v_auth.user_id;
    programme_id := v_auth.programme_id;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.call_begin(bytea, bytea, text, text, bytea) IS
    'Internal: authentication, idempotency and the session lock that open every state-changing call.';

-- ---------------------------------------------------------------------------
-- issue_code: what issuing a code writes, for step-up and enrolment alike.
--
-- Supersedes the session's pending challenge of the same purpose, inserts
-- the new one (the sandbox code's hash in a sandbox programme) and, outside
-- sandbox, queues its text: the programme's template with {minutes} and
-- {programme} filled in ({minutes} first, so that a programme name cannot
-- inject it) and {code} left for the sender, which opens the sealed code.
-- Returns the outbox row's id, NULL in a sandbox.
CREATE FUNCTION stepup.issue_code(p_session_id uuid, p_user_id uuid, p_programme_id uuid,
                                  p_purpose text, p_channel text, p_mobile text,
                                  p_challenge_id uuid, p_code_hash bytea,
                                  p_sandbox_code_hash bytea, p_code_sealed bytea,
                                  p_request_ref text, p_client_addr inet, p_user_agent text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_prog record;
    v_outbox uuid;
BEGIN
    SELECT p.name, p.sandbox, p.expiry_seconds, p.sms_template INTO v_prog
      FROM programmes p
     WHERE p.id = p_programme_id;

    UPDATE challenges c
       SET status = 'SUPERSEDED', ended_at = now()
     WHERE c.session_id = p_session_id AND c.status = 'PENDING' AND c.purpose = p_purpose;

    INSERT INTO challenges (id, session_id, user_id, programme_id, purpose, channel, mobile,
                            code_hash, sandbox, status, attempts, expires_at,
                            request_ref, client_addr, user_agent)
    VALUES (p_challenge_id, p_session_id, p_user_id, p_programme_id, p_purpose, p_channel,
            p_mobile, CASE WHEN v_prog.sandbox THEN p_sandbox_code_hash ELSE p_code_hash END,
            v_prog.sandbox, 'PENDING', 0, now() + make_interval(secs => v_prog.expiry_seconds),
            p_request_ref, p_client_addr, p_user_agent);

    IF NOT v_prog.sandbox THEN
        INSERT INTO sms_outbox AS o (challenge_id, programme_id, to_number, body_template, code_sealed)
        VALUES (p_challenge_id, p_programme_id, p_mobile,
                replace(replace(v_prog.sms_template, '{minutes}',
                                ceil(v_prog.expiry_seconds / 60.0)::integer::text),
                        '{programme}', v_prog.name),
                p_code_sealed)
        RETURNING o.id INTO v_outbox;
    END IF;
    RETURN v_outbox;
END
$$;
COMMENT ON FUNCTION stepup.issue_code(uuid, uuid, uuid, text, text, text, uuid, bytea, bytea, bytea,
                                      text, inet, text) IS
    'Internal: supersedes, inserts the challenge and queues its text (outside sandbox); returns the outbox id.';

-- ---------------------------------------------------------------------------
-- api_issue_challenge: POST /stepup/challenges/otp/{channel}.
--
-- The caller supplies the challenge id and the code's hashes (the real
-- code's and the sandbox code's; the programme decides which is stored),
-- and the code sealed for the outbox.  In order:
--   1. authenticate, impersonation refused (its outcome unless OK);
--   2. with an idempotency ref: IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH,
--      or the recorded outcome with replayed = true;
--   3. lock the session row, so racing issues on one session queue here and
--      each sees its predecessors' counters;
--   4. CHANNEL_NOT_SUPPORTED, CHANNEL_NOT_REGISTERED, MOBILE_NUMBER_INVALID,
--      MOBILE_COUNTRY_NOT_SUPPORTED, RETRY_IN_15SEC, CHALLENGE_LIMIT_EXCEEDED;
--   5. OK: the session's pending step-up challenge is superseded, the new
--      one inserted, the session's counters moved (only a success moves the
--      retry window), and outside sandbox an outbox row queued, its id
--      returned as outbox_id;
--   6. with an idempotency ref, the outcome of 4/5 is recorded.
-- The caller sends NOTIFY stepup_outbox after the commit, not in here:
-- PostgreSQL serialises the commits of transactions that notify, which
-- measured here cut issue throughput from ~1,000/s to ~370/s.  A notify
-- lost to a crash between the two only delays the text until the sender's
-- next poll.
CREATE FUNCTION stepup.api_issue_challenge(p_api_key_hash bytea, p_token_hash bytea,
                                           p_channel text, p_operation text, p_idem_ref text,
                                           p_request_hash bytea, p_challenge_id uuid,
                                           p_code_hash bytea, p_sandbox_code_hash bytea,
                                           p_code_sealed bytea, p_request_ref text,
                                           p_client_addr inet, p_user_agent text)
RETURNS TABLE (outcome text, replayed boolean, outbox_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_call record;
    v_prog record;
    v_factor record;
    v_registered boolean;
    v_outcome text;
BEGIN
    SELECT * INTO v_call
      FROM call_begin(p_api_key_hash, p_token_hash, p_operation, p_idem_ref, p_request_hash);
    IF v_call.outcome IS NOT NULL THEN
        outcome := v_call.outcome;
        replayed := v_call.replayed;
        RETURN NEXT;
        RETURN;
    END IF;
    replayed := false;

    SELECT p.sms_enabled, p.countries, p.retry_seconds, p.issue_limit INTO v_prog
      FROM programmes p
     WHERE p.id = v_call.programme_id;
    SELECT f.mobile, f.mobile_kind, f.mobile_region INTO v_factor
      FROM factors f
     WHERE f.user_id = v_call.user_id AND f.channel = p_channel AND f.status = 'ACTIVE';
    v_registered := FOUND;

    IF p_channel IS DISTINCT FROM 'SMS' OR NOT v_prog.sms_enabled THEN
        v_outcome := 'CHANNEL_NOT_SUPPORTED';
    ELSIF NOT v_registered THEN
        v_outcome := 'CHANNEL_NOT_REGISTERED';
    ELSIF v_factor.mobile IS NULL OR v_factor.mobile_kind IS DISTINCT FROM 'MOBILE' THEN
        v_outcome := 'MOBILE_NUMBER_INVALID';
    ELSIF v_prog.countries IS NOT NULL
          AND (v_factor.mobile_region IS NULL
               OR NOT v_factor.mobile_region = ANY (v_prog.countries)) THEN
        v_outcome := 'MOBILE_COUNTRY_NOT_SUPPORTED';
    ELSIF v_call.last_challenge_at IS NOT NULL
          AND now() < v_call.last_challenge_at + make_interval(secs => v_prog.retry_seconds) THEN
        v_outcome := 'RETRY_IN_15SEC';
    ELSIF v_call.challenges_issued >= v_prog.issue_limit THEN
        v_outcome := 'CHALLENGE_LIMIT_EXCEEDED';
    ELSE
        outbox_id := issue_code(v_call.session_id, v_call.user_id, v_call.programme_id, 'STEPUP',
                                p_channel, v_factor.mobile, p_challenge_id, p_code_hash,
                                p_sandbox_code_hash, p_code_sealed, p_request_ref, p_client_addr,
                                p_user_agent);
        UPDATE sessions s
           SET challenges_issued = s.challenges_issued + 1, last_challenge_at = now()
         WHERE s.id = v_call.session_id;
        v_outcome := 'OK';
    END IF;

    PERFORM idempotency_finish(v_call.session_id, p_idem_ref, p_operation, p_request_hash,
                               v_outcome);
    outcome := v_outcome;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.api_issue_challenge(bytea, bytea, text, text, text, bytea, uuid, bytea,
                                               bytea, bytea, text, inet, text) IS
    'Issues a step-up OTP challenge for a session (see the comment in 002_api.sql for the order of checks).';

-- ---------------------------------------------------------------------------
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA stepup FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    stepup.api_authenticate(bytea, bytea, boolean),
    stepup.api_login_lookup(bytea, text),
    stepup.api_login_session(bytea, uuid, bytea, text, inet, text),
    stepup.api_logout(bytea, bytea),
    stepup.api_issue_challenge(bytea, bytea, text, text, text, bytea, uuid, bytea, bytea, bytea,
                               text, inet, text)
    TO stepup_app;
