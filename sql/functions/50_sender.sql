-- The stepup.sender_* functions: what stepup-sender calls, and all it may
-- call (its role is stepup_sender, created in sql/schema/004_sender.sql).
--
-- stepup-sender drains stepup.sms_outbox.  Each sender process has a unique
-- name (host:pid:random) and, in a loop:
--   1. sender_claim: takes up to N due rows (FOR UPDATE SKIP LOCKED, so
--      concurrent senders take disjoint rows) and leases them to itself for
--      lease_seconds.  A row whose challenge is no longer PENDING or has
--      expired is not handed out: it becomes EXPIRED.  A SENDING row whose
--      lease ran out belonged to a sender that stopped during its attempt:
--      that attempt is recorded as LOST and the row is claimable again.
--   2. decrypts the code in memory (with the outbox_key of the row's
--      key_id, the AAD binding challenge_id and to_number), sends the
--      text, and
--   3. sender_record: writes the attempt and moves the message on (SENT,
--      back to PENDING for a retry after a back-off, or DEAD).  The record
--      applies only while the lease is still the caller's (same owner, same
--      attempt number): the attempt counter is the fencing token.  A sender
--      has many sends in flight and records their results in batches:
--      sender_record_batch applies sender_record to each result of an
--      array, in one call and one transaction.
--   4. sender_release (SIGTERM): the rows it claimed but did not send go back
--      to PENDING, as if never claimed.
-- sender_next_due tells an idle sender how long it may sleep.
--
-- Message states (sms_outbox.status):
--   PENDING  --claim-->  SENDING  --record SENT-->               SENT
--                                 --record RETRY-->              PENDING (next_attempt_at later)
--                                 --record DEAD/PERMANENT-->     DEAD
--                                 --lease runs out, reclaimed--> SENDING (attempt LOST)
--   PENDING/SENDING --claimed after the challenge ended-->       EXPIRED
-- SENT, DEAD and EXPIRED are final: the text (body_template, code_sealed) is
-- scrubbed in the same statement.
--
-- Delivery guarantee: a message is sent exactly once unless its sender dies
-- (SIGKILL, power loss, lost database) between handing it to the gateway
-- and recording the result; then it is sent again when the lease runs out
-- (at least once).  A sender holds at most sends_in_flight claims (claimed
-- and not yet recorded), so one death doubles at most that many messages.
--
-- Audit events (stepup.audit_event), each of the message's challenge (its
-- programme, user, session and id) and with the attempt in its detail:
-- sms.sent (provider), sms.delivery_failed (RETRY or LOST, the error),
-- sms.dead (DEAD, PERMANENT, or given up after a LOST last attempt),
-- sms.expired_unsent (claimed after the challenge ended).  Never the text.
--

-- ---------------------------------------------------------------------------
-- sender_claim: lease up to p_limit due messages to p_owner.
--
-- Due: PENDING with next_attempt_at <= now(), or SENDING with an expired
-- lease (its sender stopped: that attempt is recorded as LOST).  Of those,
-- a message whose challenge is no longer PENDING or is past expires_at
-- becomes EXPIRED, and one that has used p_max_attempts already becomes
-- DEAD (only a LOST last attempt gets here); both are scrubbed and not
-- returned.  The others become SENDING with attempts + 1 and a lease of
-- p_lease_seconds, and are returned with the attempt number the caller
-- must quote to sender_record, the programme's provider (NULL: the
-- sender's default) and the id of the key the code was sealed with.  A LOST attempt is the event sms.delivery_failed, a
-- message that becomes EXPIRED sms.expired_unsent, one that becomes DEAD
-- sms.dead.
CREATE OR REPLACE FUNCTION stepup.sender_claim(p_owner text, p_limit integer, p_lease_seconds integer,
                                    p_max_attempts integer)
RETURNS TABLE (id uuid, challenge_id uuid, to_number text, body_template text,
               code_sealed bytea, attempt integer, provider text, key_id text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_why text;
BEGIN
    -- The due rows first, alone (the partial index sms_outbox_due in
    -- next_attempt_at order, whatever the statistics say), then their
    -- challenges and programmes.
    FOR r IN
        SELECT o.id, o.challenge_id, o.to_number, o.body_template, o.code_sealed, o.key_id,
               o.status, o.attempts, o.lease_owner, o.claimed_at, o.provider AS last_provider,
               c.status AS challenge_status, c.expires_at, c.programme_id, c.user_id,
               c.session_id, p.sms_provider
          FROM (SELECT d.*
                  FROM sms_outbox d
                 WHERE d.status IN ('PENDING', 'SENDING')
                   AND d.next_attempt_at <= now()
                   AND (d.status = 'PENDING' OR d.lease_until < now())
                 ORDER BY d.next_attempt_at
                 LIMIT greatest(p_limit, 0)
                   FOR UPDATE SKIP LOCKED) o
          JOIN challenges c ON c.id = o.challenge_id
          JOIN programmes p ON p.id = o.programme_id
         ORDER BY o.next_attempt_at
    LOOP
        IF r.status = 'SENDING' AND r.attempts > 0 THEN
            INSERT INTO sms_attempts AS a (outbox_id, attempt, sender, provider, started_at, status, error)
            VALUES (r.id, r.attempts, coalesce(r.lease_owner, '?'), r.last_provider,
                    coalesce(r.claimed_at, now()), 'LOST',
                    'the sender stopped during the attempt (its lease ran out): the text may have gone out')
            ON CONFLICT ON CONSTRAINT sms_attempts_pkey DO NOTHING;
            IF FOUND THEN
                PERFORM audit_event('sms.delivery_failed', r.programme_id, p_user_id => r.user_id,
                                    p_session_id => r.session_id, p_challenge_id => r.challenge_id,
                                    p_detail => jsonb_build_object(
                                        'outbox_id', r.id, 'attempt', r.attempts, 'status', 'LOST',
                                        'provider', r.last_provider,
                                        'error', 'the sender stopped during the attempt'));
            END IF;
        END IF;

        v_why := NULL;
        IF r.challenge_status <> 'PENDING' THEN
            v_why := 'challenge ' || lower(r.challenge_status) || ' before the text was sent';
        ELSIF r.expires_at <= now() THEN
            v_why := 'challenge expired before the text was sent';
        END IF;
        IF v_why IS NOT NULL THEN
            UPDATE sms_outbox o
               SET status = 'EXPIRED', ended_at = now(), body_template = NULL, code_sealed = NULL,
                   lease_owner = NULL, lease_until = NULL, last_error = v_why
             WHERE o.id = r.id;
            PERFORM audit_event('sms.expired_unsent', r.programme_id, p_user_id => r.user_id,
                                p_session_id => r.session_id, p_challenge_id => r.challenge_id,
                                p_detail => jsonb_build_object('outbox_id', r.id,
                                                               'attempts', r.attempts,
                                                               'challenge_status',
                                                               CASE r.challenge_status
                                                                   WHEN 'PENDING' THEN 'EXPIRED'
                                                                   ELSE r.challenge_status
                                                               END));
            CONTINUE;
        END IF;

        IF r.attempts >= p_max_attempts THEN
            UPDATE sms_outbox o
               SET status = 'DEAD', ended_at = now(), body_template = NULL, code_sealed = NULL,
                   lease_owner = NULL, lease_until = NULL,
                   last_error = 'gave up after ' || r.attempts || ' attempts, the last one lost'
             WHERE o.id = r.id;
            PERFORM audit_event('sms.dead', r.programme_id, p_user_id => r.user_id,
                                p_session_id => r.session_id, p_challenge_id => r.challenge_id,
                                p_detail => jsonb_build_object(
                                    'outbox_id', r.id, 'attempt', r.attempts, 'status', 'LOST',
                                    'error', 'gave up after ' || r.attempts
                                             || ' attempts, the last one lost'));
            CONTINUE;
        END IF;

        UPDATE sms_outbox o
           SET status = 'SENDING', attempts = o.attempts + 1, lease_owner = p_owner,
               claimed_at = now(),
               lease_until = now() + make_interval(secs => p_lease_seconds),
               next_attempt_at = now() + make_interval(secs => p_lease_seconds)
         WHERE o.id = r.id;
        id := r.id;
        challenge_id := r.challenge_id;
        to_number := r.to_number;
        body_template := r.body_template;
        code_sealed := r.code_sealed;
        attempt := r.attempts + 1;
        provider := r.sms_provider;
        key_id := r.key_id;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stepup.sender_claim(text, integer, integer, integer) IS
    'stepup-sender: leases up to N due outbox messages (SKIP LOCKED); expired challenges become EXPIRED.';
GRANT EXECUTE ON FUNCTION stepup.sender_claim(text, integer, integer, integer) TO stepup_sender;

-- ---------------------------------------------------------------------------
-- sender_record: the result of attempt p_attempt of message p_id.
--
-- p_status: SENT; RETRY (the message becomes PENDING again, due in
-- p_retry_after_ms); DEAD (no tries left) or PERMANENT (refused for good):
-- the message becomes DEAD.  SENT and DEAD scrub the text.  The attempt is
-- always recorded (replacing a LOST record of the same attempt, which a
-- slow sender can leave behind); the message moves only while the caller
-- still holds the lease (owner and attempt match): 'OK', else 'STALE'.
-- The audit event, when the attempt or the message was written: sms.sent
-- for SENT (stale or not: the text went out), sms.dead when the message
-- became DEAD, else sms.delivery_failed (a RETRY, or a failure recorded
-- after the lease was lost: "stale" in its detail).
CREATE OR REPLACE FUNCTION stepup.sender_record(p_id uuid, p_owner text, p_attempt integer, p_status text,
                                     p_provider text, p_duration_ms integer,
                                     p_http_status integer, p_exit_code integer, p_error text,
                                     p_provider_message_id text, p_retry_after_ms integer)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_started timestamptz := now() - make_interval(secs => greatest(p_duration_ms, 0) / 1000.0);
    v_recorded boolean;
    v_moved boolean;
BEGIN
    IF p_status NOT IN ('SENT', 'RETRY', 'DEAD', 'PERMANENT') THEN
        RAISE EXCEPTION 'sender_record: unknown status %', p_status USING ERRCODE = '22023';
    END IF;

    INSERT INTO sms_attempts AS a (outbox_id, attempt, sender, provider, started_at, duration_ms,
                                   status, http_status, exit_code, error, provider_message_id)
    VALUES (p_id, p_attempt, p_owner, p_provider, v_started, p_duration_ms, p_status,
            p_http_status, p_exit_code, p_error, p_provider_message_id)
    ON CONFLICT ON CONSTRAINT sms_attempts_pkey DO UPDATE
       SET sender = EXCLUDED.sender, provider = EXCLUDED.provider,
           started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
           status = EXCLUDED.status, http_status = EXCLUDED.http_status,
           exit_code = EXCLUDED.exit_code, error = EXCLUDED.error,
           provider_message_id = EXCLUDED.provider_message_id, recorded_at = now()
     WHERE a.status = 'LOST';
    v_recorded := FOUND;

    IF p_status = 'SENT' THEN
        UPDATE sms_outbox o
           SET status = 'SENT', sent_at = now(), ended_at = now(), body_template = NULL,
               code_sealed = NULL, lease_owner = NULL, lease_until = NULL, provider = p_provider,
               provider_message_id = p_provider_message_id, last_error = NULL
         WHERE o.id = p_id AND o.status = 'SENDING' AND o.lease_owner = p_owner
           AND o.attempts = p_attempt;
    ELSIF p_status = 'RETRY' THEN
        UPDATE sms_outbox o
           SET status = 'PENDING', lease_owner = NULL, lease_until = NULL, provider = p_provider,
               next_attempt_at = now() + make_interval(secs => greatest(p_retry_after_ms, 0) / 1000.0),
               last_error = p_error
         WHERE o.id = p_id AND o.status = 'SENDING' AND o.lease_owner = p_owner
           AND o.attempts = p_attempt;
    ELSE
        UPDATE sms_outbox o
           SET status = 'DEAD', ended_at = now(), body_template = NULL, code_sealed = NULL,
               lease_owner = NULL, lease_until = NULL, provider = p_provider, last_error = p_error
         WHERE o.id = p_id AND o.status = 'SENDING' AND o.lease_owner = p_owner
           AND o.attempts = p_attempt;
    END IF;
    v_moved := FOUND;

    IF v_recorded OR v_moved THEN
        PERFORM audit_event(CASE WHEN p_status = 'SENT' THEN 'sms.sent'
                                 WHEN p_status = 'RETRY' OR NOT v_moved THEN 'sms.delivery_failed'
                                 ELSE 'sms.dead' END,
                            c.programme_id, p_user_id => c.user_id, p_session_id => c.session_id,
                            p_challenge_id => c.id,
                            p_detail => jsonb_strip_nulls(jsonb_build_object(
                                'outbox_id', p_id, 'attempt', p_attempt, 'status', p_status,
                                'provider', p_provider, 'duration_ms', p_duration_ms,
                                'http_status', p_http_status, 'exit_code', p_exit_code,
                                'error', p_error,
                                'stale', CASE WHEN NOT v_moved THEN true END)))
           FROM sms_outbox o
           JOIN challenges c ON c.id = o.challenge_id
          WHERE o.id = p_id;
    END IF;
    RETURN CASE WHEN v_moved THEN 'OK' ELSE 'STALE' END;
END
$$;
COMMENT ON FUNCTION stepup.sender_record(uuid, text, integer, text, text, integer, integer, integer,
                                         text, text, integer) IS
    'stepup-sender: records an attempt and moves its message on (OK), unless the lease was lost (STALE).';
GRANT EXECUTE ON FUNCTION stepup.sender_record(uuid, text, integer, text, text, integer, integer, integer, text,
                                           text, integer) TO stepup_sender;

-- ---------------------------------------------------------------------------
-- sender_record_batch: the results of many attempts, in one call and one
-- transaction: sender_record, the one rule, applied to each element of
-- p_results in order (a JSON array of objects with the members id,
-- attempt, status, provider, duration_ms, http_status, exit_code, error,
-- provider_message_id and retry_after_ms, each sender_record's argument
-- of that name; null or absent for SQL NULL), so that every attempt gets
-- its row, its audit event and its count in GET /metrics exactly as one
-- call each would give it.  Returns the position (from 1) of each result
-- whose lease had been lost (sender_record said 'STALE'); an error
-- records none of them.
CREATE OR REPLACE FUNCTION stepup.sender_record_batch(p_owner text, p_results jsonb)
RETURNS TABLE (stale integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    IF jsonb_typeof(p_results) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'sender_record_batch: p_results must be a JSON array' USING ERRCODE = '22023';
    END IF;
    FOR r IN
        SELECT x.*, e.n
          FROM jsonb_array_elements(p_results) WITH ORDINALITY AS e (item, n),
               jsonb_to_record(e.item) AS x (id uuid, attempt integer, status text, provider text,
                                             duration_ms integer, http_status integer,
                                             exit_code integer, error text,
                                             provider_message_id text, retry_after_ms integer)
         ORDER BY e.n
    LOOP
        IF sender_record(r.id, p_owner, r.attempt, r.status, r.provider, r.duration_ms,
                         r.http_status, r.exit_code, r.error, r.provider_message_id,
                         r.retry_after_ms) <> 'OK' THEN
            stale := r.n;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stepup.sender_record_batch(text, jsonb) IS
    'stepup-sender: records many attempts at once (sender_record for each); returns the positions of the STALE ones.';
GRANT EXECUTE ON FUNCTION stepup.sender_record_batch(text, jsonb) TO stepup_sender;

-- ---------------------------------------------------------------------------
-- sender_release: give back messages p_owner claimed and did not send (on
-- SIGTERM, or when its lease would run out before it got to them): PENDING,
-- due now, the claim's attempt returned.  Returns how many were released.
CREATE OR REPLACE FUNCTION stepup.sender_release(p_owner text, p_ids uuid[])
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    WITH released AS (
        UPDATE stepup.sms_outbox o
           SET status = 'PENDING', attempts = o.attempts - 1, lease_owner = NULL,
               lease_until = NULL, next_attempt_at = now()
         WHERE o.id = ANY (p_ids) AND o.status = 'SENDING' AND o.lease_owner = p_owner
        RETURNING 1
    )
    SELECT count(*)::integer FROM released;
$$;
COMMENT ON FUNCTION stepup.sender_release(text, uuid[]) IS
    'stepup-sender: returns claimed but unsent messages to PENDING (SIGTERM).';
GRANT EXECUTE ON FUNCTION stepup.sender_release(text, uuid[]) TO stepup_sender;

-- ---------------------------------------------------------------------------
-- sender_next_due: milliseconds until the next message is due (0 when one
-- is due now), NULL when there is none: how long an idle sender may sleep.
CREATE OR REPLACE FUNCTION stepup.sender_next_due()
RETURNS integer
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT greatest(0, ceil(extract(epoch FROM min(o.next_attempt_at) - now()) * 1000))::integer
      FROM stepup.sms_outbox o
     WHERE o.status IN ('PENDING', 'SENDING');
$$;
COMMENT ON FUNCTION stepup.sender_next_due() IS
    'stepup-sender: milliseconds until the next outbox message is due; NULL when none is waiting.';
GRANT EXECUTE ON FUNCTION stepup.sender_next_due() TO stepup_sender;
