-- ctl_not_found: the operator's error for an id that names nothing,
-- raised by the ctl_* functions: "no user with id ..." (SQLSTATE P0002,
-- no_data_found), which stepupctl prints as it is.
CREATE OR REPLACE FUNCTION stepup.ctl_not_found(p_what text, p_id uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'no % with id %', p_what, p_id USING ERRCODE = 'P0002';
END
$$;
COMMENT ON FUNCTION stepup.ctl_not_found(text, uuid) IS
    'Internal: raises the ctl_* functions'' "no <what> with id <id>" (SQLSTATE P0002).';
