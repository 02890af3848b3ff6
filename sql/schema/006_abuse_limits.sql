-- 006_abuse_limits.sql - rate limits and lock-outs, gates that name the
-- programmes they trust, and sessions whose end is fixed.
--
-- Rate limits.  stepup.limit_kinds names every limit and its default;
-- stepup.programme_limits holds a programme's own value where it differs
-- (max_count NULL: the limit is off).  The effective limit of a programme
-- is its own row, else the kind's default (stepup.programme_limit, in
-- sql/functions/20_limits.sql, with the rules that count and refuse).
--
-- Counting: stepup.limit_counters, one row per (programme, limit,
-- subject, shard) holding the hits of the current fixed window (windows
-- are aligned to the epoch: a 1h window starts on the hour, as
-- x-ratelimit-reset tells).  A limit over the whole programme counts in
-- several shards (limit_kinds.shards), each database connection in its
-- own, so that no row is written by every request of a programme.
-- Subjects are never secrets; an e-mail address is kept as its SHA-256
-- (an unknown address counts as a known one, and is not stored).
-- stepup-sender deletes the counters whose window has ended
-- (sender_prune_limits).
--
-- Lock-outs: stepup.lockouts, one row each time a user's wrong codes
-- reached verify-failures-per-user; the lock doubles with each further
-- lock-out within a day (up to a day).

CREATE TABLE stepup.limit_kinds (
    name            text PRIMARY KEY,
    counts          text NOT NULL,
    default_count   integer NULL CHECK (default_count > 0),
    default_seconds integer NULL CHECK (default_seconds > 0),
    shards          smallint NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 64),
    CONSTRAINT limit_kinds_default_whole CHECK ((default_count IS NULL) = (default_seconds IS NULL))
);
COMMENT ON TABLE stepup.limit_kinds IS
    'The rate limits stepup knows, what each counts and its default (NULL: off).';
COMMENT ON COLUMN stepup.limit_kinds.shards IS
    'Counter rows per subject: more than 1 for a limit over a whole programme, so that requests do not queue on one row.';

INSERT INTO stepup.limit_kinds (name, counts, default_count, default_seconds, shards) VALUES
    ('login-failures-per-user',
     'failed logins for one e-mail address in the programme, known or not', 10, 900, 1),
    ('login-per-address', 'login attempts from one client address (IPv6: its /64)', NULL, NULL, 1),
    ('challenges-per-user',
     'challenges issued to one user, step-up and enrolment together', 10, 3600, 1),
    ('challenges-per-number',
     'challenges sent to one destination number, all users of the programme', 10, 3600, 1),
    ('challenges-per-prefix',
     'challenges sent to numbers that share a prefix (country code and prefix_digits digits)',
     NULL, NULL, 16),
    ('challenges-per-programme', 'all challenges of the programme (a spend cap)', NULL, NULL, 16),
    ('verify-failures-per-user',
     'wrong codes of one user across all sessions and challenges; reaching it locks the user out',
     10, 900, 1);

CREATE TABLE stepup.programme_limits (
    programme_id   uuid NOT NULL REFERENCES stepup.programmes (id),
    limit_name     text NOT NULL REFERENCES stepup.limit_kinds (name),
    max_count      integer NULL,
    period_seconds integer NULL,
    PRIMARY KEY (programme_id, limit_name),
    CONSTRAINT programme_limits_whole CHECK ((max_count IS NULL) = (period_seconds IS NULL)),
    CONSTRAINT programme_limits_count_range CHECK (max_count BETWEEN 1 AND 1000000),
    CONSTRAINT programme_limits_period_range CHECK (period_seconds BETWEEN 1 AND 2592000)
);
COMMENT ON TABLE stepup.programme_limits IS
    'A programme''s own value of a rate limit, where it is not the default of stepup.limit_kinds.';
COMMENT ON COLUMN stepup.programme_limits.max_count IS 'Requests allowed per window; NULL: the limit is off.';
COMMENT ON CONSTRAINT programme_limits_whole ON stepup.programme_limits IS
    'limit: COUNT and PERIOD go together (or neither: the limit off)';
COMMENT ON CONSTRAINT programme_limits_count_range ON stepup.programme_limits IS
    'limit: COUNT must be from 1 to 1000000 (or the limit off)';
COMMENT ON CONSTRAINT programme_limits_period_range ON stepup.programme_limits IS
    'limit: PERIOD must be from 1s to 30d';

CREATE TABLE stepup.limit_counters (
    programme_id uuid NOT NULL,
    limit_name   text NOT NULL,
    subject      text NOT NULL,
    shard        smallint NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (programme_id, limit_name, subject, shard)
) WITH (fillfactor = 70); -- room on the page for HOT updates of hits
COMMENT ON TABLE stepup.limit_counters IS
    'Hits of each rate limit in its current window, per subject (user id, number, prefix, address, e-mail hash).';
COMMENT ON COLUMN stepup.limit_counters.subject IS
    'What is counted: a user id, an E.164 number or prefix, a client address, the SHA-256 (hex) of a lower-case e-mail address, or empty (the programme).';
COMMENT ON COLUMN stepup.limit_counters.window_start IS
    'Start of the window the hits belong to; a hit in a later window starts again from 1.';

CREATE TABLE stepup.lockouts (
    id           bigserial PRIMARY KEY,
    programme_id uuid NOT NULL REFERENCES stepup.programmes (id),
    user_id      uuid NOT NULL REFERENCES stepup.users (id),
    limit_name   text NOT NULL REFERENCES stepup.limit_kinds (name),
    locked_at    timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz NOT NULL,
    lifted_at    timestamptz NULL
);
CREATE INDEX lockouts_user ON stepup.lockouts (user_id, locked_at);
COMMENT ON TABLE stepup.lockouts IS
    'Each time a user was locked out (verify-failures-per-user reached): no verification and no new challenge until locked_until.';
COMMENT ON COLUMN stepup.lockouts.lifted_at IS
    'Set by `stepupctl limits reset`: the lock-out no longer holds nor counts towards the next one''s length.';

REVOKE ALL ON stepup.limit_kinds, stepup.programme_limits, stepup.limit_counters, stepup.lockouts
    FROM PUBLIC;
REVOKE ALL ON SEQUENCE stepup.lockouts_id_seq FROM PUBLIC;
GRANT SELECT ON stepup.limit_kinds, stepup.programme_limits, stepup.lockouts
    TO stepup_auditor, stepup_operator;
GRANT SELECT (programme_id, limit_name, shard, window_start, hits) ON stepup.limit_counters
    TO stepup_auditor, stepup_operator;

-- ---------------------------------------------------------------------------
-- Programme settings: the gates its sessions may pass, the absolute
-- lifetime of its sessions, the prefix length challenges-per-prefix counts.
ALTER TABLE stepup.programmes
    ADD COLUMN gates text[] NOT NULL DEFAULT '{}'
        CONSTRAINT programmes_gates_names
        CHECK (array_position(gates, NULL) IS NULL AND array_position(gates, '') IS NULL
               AND array_to_string(gates, E'\x01') ~ '^([a-z0-9][a-z0-9._-]{0,62}(\x01|$))*$'),
    ADD COLUMN session_max_seconds integer NOT NULL DEFAULT 43200
        CONSTRAINT programmes_session_max_range CHECK (session_max_seconds BETWEEN 1 AND 2592000),
    ADD COLUMN prefix_digits integer NOT NULL DEFAULT 3
        CONSTRAINT programmes_prefix_digits_range CHECK (prefix_digits BETWEEN 0 AND 12);
COMMENT ON COLUMN stepup.programmes.gates IS
    'Names of the step-up gates (FastCGI Authorizer) this programme''s sessions may pass; none by default.';
COMMENT ON COLUMN stepup.programmes.session_max_seconds IS
    'A session ends this many seconds after it was opened, however active.';
COMMENT ON COLUMN stepup.programmes.prefix_digits IS
    'challenges-per-prefix counts numbers sharing their country code and this many further digits.';
COMMENT ON CONSTRAINT programmes_gates_names ON stepup.programmes IS
    'gates: names of 1 to 63 characters from a-z, 0-9, ".", "_" and "-", starting with a letter or digit';
COMMENT ON CONSTRAINT programmes_session_max_range ON stepup.programmes IS
    'session_max_seconds: an integer from 1 to 2592000';
COMMENT ON CONSTRAINT programmes_prefix_digits_range ON stepup.programmes IS
    'prefix_digits: an integer from 0 to 12';

-- ---------------------------------------------------------------------------
-- Sessions: the moment a session ends is stored, set at login and moved
-- by activity (never past created_at + session_max_seconds), so that a
-- later change of the programme's timeouts does not revive a session that
-- had already ended.  Sessions still open now get their end from the old
-- rule; NULL (every session that had already expired) is never live.
ALTER TABLE stepup.sessions ADD COLUMN expires_at timestamptz NULL;
COMMENT ON COLUMN stepup.sessions.expires_at IS
    'The session ends at this time unless used before (then it moves, up to created_at + session_max_seconds); NULL: ended before it was recorded.';
UPDATE stepup.sessions s
   SET expires_at = least(s.last_seen_at + make_interval(secs => p.session_ttl_seconds),
                          s.created_at + make_interval(secs => p.session_max_seconds))
  FROM stepup.programmes p
 WHERE p.id = s.programme_id AND s.ended_at IS NULL
   AND s.last_seen_at + make_interval(secs => p.session_ttl_seconds) >= now();
GRANT SELECT (expires_at) ON stepup.sessions TO stepup_auditor;

-- ---------------------------------------------------------------------------
-- Functions whose arguments or results change (their new definitions are
-- in sql/functions/).
DROP FUNCTION IF EXISTS stepup.call_begin(bytea, bytea, text, text, bytea);
DROP FUNCTION IF EXISTS stepup.api_gate(bytea, integer);
DROP FUNCTION IF EXISTS stepup.api_login_lookup(bytea, text);
DROP FUNCTION IF EXISTS stepup.api_issue_challenge(bytea, bytea, text, text, text, bytea, uuid, bytea,
                                         bytea, bytea, text, inet, text);
DROP FUNCTION IF EXISTS stepup.api_enrol_factor(bytea, bytea, text, text, text, bytea, uuid, bytea,
                                      bytea, bytea, text, inet, text);
DROP FUNCTION IF EXISTS stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea, bytea);

-- ---------------------------------------------------------------------------
-- Upgrading: a programme made before this step lists no gate, so its
-- sessions are refused at every step-up gate from now on (the gate used
-- to trust any session of any programme); say so, loudly.
DO $upgrade$
DECLARE
    v_count integer;
BEGIN
    SELECT count(*) INTO v_count FROM stepup.programmes;
    IF v_count > 0 THEN
        RAISE WARNING '% programme(s) list no step-up gate: their sessions are refused (403) at every gate until `stepupctl programme set ID --gates NAME`; sessions opened more than 12 hours ago have ended (--session-max-seconds)',
            v_count;
    END IF;
END
$upgrade$;
