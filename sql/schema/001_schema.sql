-- 001_schema.sql - the tables and the roles of stepup.
--
-- A schema step: applied once by `stepupctl migrate`, in the same
-- transaction as every other pending step and the functions of
-- sql/functions/, and never edited after it has landed (migrate refuses a
-- changed file).  Everything lives in schema `stepup`.  The trigger
-- function touch_updated_at, its triggers and the view challenge_history,
-- which this file held when it landed, are in sql/functions/.
--
-- Roles (cluster-wide, created once):
--   stepup_app      LOGIN, used by stepup-fcgi.  USAGE on the schema and
--                   EXECUTE on the stepup.api_* functions (sql/functions/), no
--                   table privilege at all: every read and write goes
--                   through those SECURITY DEFINER functions.
--   stepup_auditor  NOLOGIN, for DBAs (GRANT stepup_auditor TO someone).
--                   Reads every table except the columns that hold hashes
--                   or ciphertext (and the view stepup.challenge_history,
--                   granted with the view in sql/functions/).
--
-- Secrets are never stored in plain text: API keys and session tokens as
-- SHA-256, passwords as scrypt, OTP codes as HMAC-SHA256 with a key that is
-- not in the database, outbox codes sealed with AES-256-GCM by the
-- application.

CREATE SCHEMA stepup;
COMMENT ON SCHEMA stepup IS
    'stepup: SMS one-time-password step-up service (tables, DBA views, api_* functions).';
REVOKE ALL ON SCHEMA stepup FROM PUBLIC;

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'stepup_app') THEN
        BEGIN
            CREATE ROLE stepup_app LOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by a migration of another database
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'stepup_auditor') THEN
        BEGIN
            CREATE ROLE stepup_auditor NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$roles$;

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.programmes (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL,
    sandbox             boolean NOT NULL DEFAULT false,
    sms_enabled         boolean NOT NULL DEFAULT true,
    countries           text[] NULL,
    retry_seconds       integer NOT NULL DEFAULT 15 CHECK (retry_seconds >= 0),
    issue_limit         integer NOT NULL DEFAULT 2 CHECK (issue_limit >= 0),
    verify_attempts     integer NULL DEFAULT 5,
    expiry_seconds      integer NOT NULL DEFAULT 300 CHECK (expiry_seconds > 0),
    session_ttl_seconds integer NOT NULL DEFAULT 300 CHECK (session_ttl_seconds > 0),
    sms_template        text NOT NULL
        DEFAULT '{programme} verification code: {code}. It expires in {minutes} minutes.',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT programmes_countries_alpha2
        CHECK (countries IS NULL OR array_to_string(countries, ',') ~ '^([A-Z]{2}(,|$))*$')
);
COMMENT ON TABLE stepup.programmes IS
    'A programme: one API client (application) with its own users and step-up settings.';
COMMENT ON COLUMN stepup.programmes.sandbox IS
    'Sandbox: the code is always 123456 and no text message is queued.';
COMMENT ON COLUMN stepup.programmes.sms_enabled IS
    'false: the SMS channel is switched off (409 CHANNEL_NOT_SUPPORTED).';
COMMENT ON COLUMN stepup.programmes.countries IS
    'Allow-list of ISO 3166-1 alpha-2 codes for enrolled numbers; NULL = any country.';
COMMENT ON COLUMN stepup.programmes.retry_seconds IS
    'Minimum seconds between two challenges of one session (409 RETRY_IN_15SEC).';
COMMENT ON COLUMN stepup.programmes.issue_limit IS
    'Maximum challenges per session (409 CHALLENGE_LIMIT_EXCEEDED).';
COMMENT ON COLUMN stepup.programmes.verify_attempts IS
    'Wrong-code attempts per challenge; NULL = no limit; values outside 1..5 are stored as given and act as 5.';
COMMENT ON COLUMN stepup.programmes.expiry_seconds IS
    'Lifetime of a challenge, from issue.';
COMMENT ON COLUMN stepup.programmes.session_ttl_seconds IS
    'A session ends this many seconds after its last activity.';
COMMENT ON COLUMN stepup.programmes.sms_template IS
    'Text message; {programme}, {minutes} and {code} are replaced.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES stepup.programmes (id),
    key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz NULL
);
CREATE INDEX api_keys_programme ON stepup.api_keys (programme_id);
COMMENT ON TABLE stepup.api_keys IS
    'API keys of a programme (header api-key); only their SHA-256 is stored.';
COMMENT ON COLUMN stepup.api_keys.key_hash IS 'SHA-256 of the key (the key is shown once, at creation).';
COMMENT ON COLUMN stepup.api_keys.revoked_at IS 'Set when the key was revoked; NULL while valid.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.identities (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES stepup.programmes (id),
    type         text NOT NULL DEFAULT 'CONSUMER',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identities_programme ON stepup.identities (programme_id);
COMMENT ON TABLE stepup.identities IS
    'An identity (a consumer or corporate customer); its users log in with their own credentials.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    identity_id   uuid NOT NULL REFERENCES stepup.identities (id),
    programme_id  uuid NOT NULL REFERENCES stepup.programmes (id),
    role          text NOT NULL CHECK (role IN ('ROOT', 'USER')),
    email         text NOT NULL,
    password_hash text NOT NULL,
    mobile        text NULL,
    mobile_kind   text NULL CHECK (mobile_kind IN ('MOBILE', 'NOT_MOBILE', 'INVALID')),
    mobile_region text NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_programme_email ON stepup.users (programme_id, lower(email));
CREATE INDEX users_identity ON stepup.users (identity_id);
COMMENT ON TABLE stepup.users IS
    'Users who log in with email and password: the identity''s root user or an authorised user.';
COMMENT ON COLUMN stepup.users.role IS 'ROOT (the identity''s owner) or USER (authorised user).';
COMMENT ON COLUMN stepup.users.email IS 'Login name, unique per programme regardless of case.';
COMMENT ON COLUMN stepup.users.password_hash IS 'scrypt, encoded as $scrypt$ln=..,r=..,p=..$salt$hash.';
COMMENT ON COLUMN stepup.users.mobile IS 'Mobile number on file, E.164.';
COMMENT ON COLUMN stepup.users.mobile_kind IS
    'libphonenumber''s verdict on mobile: MOBILE, NOT_MOBILE or INVALID.';
COMMENT ON COLUMN stepup.users.mobile_region IS 'ISO 3166-1 alpha-2 region of mobile, from numbering-plan data.';
COMMENT ON COLUMN stepup.users.active IS 'false: the user is deactivated and cannot log in.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.sessions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id      uuid NOT NULL REFERENCES stepup.programmes (id),
    user_id           uuid NOT NULL REFERENCES stepup.users (id),
    token_hash        bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    impersonation     boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz NULL,
    stepped_up_at     timestamptz NULL,
    challenges_issued integer NOT NULL DEFAULT 0,
    last_challenge_at timestamptz NULL,
    request_ref       text NULL,
    client_addr       inet NULL,
    user_agent        text NULL
);
CREATE INDEX sessions_user ON stepup.sessions (user_id);
COMMENT ON TABLE stepup.sessions IS
    'Login sessions (bearer tokens); only the token''s SHA-256 is stored.';
COMMENT ON COLUMN stepup.sessions.token_hash IS 'SHA-256 of the bearer token.';
COMMENT ON COLUMN stepup.sessions.impersonation IS
    'A back-office impersonation session: it may read, never step up.';
COMMENT ON COLUMN stepup.sessions.last_seen_at IS
    'Last authenticated request; the session expires session_ttl_seconds after it.';
COMMENT ON COLUMN stepup.sessions.ended_at IS 'Logout time; NULL while the session is open.';
COMMENT ON COLUMN stepup.sessions.stepped_up_at IS 'Time of the last successful step-up verification.';
COMMENT ON COLUMN stepup.sessions.challenges_issued IS 'Step-up challenges issued in this session.';
COMMENT ON COLUMN stepup.sessions.last_challenge_at IS 'Issue time of the session''s last step-up challenge.';
COMMENT ON COLUMN stepup.sessions.request_ref IS 'request-ref of the login request.';
COMMENT ON COLUMN stepup.sessions.client_addr IS 'Client address of the login request.';
COMMENT ON COLUMN stepup.sessions.user_agent IS 'User-Agent of the login request.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.factors (
    user_id       uuid NOT NULL REFERENCES stepup.users (id),
    channel       text NOT NULL CHECK (channel = 'SMS'),
    status        text NOT NULL CHECK (status IN ('ACTIVE', 'PENDING_VERIFICATION', 'INACTIVE')),
    mobile        text NULL,
    mobile_kind   text NULL CHECK (mobile_kind IN ('MOBILE', 'NOT_MOBILE', 'INVALID')),
    mobile_region text NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel)
);
COMMENT ON TABLE stepup.factors IS
    'Enrolled authentication factors (one SMS device per user) with the number they were enrolled on.';
COMMENT ON COLUMN stepup.factors.mobile IS 'The enrolled number, E.164.';
COMMENT ON COLUMN stepup.factors.mobile_kind IS 'MOBILE, NOT_MOBILE or INVALID (libphonenumber).';
COMMENT ON COLUMN stepup.factors.mobile_region IS 'ISO 3166-1 alpha-2 region of the enrolled number.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.challenges (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES stepup.sessions (id),
    user_id      uuid NOT NULL REFERENCES stepup.users (id),
    programme_id uuid NOT NULL REFERENCES stepup.programmes (id),
    purpose      text NOT NULL CHECK (purpose IN ('STEPUP', 'ENROLMENT')),
    channel      text NOT NULL,
    mobile       text NULL,
    code_hash    bytea NOT NULL,
    sandbox      boolean NOT NULL DEFAULT false,
    status       text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'VERIFIED', 'FAILED', 'EXPIRED', 'SUPERSEDED')),
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz NULL,
    request_ref  text NULL,
    client_addr  inet NULL,
    user_agent   text NULL
);
CREATE INDEX challenges_session ON stepup.challenges (session_id, created_at);
CREATE INDEX challenges_user ON stepup.challenges (user_id, created_at);
COMMENT ON TABLE stepup.challenges IS
    'Every OTP challenge ever issued (step-up and enrolment) and how it ended: the audit history.';
COMMENT ON COLUMN stepup.challenges.id IS
    'Chosen by the application: the AAD that binds the sealed code in sms_outbox to this challenge.';
COMMENT ON COLUMN stepup.challenges.mobile IS 'The number the code was sent to.';
COMMENT ON COLUMN stepup.challenges.code_hash IS
    'HMAC-SHA256(server key, SHA-256(session token) || code); the key is not in the database.';
COMMENT ON COLUMN stepup.challenges.sandbox IS 'Issued in a sandbox programme (code 123456, nothing sent).';
COMMENT ON COLUMN stepup.challenges.status IS
    'PENDING, VERIFIED, FAILED (attempts exhausted), EXPIRED or SUPERSEDED (by a newer challenge). '
    'A PENDING row past expires_at has expired: see stepup.challenge_history.';
COMMENT ON COLUMN stepup.challenges.attempts IS 'Wrong codes entered so far.';
COMMENT ON COLUMN stepup.challenges.ended_at IS 'When the status left PENDING.';
COMMENT ON COLUMN stepup.challenges.request_ref IS 'request-ref of the issuing request (also in the logs).';
COMMENT ON COLUMN stepup.challenges.client_addr IS 'Client address of the issuing request.';
COMMENT ON COLUMN stepup.challenges.user_agent IS 'User-Agent of the issuing request.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.idempotency_keys (
    session_id   uuid NOT NULL REFERENCES stepup.sessions (id),
    ref          text NOT NULL,
    operation    text NOT NULL,
    request_hash bytea NOT NULL,
    outcome      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (session_id, ref)
);
COMMENT ON TABLE stepup.idempotency_keys IS
    'idempotency-ref header values: the first outcome of an operation, replayed for 24 hours.';
COMMENT ON COLUMN stepup.idempotency_keys.operation IS 'The operation (endpoint and channel) the ref was used for.';
COMMENT ON COLUMN stepup.idempotency_keys.request_hash IS 'SHA-256 of the request payload.';
COMMENT ON COLUMN stepup.idempotency_keys.outcome IS 'The outcome of the first call, replayed to repeats.';

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.sms_outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    challenge_id    uuid NOT NULL REFERENCES stepup.challenges (id),
    programme_id    uuid NOT NULL REFERENCES stepup.programmes (id),
    to_number       text NOT NULL,
    body_template   text NULL,
    code_sealed     bytea NULL,
    status          text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'DEAD', 'EXPIRED')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     text NULL,
    lease_until     timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz NULL,
    ended_at        timestamptz NULL
);
CREATE INDEX sms_outbox_due ON stepup.sms_outbox (next_attempt_at)
    WHERE status IN ('PENDING', 'SENDING');
CREATE INDEX sms_outbox_challenge ON stepup.sms_outbox (challenge_id);
COMMENT ON TABLE stepup.sms_outbox IS
    'Text messages waiting for stepup-sender, and the record of those sent (NOTIFY stepup_outbox on insert).';
COMMENT ON COLUMN stepup.sms_outbox.to_number IS 'Destination, E.164.';
COMMENT ON COLUMN stepup.sms_outbox.body_template IS
    'The message with every placeholder rendered except {code}.';
COMMENT ON COLUMN stepup.sms_outbox.code_sealed IS
    'AES-256-GCM of the code (nonce || ciphertext || tag), AAD = the 16 bytes of challenge_id; '
    'sealed by the application, the key never reaches the database; scrubbed once sent.';
COMMENT ON COLUMN stepup.sms_outbox.status IS
    'PENDING (due at next_attempt_at), SENDING (leased), SENT, DEAD (gave up) or EXPIRED (challenge over before sending).';
COMMENT ON COLUMN stepup.sms_outbox.lease_owner IS 'The sender that claimed the row.';
COMMENT ON COLUMN stepup.sms_outbox.lease_until IS 'The claim lapses at this time, so another sender may retry.';

-- ---------------------------------------------------------------------------
-- Privileges.  stepup_app: nothing on tables (its functions' files grant it
-- EXECUTE on them).  stepup_auditor: read everything but secrets.
GRANT USAGE ON SCHEMA stepup TO stepup_app, stepup_auditor;
REVOKE ALL ON ALL TABLES IN SCHEMA stepup FROM PUBLIC;

GRANT SELECT ON stepup.programmes, stepup.identities, stepup.factors TO stepup_auditor;
GRANT SELECT (id, programme_id, created_at, revoked_at) ON stepup.api_keys TO stepup_auditor;
GRANT SELECT (id, identity_id, programme_id, role, email, mobile, mobile_kind, mobile_region,
              active, created_at) ON stepup.users TO stepup_auditor;
GRANT SELECT (id, programme_id, user_id, impersonation, created_at, last_seen_at, ended_at,
              stepped_up_at, challenges_issued, last_challenge_at, request_ref, client_addr,
              user_agent) ON stepup.sessions TO stepup_auditor;
GRANT SELECT (id, session_id, user_id, programme_id, purpose, channel, mobile, sandbox, status,
              attempts, created_at, expires_at, ended_at, request_ref, client_addr, user_agent)
    ON stepup.challenges TO stepup_auditor;
GRANT SELECT (session_id, ref, operation, outcome, created_at) ON stepup.idempotency_keys
    TO stepup_auditor;
GRANT SELECT (id, challenge_id, programme_id, to_number, body_template, status, attempts,
              next_attempt_at, lease_owner, lease_until, created_at, sent_at, ended_at)
    ON stepup.sms_outbox TO stepup_auditor;
