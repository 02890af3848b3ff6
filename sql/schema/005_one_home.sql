-- 005_one_home.sql - the operator's role, the rules of what an operator
-- writes as constraints (programme settings, numbers, e-mail addresses),
-- and the helper signatures that sql/functions/ replaced.
--
-- Role stepup_operator: LOGIN without a password (configure authentication
-- in pg_hba.conf), for every stepupctl command but `migrate`.  It may
-- execute the stepup.ctl_* functions (granted with them) and read what the
-- commands show: programmes, the challenge history and the outbox views
-- (granted with the views), delivery attempts.  No table may it write, no
-- hash or ciphertext may it read.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'stepup_operator') THEN
        BEGIN
            CREATE ROLE stepup_operator LOGIN;
            -- only when created here: commenting on a role a DBA made needs CREATEROLE
            COMMENT ON ROLE stepup_operator IS
                'stepupctl (every command but migrate): may execute the stepup.ctl_* functions and read what they show.';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by a migration of another database
        END;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA stepup TO stepup_operator;
GRANT SELECT ON stepup.programmes, stepup.sms_attempts TO stepup_operator;

-- ---------------------------------------------------------------------------
-- Functions whose signature or result type changed when they moved to
-- sql/functions/ (CREATE OR REPLACE cannot change those).  Their new
-- definitions are applied right after the schema steps.
DROP FUNCTION IF EXISTS stepup.key_programme(bytea);
DROP FUNCTION IF EXISTS stepup.authenticate(bytea, bytea, boolean, boolean);

-- ---------------------------------------------------------------------------
-- What an operator may store of a user, now that stepup_operator can call
-- the ctl_* functions directly, without stepupctl's own checks in front:
-- E.164 numbers and plausible e-mail addresses (the rules of stepupctl and
-- of login's validation).  Whether a number is a mobile one, and its
-- region, is libphonenumber's verdict, which stepupctl passes in: the
-- database cannot judge it and trusts the operator.
ALTER TABLE stepup.users
    ADD CONSTRAINT users_mobile_e164 CHECK (mobile ~ '^\+[1-9][0-9]{6,14}$') NOT VALID,
    ADD CONSTRAINT users_email_shape
        CHECK (octet_length(email) <= 254 AND email ~ '^[^@\x01-\x20\x7f]+@[^@\x01-\x20\x7f]+$')
        NOT VALID;
ALTER TABLE stepup.factors
    ADD CONSTRAINT factors_mobile_e164 CHECK (mobile ~ '^\+[1-9][0-9]{6,14}$') NOT VALID;
COMMENT ON CONSTRAINT users_mobile_e164 ON stepup.users IS
    'mobile: E.164, a + and 7 to 15 digits, the first not 0';
COMMENT ON CONSTRAINT users_email_shape ON stepup.users IS
    'email: at most 254 bytes, one @ with text on both sides, no blanks or control characters';
COMMENT ON CONSTRAINT factors_mobile_e164 ON stepup.factors IS
    'mobile: E.164, a + and 7 to 15 digits, the first not 0';

-- ---------------------------------------------------------------------------
-- What a programme's settings may be (stepupctl checks the same bounds
-- from its table of settings, src/ctl/programme_settings.c, and a test
-- holds the two together).  The comment of each constraint is what an
-- operator reads when a value breaks it (ctl_programme_set).  Added NOT
-- VALID and then validated: a database holding a programme outside them
-- still migrates, with a warning, and keeps the old, weaker checks.
ALTER TABLE stepup.programmes
    ADD CONSTRAINT programmes_name_text
        CHECK (char_length(name) BETWEEN 1 AND 200 AND name !~ '[\x01-\x1f\x7f]'
               AND strpos(name, '{code}') = 0) NOT VALID,
    ADD CONSTRAINT programmes_retry_seconds_range
        CHECK (retry_seconds BETWEEN 0 AND 86400) NOT VALID,
    ADD CONSTRAINT programmes_issue_limit_range
        CHECK (issue_limit BETWEEN 0 AND 1000000) NOT VALID,
    ADD CONSTRAINT programmes_verify_attempts_range
        CHECK (verify_attempts BETWEEN 0 AND 1000000) NOT VALID,
    ADD CONSTRAINT programmes_expiry_seconds_range
        CHECK (expiry_seconds BETWEEN 1 AND 86400) NOT VALID,
    ADD CONSTRAINT programmes_session_ttl_range
        CHECK (session_ttl_seconds BETWEEN 1 AND 2592000) NOT VALID,
    ADD CONSTRAINT programmes_sms_template_text
        CHECK (char_length(sms_template) <= 480 AND strpos(sms_template, '{code}') > 0) NOT VALID,
    ADD CONSTRAINT programmes_countries_listed
        CHECK (cardinality(countries) > 0) NOT VALID;

COMMENT ON CONSTRAINT programmes_name_text ON stepup.programmes IS
    'name: 1 to 200 characters, without control characters or {code}';
COMMENT ON CONSTRAINT programmes_retry_seconds_range ON stepup.programmes IS
    'retry_seconds: an integer from 0 to 86400';
COMMENT ON CONSTRAINT programmes_issue_limit_range ON stepup.programmes IS
    'issue_limit: an integer from 0 to 1000000';
COMMENT ON CONSTRAINT programmes_verify_attempts_range ON stepup.programmes IS
    'verify_attempts: an integer from 0 to 1000000, or off';
COMMENT ON CONSTRAINT programmes_expiry_seconds_range ON stepup.programmes IS
    'expiry_seconds: an integer from 1 to 86400';
COMMENT ON CONSTRAINT programmes_session_ttl_range ON stepup.programmes IS
    'session_ttl_seconds: an integer from 1 to 2592000';
COMMENT ON CONSTRAINT programmes_sms_template_text ON stepup.programmes IS
    'sms_template: at most 480 characters, including {code}';
COMMENT ON CONSTRAINT programmes_countries_listed ON stepup.programmes IS
    'countries: at least one country, or any (an empty list would refuse every number)';
COMMENT ON CONSTRAINT programmes_countries_alpha2 ON stepup.programmes IS
    'countries: ISO 3166-1 alpha-2 codes in capitals, separated by commas (GB,MT), or any';
COMMENT ON CONSTRAINT programmes_sms_provider ON stepup.programmes IS
    'sms_provider: http, exec or log, or default (the sender''s own setting)';

DO $validate$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT v.tbl, v.new, v.old
               FROM (VALUES ('programmes', 'programmes_name_text', NULL),
                            ('programmes', 'programmes_retry_seconds_range', 'programmes_retry_seconds_check'),
                            ('programmes', 'programmes_issue_limit_range', 'programmes_issue_limit_check'),
                            ('programmes', 'programmes_verify_attempts_range', NULL),
                            ('programmes', 'programmes_expiry_seconds_range', 'programmes_expiry_seconds_check'),
                            ('programmes', 'programmes_session_ttl_range', 'programmes_session_ttl_seconds_check'),
                            ('programmes', 'programmes_sms_template_text', NULL),
                            ('programmes', 'programmes_countries_listed', NULL),
                            ('users', 'users_mobile_e164', NULL),
                            ('users', 'users_email_shape', NULL),
                            ('factors', 'factors_mobile_e164', NULL)) AS v (tbl, new, old)
    LOOP
        BEGIN
            EXECUTE pg_catalog.format('ALTER TABLE stepup.%I VALIDATE CONSTRAINT %I', r.tbl, r.new);
            IF r.old IS NOT NULL THEN
                EXECUTE pg_catalog.format('ALTER TABLE stepup.%I DROP CONSTRAINT IF EXISTS %I',
                                          r.tbl, r.old);
            END IF;
        EXCEPTION WHEN check_violation THEN
            RAISE WARNING 'a row of stepup.% breaks the new constraint % (%): it holds for changes '
                          'from now on; correct the row (stepupctl programme set, user set-mobile)',
                r.tbl, r.new, pg_catalog.obj_description(
                    (SELECT c.oid FROM pg_catalog.pg_constraint c
                      WHERE c.conrelid = pg_catalog.format('stepup.%I', r.tbl)::pg_catalog.regclass
                        AND c.conname = r.new), 'pg_constraint');
        END;
    END LOOP;
END
$validate$;
