-- 003_verify_enrol.sql - the table of verification attempts.
--
-- A schema step (see 001_schema.sql): applied once, never edited after it
-- has landed.  When it landed it also defined verification, enrolment, the
-- factor list and the step-up gate (hash_equal, api_verify_challenge,
-- api_enrol_factor, api_factors, api_gate); those now live under
-- sql/functions/, where their comments also say how deactivation, number
-- changes and the lock order work.

-- ---------------------------------------------------------------------------
CREATE TABLE stepup.verification_attempts (
    id           bigserial PRIMARY KEY,
    challenge_id uuid NOT NULL REFERENCES stepup.challenges (id),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    matched      boolean NULL,
    outcome      text NOT NULL
);
CREATE INDEX verification_attempts_challenge
    ON stepup.verification_attempts (challenge_id, attempted_at);
COMMENT ON TABLE stepup.verification_attempts IS
    'Every verification attempt that reached a challenge (right, wrong, or too late), for audit.';
COMMENT ON COLUMN stepup.verification_attempts.matched IS
    'Whether the offered code matched; NULL when it was not compared (the challenge was no longer pending).';
COMMENT ON COLUMN stepup.verification_attempts.outcome IS
    'The outcome answered (OK, VERIFICATION_CODE_INVALID, STATE_INVALID, ...).';

REVOKE ALL ON stepup.verification_attempts FROM PUBLIC;
GRANT SELECT ON stepup.verification_attempts TO stepup_auditor;
