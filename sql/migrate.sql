-- migrate.sql - what `stepupctl migrate` runs first, in the one
-- transaction in which it then applies the pending steps of sql/schema/
-- and every file of sql/functions/ (as the owner of the schema).
--
-- It takes migrate's lock (two migrates never interleave), makes sure of
-- its table, and defines in pg_temp (gone when stepupctl disconnects) the
-- functions the runner calls:
--   stepup_migrate_applied()  the steps recorded as applied, in order;
--   stepup_migrate_record(p_version, p_name, p_checksum)
--                             records a step applied now, or gives a step
--                             recorded before checksums were its checksum;
--   stepup_migrate_stray()    functions, views and triggers of the code
--                             schemas that this transaction did not
--                             (re)define: code that no file defines any
--                             more, which the runner refuses to leave;
--   stepup_migrate_finish()   last: PUBLIC may execute no function of the
--                             code schemas (functions are executable by
--                             PUBLIC when created); each function is
--                             callable only by the roles its own file
--                             grants EXECUTE to, and by the owner.

-- "stepupmg" as a 64-bit number
SELECT pg_catalog.pg_advisory_xact_lock(8319385945341193575);

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

-- What this transaction wrote carries its transaction id as xmin: CREATE OR
-- REPLACE rewrites a function's, a view's and a trigger's catalog row even
-- when nothing changed.  The code schemas: stepup.
CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_stray()
RETURNS TABLE (object text)
LANGUAGE sql
STABLE
AS $$
    SELECT o.object FROM (
        SELECT 'function ' || p.oid::pg_catalog.regprocedure::text AS object
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = ANY (ARRAY['stepup'])
           AND p.xmin <> pg_catalog.pg_current_xact_id()::xid
        UNION ALL
        SELECT 'view ' || c.oid::pg_catalog.regclass::text
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY (ARRAY['stepup']) AND c.relkind IN ('v', 'm')
           AND c.xmin <> pg_catalog.pg_current_xact_id()::xid
        UNION ALL
        SELECT 'trigger ' || t.tgname || ' on ' || c.oid::pg_catalog.regclass::text
          FROM pg_catalog.pg_trigger t
          JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY (ARRAY['stepup']) AND NOT t.tgisinternal
           AND t.xmin <> pg_catalog.pg_current_xact_id()::xid) o
     ORDER BY o.object;
$$;

CREATE OR REPLACE FUNCTION pg_temp.stepup_migrate_finish()
RETURNS void
LANGUAGE sql
AS $$
    REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA stepup FROM PUBLIC;
$$;
