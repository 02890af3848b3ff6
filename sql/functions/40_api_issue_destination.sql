-- api_issue_destination: the number a code issued now for the session of
-- p_token_hash would be texted to: for p_purpose 'STEPUP' the number of
-- the user's ACTIVE factor of p_channel, for 'ENROLMENT' the user's number
-- on file; NULL when there is none (or no live session).
--
-- stepup-fcgi asks before it issues, because it seals the code for the
-- outbox with the destination number in the seal's AAD (so that an outbox
-- row edited to another number does not open), and the number lives only
-- here.  It reads, it decides nothing: the issuing function authenticates
-- and applies every rule, and refuses the call (issue_code) when the
-- number it would queue is not the one the code was sealed for.
CREATE OR REPLACE FUNCTION stepup.api_issue_destination(p_token_hash bytea, p_purpose text,
                                                        p_channel text)
RETURNS text
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = stepup, pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL, keeps its plans (a SECURITY DEFINER function is
    -- never inlined, and an SQL one is planned at every call), and one
    -- join per purpose: the CASE of two correlated subqueries this was
    -- cost 400 microseconds of the backend's time a call, this 50.
    IF p_purpose = 'STEPUP' THEN
        RETURN (SELECT f.mobile
                  FROM stepup.live_session(p_token_hash) l
                  JOIN stepup.factors f ON f.user_id = l.user_id
                 WHERE f.channel = p_channel AND f.status = 'ACTIVE');
    ELSIF p_purpose = 'ENROLMENT' THEN
        RETURN (SELECT u.mobile
                  FROM stepup.live_session(p_token_hash) l
                  JOIN stepup.users u ON u.id = l.user_id);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stepup.api_issue_destination(bytea, text, text) IS
    'The number a code issued now for a session would be sent to (what stepup-fcgi binds its seal to); NULL when none.';
GRANT EXECUTE ON FUNCTION stepup.api_issue_destination(bytea, text, text) TO stepup_app;
