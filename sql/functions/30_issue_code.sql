-- issue_code: what issuing a code writes, for step-up and enrolment alike.
--
-- Supersedes the session's pending challenge of the same purpose, inserts
-- the new one (the sandbox code's hash in a sandbox programme) and, outside
-- sandbox, queues its text: the programme's template with {minutes} and
-- {programme} filled in ({minutes} first, so that a programme name cannot
-- inject it) and {code} left for the sender, which opens the sealed code.
-- Returns the outbox row's id, NULL in a sandbox.  Callers pass every
-- argument by name.  p_key_id is the id of the otp_key the code hash was
-- made with, p_seal_key_id that of the outbox_key the code was sealed
-- with (sql/schema/011_key_ids.sql): both are stored beside them.
-- p_sealed_to is the number the code was sealed for (the seal's AAD binds
-- it, see api_issue_destination): when a text is to be queued to another
-- number (it changed between the two calls) the call is refused with an
-- error, and nothing is written.
--
-- Its audit events, with the request's context and the caller's identity
-- (p_identity_id, which call_begin found): challenge.superseded for
-- each challenge it supersedes (that challenge's id: the UPDATE returns
-- them, so none costs a statement more), challenge.issued (purpose,
-- channel, sandbox) and, when a text is queued, challenge.queued
-- (outbox_id): two INSERTs into the log for a new challenge (one in a
-- sandbox), and one per challenge superseded.
CREATE OR REPLACE FUNCTION stepup.issue_code(p_session_id uuid, p_user_id uuid,
                                             p_programme_id uuid, p_purpose text,
                                             p_channel text, p_mobile text,
                                             p_challenge_id uuid, p_code_hash bytea,
                                             p_sandbox_code_hash bytea, p_code_sealed bytea,
                                             p_key_id text, p_seal_key_id text,
                                             p_sealed_to text, p_request_ref text, p_client_addr inet,
                                             p_user_agent text, p_identity_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_prog record;
    v_outbox uuid;
    v_old uuid[];
    v_id uuid;
BEGIN
    SELECT p.name, p.sandbox, p.expiry_seconds, p.sms_template INTO v_prog
      FROM programmes p
     WHERE p.id = p_programme_id;

    -- Into an array, not a FOR loop over the UPDATE: a loop opens a cursor,
    -- whose plan PostgreSQL made again at every call here.
    WITH superseded AS (
        UPDATE challenges c
           SET status = 'SUPERSEDED', ended_at = now()
         WHERE c.session_id = p_session_id AND c.status = 'PENDING' AND c.purpose = p_purpose
        RETURNING c.id)
    SELECT array_agg(superseded.id) INTO v_old FROM superseded;
    FOREACH v_id IN ARRAY coalesce(v_old, '{}') LOOP
        PERFORM audit_event('challenge.superseded', p_programme_id, p_user_id => p_user_id,
                            p_session_id => p_session_id, p_challenge_id => v_id,
                            p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                            p_user_agent => p_user_agent, p_identity_id => p_identity_id,
                            p_detail => jsonb_build_object('purpose', p_purpose,
                                                           'superseded_by', p_challenge_id));
    END LOOP;

    INSERT INTO challenges (id, session_id, user_id, programme_id, purpose, channel, mobile,
                            code_hash, key_id, sandbox, status, attempts, expires_at,
                            request_ref, client_addr, user_agent)
    VALUES (p_challenge_id, p_session_id, p_user_id, p_programme_id, p_purpose, p_channel,
            p_mobile, CASE WHEN v_prog.sandbox THEN p_sandbox_code_hash ELSE p_code_hash END,
            p_key_id, v_prog.sandbox, 'PENDING', 0, now() + make_interval(secs => v_prog.expiry_seconds),
            p_request_ref, p_client_addr, p_user_agent);
    PERFORM audit_event('challenge.issued', p_programme_id, p_user_id => p_user_id,
                        p_session_id => p_session_id, p_challenge_id => p_challenge_id,
                        p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                        p_user_agent => p_user_agent, p_identity_id => p_identity_id,
                        p_detail => jsonb_build_object('purpose', p_purpose, 'channel', p_channel,
                                                       'sandbox', v_prog.sandbox));

    IF NOT v_prog.sandbox THEN
        IF p_sealed_to IS DISTINCT FROM p_mobile THEN
            RAISE EXCEPTION 'issue_code: the code was sealed for another number than %''s',
                            p_challenge_id
                USING HINT = 'the number changed meanwhile: issue again';
        END IF;
        INSERT INTO sms_outbox AS o (challenge_id, programme_id, to_number, body_template,
                                     code_sealed, key_id)
        VALUES (p_challenge_id, p_programme_id, p_mobile,
                replace(replace(v_prog.sms_template, '{minutes}',
                                ceil(v_prog.expiry_seconds / 60.0)::integer::text),
                        '{programme}', v_prog.name),
                p_code_sealed, p_seal_key_id)
        RETURNING o.id INTO v_outbox;
        PERFORM audit_event('challenge.queued', p_programme_id, p_user_id => p_user_id,
                            p_session_id => p_session_id, p_challenge_id => p_challenge_id,
                            p_request_ref => p_request_ref, p_client_addr => p_client_addr,
                            p_user_agent => p_user_agent, p_identity_id => p_identity_id,
                            p_detail => jsonb_build_object('outbox_id', v_outbox));
    END IF;
    RETURN v_outbox;
END
$$;
COMMENT ON FUNCTION stepup.issue_code(uuid, uuid, uuid, text, text, text, uuid, bytea, bytea, bytea,
                                      text, text, text, text, inet, text, uuid) IS
    'Internal: supersedes, inserts the challenge and queues its text (outside sandbox); returns the outbox id.';
