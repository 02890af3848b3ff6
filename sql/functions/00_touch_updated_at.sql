-- touch_updated_at: keeps updated_at current on the tables that are edited
-- in place (programmes, factors), and the triggers that call it.
CREATE OR REPLACE FUNCTION stepup.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION stepup.touch_updated_at() IS
    'Trigger: sets updated_at to now() on every UPDATE.';

CREATE OR REPLACE TRIGGER programmes_touch BEFORE UPDATE ON stepup.programmes
    FOR EACH ROW EXECUTE FUNCTION stepup.touch_updated_at();
CREATE OR REPLACE TRIGGER factors_touch BEFORE UPDATE ON stepup.factors
    FOR EACH ROW EXECUTE FUNCTION stepup.touch_updated_at();
