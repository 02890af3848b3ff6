-- 007_audit_log.sql - the append-only audit log, its seals, and the
-- auditor's own schema.
--
-- stepup.audit_log: one row per event (a step in a challenge's life, a
-- login, a logout, an enrolment, a refusal of the gate, an operator's
-- change), written by the function that makes the change, in its
-- transaction.  The roles stepup runs as may insert and nothing else;
-- audit_log_refuse_change (sql/functions/15_audit.sql) refuses UPDATE,
-- DELETE and TRUNCATE for everyone.  Old months leave only as whole
-- partitions (stepupctl audit purge), after they are sealed.
--
-- Partitioned by month on "at" (the time of the transaction, like every
-- created_at), so that years of history cost a query no more than the
-- months it reads, and retention drops a table instead of deleting rows.
-- stepup.audit_log_default catches an event no month was made for yet
-- (stepupctl partitions, and stepup-sender every hour, make months
-- ahead), so an insert never fails for want of a partition.
--
-- stepup.audit_seals: the hash chain.  A sealer (in stepup-sender) takes
-- every event of the transactions that ended since the last seal (xact_id
-- in [xact_from, xact_to), xact_to being the oldest transaction still
-- running when it looked, so no event can join a range later), lists each
-- one's seq, time and SHA-256 in entries, chains the list to the previous
-- seal's digest and signs the digest with an Ed25519 key held outside the
-- database.  Events are written freely: sealing takes no lock a request
-- waits on.  stepupctl audit verify recomputes every hash from the events
-- and checks each signature with the public key alone.

CREATE SEQUENCE stepup.audit_log_seq AS bigint;

CREATE TABLE stepup.audit_log (
    seq          bigint NOT NULL DEFAULT nextval('stepup.audit_log_seq'),
    at           timestamptz NOT NULL DEFAULT now(),
    xact_id      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event        text NOT NULL,
    programme_id uuid NULL,
    identity_id  uuid NULL,
    user_id      uuid NULL,
    session_id   uuid NULL,
    challenge_id uuid NULL,
    request_ref  text NULL,
    client_addr  inet NULL,
    user_agent   text NULL,
    actor        text NOT NULL DEFAULT session_user,
    detail       jsonb NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (at);
-- No primary key: seq comes from a sequence, and a unique index would
-- check every insert for nothing a query needs.  A day's events are found
-- by a B-tree on at (BRIN was tried: until VACUUM summarises the newest
-- pages it reads the whole month, 300 ms instead of 20 for a day of ten
-- million events).
CREATE INDEX audit_log_at ON stepup.audit_log (at);
CREATE INDEX audit_log_user ON stepup.audit_log (user_id, at) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_challenge ON stepup.audit_log (challenge_id) WHERE challenge_id IS NOT NULL;
CREATE INDEX audit_log_xact ON stepup.audit_log (xact_id, seq);
CREATE TABLE stepup.audit_log_default PARTITION OF stepup.audit_log DEFAULT;

COMMENT ON TABLE stepup.audit_log IS
    'Append-only log of every event (see stepup.audit_event_kinds), sealed into stepup.audit_seals; read it as audit.events.';
COMMENT ON COLUMN stepup.audit_log.seq IS 'Order of writing (a sequence: gaps are rolled-back transactions).';
COMMENT ON COLUMN stepup.audit_log.at IS 'Time of the transaction that wrote the event (its now()).';
COMMENT ON COLUMN stepup.audit_log.xact_id IS 'The writing transaction: decides which seal covers the event.';
COMMENT ON COLUMN stepup.audit_log.event IS 'What happened: a name of stepup.audit_event_kinds.';
COMMENT ON COLUMN stepup.audit_log.actor IS 'The database role that logged in (stepup_app, stepup_sender, an operator).';
COMMENT ON COLUMN stepup.audit_log.detail IS 'Facts of the event (outcome, limit, attempt...); never a code, token, key or password.';

CREATE TABLE stepup.audit_event_kinds (
    name        text PRIMARY KEY,
    description text NOT NULL
);
COMMENT ON TABLE stepup.audit_event_kinds IS 'The events stepup.audit_log records, and what each means.';
INSERT INTO stepup.audit_event_kinds (name, description) VALUES
    ('challenge.issued', 'a code was issued (detail: purpose, channel, sandbox)'),
    ('challenge.queued', 'its text was queued in sms_outbox (detail: outbox_id)'),
    ('challenge.superseded', 'a newer challenge of the session replaced a pending one'),
    ('challenge.verify_failed', 'a wrong code was offered (detail: attempts so far)'),
    ('challenge.verified', 'the right code was offered'),
    ('challenge.failed', 'the wrong codes reached the challenge''s limit: it can no longer be verified'),
    ('challenge.refused', 'a request for or on a challenge was refused (detail: outcome)'),
    ('limit.refused', 'a rate limit refused a request (detail: limit, retry_after)'),
    ('limit.locked_out', 'wrong codes reached verify-failures-per-user: the user is locked out (detail: seconds)'),
    ('sms.sent', 'the gateway accepted the text (detail: attempt, provider)'),
    ('sms.delivery_failed', 'an attempt failed and will be retried (detail: attempt, error)'),
    ('sms.dead', 'delivery was given up (detail: attempt, error)'),
    ('sms.expired_unsent', 'the challenge ended before its text was sent'),
    ('login.succeeded', 'a login opened a session'),
    ('login.failed', 'a login was refused (an unknown e-mail address is not recorded, only the programme)'),
    ('logout', 'a session was ended by its holder'),
    ('factor.enrolled', 'an enrolment code was verified: the factor is active'),
    ('gate.refused', 'the step-up gate refused a session (detail: outcome)'),
    ('operator.change', 'an operator command changed data (detail: command and what it set)'),
    ('audit.purged', 'old partitions of the log were dropped (detail: before, partitions, events)');

CREATE TABLE stepup.audit_seals (
    seal_no     bigint PRIMARY KEY CHECK (seal_no > 0),
    xact_from   xid8 NOT NULL,
    xact_to     xid8 NOT NULL,
    first_at    timestamptz NULL,
    last_at     timestamptz NULL,
    event_count integer NOT NULL CHECK (event_count >= 0),
    entries     bytea NOT NULL,
    prev_digest bytea NOT NULL,
    digest      bytea NOT NULL,
    signature   bytea NOT NULL,
    key_id      text NOT NULL,
    sealed_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_seals_range CHECK (xact_from < xact_to)
);
CREATE INDEX audit_seals_time ON stepup.audit_seals (last_at);
COMMENT ON TABLE stepup.audit_seals IS
    'The signed hash chain over stepup.audit_log (written by stepup-sender''s sealer, checked by stepupctl audit verify).';
COMMENT ON COLUMN stepup.audit_seals.xact_from IS 'The seal covers every event whose xact_id is in [xact_from, xact_to).';
COMMENT ON COLUMN stepup.audit_seals.entries IS
    'Per event, by seq: seq (8 bytes), at in microseconds since 1970 (8), SHA-256 of the event (32), big-endian.';
COMMENT ON COLUMN stepup.audit_seals.digest IS
    'SHA-256 of "stepup-audit-seal-v1", prev_digest, seal_no, xact_from, xact_to, event_count and entries.';
COMMENT ON COLUMN stepup.audit_seals.signature IS 'Ed25519 signature of digest by the sealing key.';
COMMENT ON COLUMN stepup.audit_seals.key_id IS 'First 16 hex digits of the SHA-256 of the raw public key.';

-- Months from this one to three ahead, as far as the sealer makes them
-- (stepup.audit_partitions_ensure, sql/functions/15_audit.sql).
-- UTC months, whatever the TimeZone of the session that migrates.
DO $months$
DECLARE
    m timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
BEGIN
    FOR i IN 0..3 LOOP
        EXECUTE format('CREATE TABLE stepup.%I PARTITION OF stepup.audit_log FOR VALUES FROM (%L) TO (%L)',
                       'audit_log_' || to_char(m + make_interval(months => i), 'YYYY_MM'),
                       (m + make_interval(months => i)) AT TIME ZONE 'UTC',
                       (m + make_interval(months => i + 1)) AT TIME ZONE 'UTC');
    END LOOP;
END
$months$;

-- ---------------------------------------------------------------------------
-- The auditor reads the schema audit (views, sql/functions/70_audit_views.sql)
-- and nothing else: its former grants on stepup's tables go.
CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'Views for auditors (stepup_auditor): the history, without a secret.';
REVOKE ALL ON ALL TABLES IN SCHEMA stepup FROM stepup_auditor;
REVOKE USAGE ON SCHEMA stepup FROM stepup_auditor;
GRANT USAGE ON SCHEMA audit TO stepup_auditor;

REVOKE ALL ON stepup.audit_log, stepup.audit_seals, stepup.audit_event_kinds FROM PUBLIC;
GRANT INSERT ON stepup.audit_log TO stepup_app, stepup_sender, stepup_operator;
GRANT USAGE ON SEQUENCE stepup.audit_log_seq TO stepup_app, stepup_sender, stepup_operator;
