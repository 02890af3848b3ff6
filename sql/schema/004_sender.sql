-- 004_sender.sql - stepup-sender's role, its delivery-attempt table and
-- the outbox columns of leases and delivery.
--
-- A schema step (see 001_schema.sql): applied once, never edited after it
-- has landed.  When it landed it also defined the four stepup.sender_*
-- functions; they now live in sql/functions/, whose header comment there
-- describes the claim / send / record loop and the message states.
--
-- Role stepup_sender: LOGIN without a password (configure authentication in
-- pg_hba.conf), USAGE on the schema and EXECUTE on the stepup.sender_*
-- functions (granted with them), nothing else.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'stepup_sender') THEN
        BEGIN
            CREATE ROLE stepup_sender LOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by a migration of another database
        END;
    END IF;
END
$roles$;
COMMENT ON ROLE stepup_sender IS
    'stepup-sender: may only execute the stepup.sender_* functions.';

-- ---------------------------------------------------------------------------
ALTER TABLE stepup.programmes
    ADD COLUMN sms_provider text NULL
        CONSTRAINT programmes_sms_provider CHECK (sms_provider IN ('http', 'exec', 'log'));
COMMENT ON COLUMN stepup.programmes.sms_provider IS
    'The stepup-sender provider for this programme''s texts: http, exec or log; NULL = the sender''s default (its "provider" setting).';

ALTER TABLE stepup.sms_outbox
    ADD COLUMN claimed_at timestamptz NULL,
    ADD COLUMN provider text NULL,
    ADD COLUMN provider_message_id text NULL,
    ADD COLUMN last_error text NULL;
COMMENT ON COLUMN stepup.sms_outbox.attempts IS
    'Delivery attempts so far (a claim starts one; a release on SIGTERM gives it back).';
COMMENT ON COLUMN stepup.sms_outbox.next_attempt_at IS
    'PENDING: due at this time (back-off after a failure); SENDING: equals lease_until.';
COMMENT ON COLUMN stepup.sms_outbox.claimed_at IS 'When the current (or last) lease was taken.';
COMMENT ON COLUMN stepup.sms_outbox.provider IS 'Provider of the last attempt (http, exec, log).';
COMMENT ON COLUMN stepup.sms_outbox.provider_message_id IS
    'The gateway''s id of the sent message (http provider, from the response), for its support desk.';
COMMENT ON COLUMN stepup.sms_outbox.last_error IS
    'Why the last attempt failed, or why the message ended without being sent.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.sms_attempts (
    outbox_id           uuid NOT NULL REFERENCES stepup.sms_outbox (id) ON DELETE CASCADE,
    attempt             integer NOT NULL CHECK (attempt > 0),
    sender              text NOT NULL,
    provider            text NULL,
    started_at          timestamptz NOT NULL,
    duration_ms         integer NULL,
    status              text NOT NULL
        CHECK (status IN ('SENT', 'RETRY', 'DEAD', 'PERMANENT', 'LOST')),
    http_status         integer NULL,
    exit_code           integer NULL,
    error               text NULL,
    provider_message_id text NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (outbox_id, attempt)
);
COMMENT ON TABLE stepup.sms_attempts IS
    'Every delivery attempt of an outbox message and its result (written by stepup-sender).';
COMMENT ON COLUMN stepup.sms_attempts.attempt IS 'Attempt number, from 1 (sms_outbox.attempts at the claim).';
COMMENT ON COLUMN stepup.sms_attempts.sender IS 'The sender process (host:pid:random) that made the attempt.';
COMMENT ON COLUMN stepup.sms_attempts.status IS
    'SENT; RETRY (failed, tried again later); DEAD (failed, no tries left); PERMANENT (the gateway '
    'refused it for good, e.g. HTTP 400: no retry); LOST (the sender stopped during the attempt: the '
    'text may or may not have gone out - the lease ran out and the message was tried again).';
COMMENT ON COLUMN stepup.sms_attempts.http_status IS 'HTTP status of the gateway''s answer (http provider).';
COMMENT ON COLUMN stepup.sms_attempts.exit_code IS 'Exit status of the program (exec provider); -signal when killed.';
COMMENT ON COLUMN stepup.sms_attempts.error IS 'What went wrong (never the text or the code).';

-- ---------------------------------------------------------------------------
-- Privileges.
GRANT USAGE ON SCHEMA stepup TO stepup_sender;
REVOKE ALL ON stepup.sms_attempts FROM PUBLIC;
GRANT SELECT ON stepup.sms_attempts TO stepup_auditor;
GRANT SELECT (claimed_at, provider, provider_message_id, last_error) ON stepup.sms_outbox
    TO stepup_auditor;
