-- The stepupctl outbox commands: the SMS outbox as stepup-sender works
-- through it (see 50_sender.sql for the message states).  Nothing here
-- ever returns code_sealed; body_template holds the text with its {code}
-- placeholder, never the code.

-- outbox_messages: the outbox as the commands show it, a message a row,
-- under the names stepupctl prints (the order of the columns is the order
-- of the keys).  No text, no sealed code.
CREATE OR REPLACE VIEW stepup.outbox_messages AS
SELECT o.id AS "id", o.challenge_id AS "challengeId", o.programme_id AS "programmeId",
       o.to_number AS "to", o.status AS "status", o.attempts AS "attempts",
       o.created_at AS "createdAt",
       CASE WHEN o.status = 'PENDING' THEN o.next_attempt_at END AS "nextAttemptAt",
       o.lease_owner AS "leaseOwner", o.lease_until AS "leaseUntil", o.sent_at AS "sentAt",
       o.ended_at AS "endedAt", o.provider AS "provider",
       o.provider_message_id AS "providerMessageId", o.last_error AS "lastError"
  FROM stepup.sms_outbox o;
COMMENT ON VIEW stepup.outbox_messages IS
    'SMS outbox messages as stepupctl outbox list shows them (no text, no sealed code).';
REVOKE ALL ON stepup.outbox_messages FROM PUBLIC;
GRANT SELECT ON stepup.outbox_messages TO stepup_operator;

-- ctl_outbox_list: `stepupctl outbox list [--status S] [--programme ID]
-- [--limit N]`: messages, newest first (NULL filters: all).
CREATE OR REPLACE FUNCTION stepup.ctl_outbox_list(p_status text, p_programme_id uuid,
                                                  p_limit integer)
RETURNS SETOF json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.to_json(m)
      FROM stepup.outbox_messages m
     WHERE (p_status IS NULL OR m."status" = p_status)
       AND (p_programme_id IS NULL OR m."programmeId" = p_programme_id)
     ORDER BY m."createdAt" DESC, m."id"
     LIMIT p_limit;
$$;
COMMENT ON FUNCTION stepup.ctl_outbox_list(text, uuid, integer) IS
    'stepupctl outbox list: outbox messages as JSON objects, newest first.';
GRANT EXECUTE ON FUNCTION stepup.ctl_outbox_list(text, uuid, integer) TO stepup_operator;

-- ctl_outbox_show: `stepupctl outbox show ID`: the message, its text
-- template, whether the sealed code is still there, and every attempt.
CREATE OR REPLACE FUNCTION stepup.ctl_outbox_show(p_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_doc json;
BEGIN
    SELECT to_json(d) INTO v_doc
      FROM (SELECT m.*, o.body_template AS "bodyTemplate",
                   o.code_sealed IS NOT NULL AS "codeSealed",
                   coalesce((SELECT json_agg(json_build_object(
                                 'attempt', a.attempt, 'sender', a.sender,
                                 'provider', a.provider, 'startedAt', a.started_at,
                                 'durationMs', a.duration_ms, 'status', a.status,
                                 'httpStatus', a.http_status, 'exitCode', a.exit_code,
                                 'error', a.error, 'providerMessageId', a.provider_message_id)
                                 ORDER BY a.attempt)
                               FROM sms_attempts a WHERE a.outbox_id = o.id),
                            '[]'::json) AS "attemptLog"
              FROM outbox_messages m JOIN sms_outbox o ON o.id = m."id"
             WHERE o.id = p_id) d;
    IF v_doc IS NULL THEN
        PERFORM ctl_not_found('outbox message', p_id);
    END IF;
    RETURN v_doc;
END
$$;
COMMENT ON FUNCTION stepup.ctl_outbox_show(uuid) IS
    'stepupctl outbox show: one outbox message with every delivery attempt.';
GRANT EXECUTE ON FUNCTION stepup.ctl_outbox_show(uuid) TO stepup_operator;

-- ctl_outbox_retry: `stepupctl outbox retry ID`: a message waiting for its
-- next attempt (PENDING, or SENDING under a lease that ran out) is due now,
-- and the senders are told (NOTIFY, sent at commit).  A message being sent
-- right now, or one that has ended (its text was scrubbed), cannot be.
-- The audit event operator.change names the message and its challenge.
CREATE OR REPLACE FUNCTION stepup.ctl_outbox_retry(p_id uuid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_msg record;
BEGIN
    SELECT o.status, o.lease_owner, o.lease_until, o.attempts, o.challenge_id, o.programme_id
      INTO v_msg
      FROM sms_outbox o WHERE o.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('outbox message', p_id);
    ELSIF v_msg.status = 'SENDING' AND v_msg.lease_until >= now() THEN
        RAISE EXCEPTION 'message % is being sent by % right now', p_id, v_msg.lease_owner
            USING ERRCODE = '55000';
    ELSIF v_msg.status NOT IN ('PENDING', 'SENDING') THEN
        RAISE EXCEPTION 'message % has ended (%): its text was scrubbed and cannot be sent again; '
                        'the user can ask for a new code', p_id, v_msg.status
            USING ERRCODE = '55000';
    END IF;
    UPDATE sms_outbox o SET next_attempt_at = now() WHERE o.id = p_id;
    PERFORM audit_event('operator.change', v_msg.programme_id, p_user_id => c.user_id,
                        p_session_id => c.session_id, p_challenge_id => v_msg.challenge_id,
                        p_detail => jsonb_build_object('command', 'outbox retry', 'outbox_id', p_id,
                                                       'status', v_msg.status,
                                                       'attempts', v_msg.attempts))
       FROM challenges c
      WHERE c.id = v_msg.challenge_id;
    PERFORM pg_notify('stepup_outbox', p_id::text);
END
$$;
COMMENT ON FUNCTION stepup.ctl_outbox_retry(uuid) IS
    'stepupctl outbox retry: makes a waiting outbox message due now and wakes the senders.';
GRANT EXECUTE ON FUNCTION stepup.ctl_outbox_retry(uuid) TO stepup_operator;

-- ctl_outbox_purge: `stepupctl outbox purge --older-than DURATION`: deletes
-- the messages that ended (SENT, DEAD, EXPIRED) longer than p_older_than
-- seconds ago, with their attempts; how many (and the audit event
-- operator.change, which says so too).
CREATE OR REPLACE FUNCTION stepup.ctl_outbox_purge(p_older_than_seconds bigint)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_deleted bigint;
BEGIN
    DELETE FROM sms_outbox o
     WHERE o.status IN ('SENT', 'DEAD', 'EXPIRED')
       AND o.ended_at < now() - p_older_than_seconds * interval '1 second';
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    PERFORM audit_event('operator.change', NULL,
                        p_detail => jsonb_build_object('command', 'outbox purge',
                                                       'older_than_seconds', p_older_than_seconds,
                                                       'deleted', v_deleted));
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION stepup.ctl_outbox_purge(bigint) IS
    'stepupctl outbox purge: deletes ended outbox messages (and their attempts) older than N seconds.';
GRANT EXECUTE ON FUNCTION stepup.ctl_outbox_purge(bigint) TO stepup_operator;

