-- key_programme: the programme an API key (by its hash) belongs to; no row
-- when no unrevoked key has this hash.  The one place that decides whether
-- an api-key is valid.
--
-- A set-returning function, called in FROM: PostgreSQL then inlines it into
-- the caller's statement (one plan, cached with the caller's).
--
-- Internal helpers of this directory carry no SET search_path clause on
-- purpose: a SET clause prevents inlining and costs a configuration save
-- and restore on every call.  They qualify every name with its schema, are
-- called only from the SECURITY DEFINER functions (whose search_path is
-- pinned) and are executable by nobody else (stepupctl migrate revokes
-- EXECUTE from PUBLIC on every function: sql/migrate.sql).
CREATE OR REPLACE FUNCTION stepup.key_programme(p_api_key_hash bytea)
RETURNS TABLE (programme_id uuid)
LANGUAGE sql
STABLE
AS $$
    SELECT k.programme_id
      FROM stepup.api_keys k
     WHERE k.key_hash = p_api_key_hash AND k.revoked_at IS NULL;
$$;
COMMENT ON FUNCTION stepup.key_programme(bytea) IS
    'Internal: the programme of an unrevoked API key hash; no row when there is none.';
