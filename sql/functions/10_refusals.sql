-- The rules that several operations apply to a channel and a number, each
-- answering NULL when the request may go on, else the outcome that refuses
-- it.  Inlined into their callers (see 10_key_programme.sql).

-- channel_refusal: CHANNEL_NOT_SUPPORTED unless the channel is SMS and the
-- programme has SMS switched on (issue, enrolment, verification).
CREATE OR REPLACE FUNCTION stepup.channel_refusal(p_sms_enabled boolean, p_channel text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN p_channel IS DISTINCT FROM 'SMS' OR NOT p_sms_enabled
                THEN 'CHANNEL_NOT_SUPPORTED' END;
$$;
COMMENT ON FUNCTION stepup.channel_refusal(boolean, text) IS
    'Internal: CHANNEL_NOT_SUPPORTED, or NULL when the channel is SMS and SMS is on.';

-- mobile_refusal: whether a number may receive a programme's codes.
-- MOBILE_NUMBER_INVALID when there is no number or numbering-plan data does
-- not call it a mobile number (users.mobile_kind / factors.mobile_kind);
-- MOBILE_COUNTRY_NOT_SUPPORTED when the programme lists countries
-- (p_countries, NULL = any) and the number's region is not among them.
-- Whether the user has a number at all is the caller's question
-- (enrolment answers MOBILE_NUMBER_NOT_AVAILABLE first).
CREATE OR REPLACE FUNCTION stepup.mobile_refusal(p_countries text[], p_mobile text,
                                                 p_mobile_kind text, p_mobile_region text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN p_mobile IS NULL OR p_mobile_kind IS DISTINCT FROM 'MOBILE'
                THEN 'MOBILE_NUMBER_INVALID'
                WHEN p_countries IS NOT NULL
                     AND (p_mobile_region IS NULL OR NOT p_mobile_region = ANY (p_countries))
                THEN 'MOBILE_COUNTRY_NOT_SUPPORTED' END;
$$;
COMMENT ON FUNCTION stepup.mobile_refusal(text[], text, text, text) IS
    'Internal: MOBILE_NUMBER_INVALID, MOBILE_COUNTRY_NOT_SUPPORTED, or NULL when the number may receive codes.';

-- verify_limit: the wrong codes a challenge takes before it fails, from a
-- programme's verify_attempts: NULL (the limit is off) stays NULL, 1..5 is
-- itself, any other value acts as 5 (it is stored as given).
CREATE OR REPLACE FUNCTION stepup.verify_limit(p_verify_attempts integer)
RETURNS integer
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN p_verify_attempts IS NULL THEN NULL
                WHEN p_verify_attempts BETWEEN 1 AND 5 THEN p_verify_attempts
                ELSE 5 END;
$$;
COMMENT ON FUNCTION stepup.verify_limit(integer) IS
    'Internal: the effective wrong-code limit of a verify_attempts setting (NULL: none; outside 1..5: 5).';
