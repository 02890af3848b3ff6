-- The stepupctl commands on programmes and API keys: every change is one
-- call of one of these SECURITY DEFINER functions, executable by the role
-- stepup_operator (and the owner).  Errors are raised with a message meant
-- for the operator, which stepupctl prints as it is.
--
-- Per-programme settings travel as a JSON object whose keys are the
-- columns of stepup.programmes (name, sandbox, sms_enabled, countries,
-- retry_seconds, issue_limit, verify_attempts, expiry_seconds,
-- session_ttl_seconds, session_max_seconds, sms_template, sms_provider,
-- gates, prefix_digits), and "limits": an object whose keys are names of
-- stepup.limit_kinds, each {"count": N, "seconds": S}, null (off) or
-- "default" (the kind's default again); a key that is absent leaves its
-- setting as it is.  What each accepts is the table's CHECK
-- constraints (sql/schema/005_one_home.sql), whose comments are the
-- messages an operator sees; stepupctl's table of settings
-- (src/ctl/programme_settings.c) documents the same bounds, and a test
-- holds the two together.
--
-- Every command here that changes data writes the audit event
-- operator.change in its transaction (detail: the command and what it
-- set; never a key or its hash, nor the text of a message).

-- programme_constraint_message: the comment of a CHECK constraint of
-- stepup.programmes or stepup.programme_limits (what it demands), or the
-- server's own message.
CREATE OR REPLACE FUNCTION stepup.programme_constraint_message(p_constraint text, p_default text)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce((SELECT pg_catalog.obj_description(c.oid, 'pg_constraint')
                       FROM pg_catalog.pg_constraint c
                      WHERE c.conrelid IN ('stepup.programmes'::pg_catalog.regclass,
                                           'stepup.programme_limits'::pg_catalog.regclass)
                        AND c.conname = p_constraint
                      LIMIT 1), p_default);
$$;
COMMENT ON FUNCTION stepup.programme_constraint_message(text, text) IS
    'Internal: the operator''s message for a violated CHECK constraint of a programme''s settings.';

-- programme_limits_write: apply the "limits" object of a programme's
-- settings (see above) to stepup.programme_limits.
CREATE OR REPLACE FUNCTION stepup.programme_limits_write(p_programme_id uuid, p_limits jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_name text;
    v_value jsonb;
BEGIN
    FOR v_name, v_value IN SELECT e.key, e.value FROM jsonb_each(p_limits) e LOOP
        IF NOT EXISTS (SELECT 1 FROM limit_kinds k WHERE k.name = v_name) THEN
            RAISE EXCEPTION 'no limit is called "%" (known: %)', v_name,
                (SELECT string_agg(k.name, ', ' ORDER BY k.name) FROM limit_kinds k)
                USING ERRCODE = '22023';
        END IF;
        IF v_value = '"default"'::jsonb THEN
            DELETE FROM programme_limits l
             WHERE l.programme_id = p_programme_id AND l.limit_name = v_name;
            CONTINUE;
        END IF;
        IF NOT (jsonb_typeof(v_value) = 'null'
                OR (jsonb_typeof(v_value) = 'object'
                    AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(v_value) k)
                        = ARRAY['count', 'seconds']
                    AND (v_value ->> 'count') ~ '^-?[0-9]{1,9}$'
                    AND (v_value ->> 'seconds') ~ '^-?[0-9]{1,9}$')) THEN
            RAISE EXCEPTION 'limit %: expected {"count": N, "seconds": S}, null (off) or "default" (JSON), got %',
                v_name, v_value USING ERRCODE = '22023';
        END IF;
        IF jsonb_typeof(v_value) = 'null' THEN
            -- off: its lock-outs end (and do not come back when it is on again)
            UPDATE lockouts o SET lifted_at = now()
             WHERE o.programme_id = p_programme_id AND o.limit_name = v_name
               AND o.lifted_at IS NULL AND o.locked_until > now();
        END IF;
        INSERT INTO programme_limits AS l (programme_id, limit_name, max_count, period_seconds)
        VALUES (p_programme_id, v_name, (v_value ->> 'count')::integer,
                (v_value ->> 'seconds')::integer)
        ON CONFLICT (programme_id, limit_name) DO UPDATE
           SET max_count = excluded.max_count, period_seconds = excluded.period_seconds;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stepup.programme_limits_write(uuid, jsonb) IS
    'Internal: sets a programme''s own values of rate limits from a JSON object.';

-- programme_write: write p_settings (see above) to programme p_programme_id
-- in one UPDATE, or, with a NULL id, to a new programme named p_name (every
-- other setting at its column default); the programme's id, NULL when
-- there is no such programme.  A value of the wrong JSON type, or a key
-- that is no setting, is refused here; the bounds are the table's, whose
-- violations are answered with their constraint's comment.  A
-- verify_attempts that acts as another limit than it says (verify_limit)
-- is applied with a WARNING.
CREATE OR REPLACE FUNCTION stepup.programme_write(p_programme_id uuid, p_name text,
                                                  p_settings jsonb)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid := p_programme_id;
    v_attempts integer;
    v_key text;
    v_value jsonb;
    v_want text;
BEGIN
    IF p_settings IS NULL OR jsonb_typeof(p_settings) <> 'object' THEN
        RAISE EXCEPTION 'programme settings must be a JSON object' USING ERRCODE = '22023';
    END IF;
    FOR v_key, v_value IN SELECT e.key, e.value FROM jsonb_each(p_settings) e LOOP
        v_want := CASE v_key
            WHEN 'name' THEN 'string'
            WHEN 'sandbox' THEN 'boolean'
            WHEN 'sms_enabled' THEN 'boolean'
            WHEN 'countries' THEN 'array or null'
            WHEN 'retry_seconds' THEN 'integer'
            WHEN 'issue_limit' THEN 'integer'
            WHEN 'verify_attempts' THEN 'integer or null'
            WHEN 'expiry_seconds' THEN 'integer'
            WHEN 'session_ttl_seconds' THEN 'integer'
            WHEN 'session_max_seconds' THEN 'integer'
            WHEN 'prefix_digits' THEN 'integer'
            WHEN 'gates' THEN 'array'
            WHEN 'limits' THEN 'object'
            WHEN 'sms_template' THEN 'string'
            WHEN 'sms_provider' THEN 'string or null'
        END;
        IF v_want IS NULL THEN
            RAISE EXCEPTION 'no programme setting is called "%"', v_key USING ERRCODE = '22023';
        END IF;
        IF NOT (CASE split_part(v_want, ' ', 1)
                    WHEN 'string' THEN jsonb_typeof(v_value) = 'string'
                    WHEN 'boolean' THEN jsonb_typeof(v_value) = 'boolean'
                    WHEN 'integer' THEN jsonb_typeof(v_value) = 'number'
                                        AND (v_value #>> '{}') ~ '^-?[0-9]{1,9}$'
                    WHEN 'array' THEN jsonb_typeof(v_value) = 'array'
                                      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_value) x
                                                       WHERE jsonb_typeof(x) <> 'string')
                    WHEN 'object' THEN jsonb_typeof(v_value) = 'object'
                END
                OR (jsonb_typeof(v_value) = 'null' AND v_want LIKE '% or null')) THEN
            RAISE EXCEPTION '%: expected % (JSON), got %', v_key, v_want, v_value
                USING ERRCODE = '22023';
        END IF;
    END LOOP;

    IF v_id IS NULL THEN
        INSERT INTO programmes AS p (name) VALUES (p_name) RETURNING p.id INTO v_id;
    END IF;
    UPDATE programmes p SET
        name = CASE WHEN p_settings ? 'name' THEN p_settings ->> 'name' ELSE p.name END,
        sandbox = CASE WHEN p_settings ? 'sandbox'
                       THEN (p_settings ->> 'sandbox')::boolean ELSE p.sandbox END,
        sms_enabled = CASE WHEN p_settings ? 'sms_enabled'
                           THEN (p_settings ->> 'sms_enabled')::boolean ELSE p.sms_enabled END,
        countries = CASE WHEN p_settings ? 'countries'
                         THEN CASE WHEN jsonb_typeof(p_settings -> 'countries') = 'array'
                                   THEN ARRAY(SELECT jsonb_array_elements_text(p_settings -> 'countries'))
                              END
                         ELSE p.countries END,
        retry_seconds = CASE WHEN p_settings ? 'retry_seconds'
                             THEN (p_settings ->> 'retry_seconds')::integer ELSE p.retry_seconds END,
        issue_limit = CASE WHEN p_settings ? 'issue_limit'
                           THEN (p_settings ->> 'issue_limit')::integer ELSE p.issue_limit END,
        verify_attempts = CASE WHEN p_settings ? 'verify_attempts'
                               THEN (p_settings ->> 'verify_attempts')::integer
                               ELSE p.verify_attempts END,
        expiry_seconds = CASE WHEN p_settings ? 'expiry_seconds'
                              THEN (p_settings ->> 'expiry_seconds')::integer ELSE p.expiry_seconds END,
        session_ttl_seconds = CASE WHEN p_settings ? 'session_ttl_seconds'
                                   THEN (p_settings ->> 'session_ttl_seconds')::integer
                                   ELSE p.session_ttl_seconds END,
        session_max_seconds = CASE WHEN p_settings ? 'session_max_seconds'
                                   THEN (p_settings ->> 'session_max_seconds')::integer
                                   ELSE p.session_max_seconds END,
        prefix_digits = CASE WHEN p_settings ? 'prefix_digits'
                             THEN (p_settings ->> 'prefix_digits')::integer ELSE p.prefix_digits END,
        gates = CASE WHEN p_settings ? 'gates'
                     THEN ARRAY(SELECT jsonb_array_elements_text(p_settings -> 'gates'))
                     ELSE p.gates END,
        sms_template = CASE WHEN p_settings ? 'sms_template'
                            THEN p_settings ->> 'sms_template' ELSE p.sms_template END,
        sms_provider = CASE WHEN p_settings ? 'sms_provider'
                            THEN p_settings ->> 'sms_provider' ELSE p.sms_provider END
     WHERE p.id = v_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_settings ? 'limits' THEN
        PERFORM programme_limits_write(v_id, p_settings -> 'limits');
    END IF;

    v_attempts := (p_settings ->> 'verify_attempts')::integer;
    IF v_attempts IS NOT NULL AND verify_limit(v_attempts) IS DISTINCT FROM v_attempts THEN
        RAISE WARNING 'verify_attempts % is outside 1..5 and acts as %', v_attempts,
            verify_limit(v_attempts);
    END IF;
    RETURN v_id;
EXCEPTION WHEN check_violation THEN
    DECLARE
        v_constraint text;
        v_message text;
    BEGIN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME, v_message = MESSAGE_TEXT;
        RAISE EXCEPTION '%', programme_constraint_message(v_constraint, v_message)
            USING ERRCODE = 'check_violation', CONSTRAINT = v_constraint;
    END;
END
$$;
COMMENT ON FUNCTION stepup.programme_write(uuid, text, jsonb) IS
    'Internal: applies a JSON object of settings to a programme, or to a new one; its id, NULL when there is none.';

-- programme_settings_audit: what operator.change records of the settings
-- a command was given: every key in "changed", every value in "settings"
-- but the text of the messages (sms_template).
CREATE OR REPLACE FUNCTION stepup.programme_settings_audit(p_settings jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT pg_catalog.jsonb_build_object(
               'changed', coalesce((SELECT pg_catalog.jsonb_agg(k ORDER BY k)
                                      FROM pg_catalog.jsonb_object_keys(p_settings) k),
                                   '[]'::jsonb),
               'settings', p_settings - 'sms_template');
$$;
COMMENT ON FUNCTION stepup.programme_settings_audit(jsonb) IS
    'Internal: the settings of a programme command as its audit event records them (no message text).';

-- ctl_programme_create: `stepupctl programme create --name NAME [SETTINGS]`.
-- A new programme with every setting at its default but those given;
-- returns its id.
CREATE OR REPLACE FUNCTION stepup.ctl_programme_create(p_name text, p_settings jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid;
BEGIN
    v_id := programme_write(NULL, p_name, coalesce(p_settings, '{}'::jsonb));
    PERFORM audit_event('operator.change', v_id,
                        p_detail => jsonb_build_object('command', 'programme create',
                                                       'name', p_name)
                                    || programme_settings_audit(coalesce(p_settings, '{}'::jsonb)));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION stepup.ctl_programme_create(text, jsonb) IS
    'stepupctl programme create: a new programme with the given settings; its id.';
GRANT EXECUTE ON FUNCTION stepup.ctl_programme_create(text, jsonb) TO stepup_operator;

-- ctl_programme_set: `stepupctl programme set ID [SETTINGS]`.
CREATE OR REPLACE FUNCTION stepup.ctl_programme_set(p_programme_id uuid, p_settings jsonb)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    IF p_programme_id IS NULL OR programme_write(p_programme_id, NULL, p_settings) IS NULL THEN
        PERFORM ctl_not_found('programme', p_programme_id);
    END IF;
    PERFORM audit_event('operator.change', p_programme_id,
                        p_detail => jsonb_build_object('command', 'programme set')
                                    || programme_settings_audit(p_settings));
    RETURN p_programme_id;
END
$$;
COMMENT ON FUNCTION stepup.ctl_programme_set(uuid, jsonb) IS
    'stepupctl programme set: changes the given settings of a programme.';
GRANT EXECUTE ON FUNCTION stepup.ctl_programme_set(uuid, jsonb) TO stepup_operator;

-- ctl_programme_show: `stepupctl programme show ID`: the programme's
-- settings under the keys programme_write takes, in the order of the
-- table of settings, with id and timestamps; "limits" maps every limit to
-- its effective value as stepupctl writes it ("10/15m", "off").
CREATE OR REPLACE FUNCTION stepup.ctl_programme_show(p_programme_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_doc json;
BEGIN
    SELECT json_build_object(
               'id', p.id, 'name', p.name, 'sandbox', p.sandbox, 'sms_enabled', p.sms_enabled,
               'countries', to_json(p.countries), 'retry_seconds', p.retry_seconds,
               'issue_limit', p.issue_limit, 'verify_attempts', p.verify_attempts,
               'expiry_seconds', p.expiry_seconds, 'session_ttl_seconds', p.session_ttl_seconds,
               'session_max_seconds', p.session_max_seconds,
               'sms_template', p.sms_template, 'sms_provider', p.sms_provider,
               'gates', to_json(p.gates), 'prefix_digits', p.prefix_digits,
               'limits', (SELECT json_object_agg(k.name, limit_text(e.max_count, e.period_seconds)
                                                 ORDER BY k.name)
                            FROM limit_kinds k
                           CROSS JOIN LATERAL programme_limit(p.id, k.name) e),
               'created_at', p.created_at, 'updated_at', p.updated_at)
      INTO v_doc
      FROM programmes p
     WHERE p.id = p_programme_id;
    IF v_doc IS NULL THEN
        PERFORM ctl_not_found('programme', p_programme_id);
    END IF;
    RETURN v_doc;
END
$$;
COMMENT ON FUNCTION stepup.ctl_programme_show(uuid) IS
    'stepupctl programme show: a programme and its settings as JSON.';
GRANT EXECUTE ON FUNCTION stepup.ctl_programme_show(uuid) TO stepup_operator;

-- ctl_apikey_create: `stepupctl apikey create --programme ID`.  stepupctl
-- makes the key and shows it once; only its SHA-256 reaches the database.
CREATE OR REPLACE FUNCTION stepup.ctl_apikey_create(p_programme_id uuid, p_key_hash bytea)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid;
BEGIN
    PERFORM 1 FROM programmes p WHERE p.id = p_programme_id FOR KEY SHARE;
    IF NOT FOUND THEN
        PERFORM ctl_not_found('programme', p_programme_id);
    END IF;
    INSERT INTO api_keys AS k (programme_id, key_hash) VALUES (p_programme_id, p_key_hash)
    RETURNING k.id INTO v_id;
    PERFORM audit_event('operator.change', p_programme_id,
                        p_detail => jsonb_build_object('command', 'apikey create',
                                                       'api_key_id', v_id));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION stepup.ctl_apikey_create(uuid, bytea) IS
    'stepupctl apikey create: stores a new API key''s hash for a programme; the key''s id.';
GRANT EXECUTE ON FUNCTION stepup.ctl_apikey_create(uuid, bytea) TO stepup_operator;
