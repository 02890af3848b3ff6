-- migrate.sql - what `stepupctl migrate` runs first, in the one
-- transaction in which it then applies the pending steps of sql/schema/
-- and every file of sql/functions/ (as the owner of the schema).
--
-- It takes migrate's lock (two migrates never interleave), makes sure of
-- its table, and defines in pg_temp (gone when stepupctl disconnects) the
-- functions the runner calls, in this order:
--   stepup_migrate_applied()  the steps recorded as applied, in order;
--   stepup_migrate_record(p_version, p_name, p_checksum)
--                             records a step applied now, or gives a step
--                             recorded before checksums were its checksum;
--   stepup_migrate_begin_code()
--                             after the schema steps, before the files of
--                             sql/functions/: revokes every privilege on the
--                             code schema's functions and views from
--                             everyone but the owner (each file grants
--                             what it grants again, so after a migrate the
--                             grants are exactly the files'), then notes
--                             every function, view and trigger there with
--                             the place of its catalog row (ctid);
--   stepup_migrate_stray()    after the files: what kept its place, i.e.
--                             what no file (re)defined (CREATE OR REPLACE
--                             always writes a new row version): code that
--                             no file defines any more, which the runner
--                             refuses to leave;
--   stepup_migrate_finish()   last: PUBLIC may execute no function of the
--                             code schema (functions are executable by
--                             PUBLIC when created); each function is
--                             callable only by the roles its own file
--                             grants EXECUTE to, and by the owner.
-- The code schemas are stepup (functions, views, triggers) and audit (the
-- auditors' views, from sql/schema/007_audit_log.sql on).

-- "stepupmg" as a 64-bit number
SELECT pg_catalog.pg_advisory_xact_lock(8319385945341193575);

-- Some steps and CREATE OR REPLACE TRIGGER lock tables the API writes:
-- wait for such a lock at most this long (then stop, changing nothing),
-- rather than queue every request behind migrate.
SET LOCAL lock_timeout = '5s';

-- The record of migrations decides what runs, and its triggers would run
-- with migrate's rights: it must be a table of the role that migrates (or
-- of a superuser), not one another role created in public beforehand.
DO $owner$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
                WHERE c.oid = pg_catalog.to_regclass('public.stepup_migrations')
                  AND o.rolname <> current_user AND NOT o.rolsuper) THEN
        RAISE EXCEPTION 'public.stepup_migrations belongs to another role than %: stepupctl '
                        'migrate uses only a table of its own', current_user
              USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$owner$;

CREATE TABLE IF NOT EXISTS public.stepup_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE public.stepup_migrations ADD COLUMN IF NOT EXISTS checksum text;
COMMENT ON TABLE public.stepup_migrations IS
    'The schema steps of stepup (sql/schema/NNN_name.sql) applied to this database, by stepupctl migrate.';
COMMENT ON COLUMN public.stepup_migrations.checksum IS
    'SHA-256 (hex) of the step''s file as applied; migrate refuses a file that no longer matches. '
    'NULL until a stepupctl that records checksums first runs (it then records the file''s).';

CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_applied()
RETURNS TABLE (version integer, name text, checksum text, applied_at text)
LANGUAGE sql
STABLE
AS $$
    SELECT m.version, m.name, m.checksum, pg_catalog.to_char(m.applied_at, 'YYYY-MM-DD HH24:MI:SS TZ')
      FROM public.stepup_migrations m
     ORDER BY m.version;
$$;

CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_record(p_version integer, p_name text,
                                                         p_checksum text)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO public.stepup_migrations AS m (version, name, checksum)
    VALUES (p_version, p_name, p_checksum)
    ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum WHERE m.checksum IS NULL;
$$;

CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_begin_code()
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee
               FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              WHERE p.pronamespace = 'stepup'::pg_catalog.regnamespace
                AND a.grantee <> p.proowner AND a.grantee <> 0
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stepup FROM %I',
                                  pg_catalog.pg_get_userbyid(r.grantee));
    END LOOP;
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stepup FROM PUBLIC;
    FOR r IN SELECT c.oid::pg_catalog.regclass AS rel, a.grantee
               FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
              WHERE c.relnamespace IN ('stepup'::pg_catalog.regnamespace, 'audit'::pg_catalog.regnamespace)
                AND c.relkind = 'v'
                AND a.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', r.rel,
                                  CASE WHEN r.grantee = 0 THEN 'PUBLIC'
                                       ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee))
                                  END);
    END LOOP;

    DROP TABLE IF EXISTS pg_temp.stepup_migrate_code;
    CREATE TEMP TABLE stepup_migrate_code ON COMMIT DROP AS
        SELECT 'function ' || p.oid::pg_catalog.regprocedure::text AS object,
               'pg_proc' AS catalog, p.oid AS object_oid, p.ctid AS row_place
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'stepup'::pg_catalog.regnamespace
        UNION ALL
        SELECT 'view ' || c.oid::pg_catalog.regclass::text, 'pg_class', c.oid, c.ctid
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace IN ('stepup'::pg_catalog.regnamespace, 'audit'::pg_catalog.regnamespace)
                AND c.relkind = 'v'
        UNION ALL
        SELECT 'trigger ' || t.tgname || ' on ' || c.oid::pg_catalog.regclass::text, 'pg_trigger',
               t.oid, t.ctid
          FROM pg_catalog.pg_trigger t
          JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = 'stepup'::pg_catalog.regnamespace AND NOT t.tgisinternal
           AND t.tgparentid = 0; -- a partition's clone follows its parent
END
$$;

CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_stray()
RETURNS TABLE (object text)
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    -- PL/pgSQL: the note of stepup_migrate_begin_code does not exist yet here
    RETURN QUERY
    SELECT m.object
      FROM pg_temp.stepup_migrate_code m
     WHERE (m.catalog = 'pg_proc'
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.oid = m.object_oid AND p.ctid = m.row_place))
        OR (m.catalog = 'pg_class'
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = m.object_oid AND c.ctid = m.row_place))
        OR (m.catalog = 'pg_trigger'
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                         WHERE t.oid = m.object_oid AND t.ctid = m.row_place))
     ORDER BY m.object;
END
$$;

CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_finish()
RETURNS void
LANGUAGE sql
AS $$
    REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA stepup FROM PUBLIC;
$$;
