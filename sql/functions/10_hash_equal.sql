-- hash_equal: true when a and b are both 32 bytes long and equal.  Every
-- byte pair is XORed into an accumulator without stopping early, so the
-- time taken does not depend on where the first difference is (as far as
-- PL/pgSQL lets us: the loop always runs 32 times).  NULL or another length
-- is false.
CREATE OR REPLACE FUNCTION stepup.hash_equal(a bytea, b bytea)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    acc integer := 0;
BEGIN
    IF a IS NULL OR b IS NULL OR octet_length(a) <> 32 OR octet_length(b) <> 32 THEN
        RETURN false;
    END IF;
    FOR i IN 0 .. 31 LOOP
        acc := acc | (get_byte(a, i) # get_byte(b, i));
    END LOOP;
    RETURN acc = 0;
END
$$;
COMMENT ON FUNCTION stepup.hash_equal(bytea, bytea) IS
    'Internal: constant-time comparison of two 32-byte hashes.';
