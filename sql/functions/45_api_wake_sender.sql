-- api_wake_sender: tell the senders that a text is queued (NOTIFY stepup_outbox).
--
-- stepup-fcgi calls it in a transaction of its own, after the issue's
-- commit, from a thread of its own (src/fcgi/waker.c) and at most once
-- every 10 ms for all the texts queued meanwhile: a wake-up inside the
-- issue's transaction would serialise the issues' commits (PostgreSQL
-- queues notifying commits one by one), one on the worker's connection
-- would cost each issue a transaction more, and a sender woken claims
-- every pending text anyway.  The wake-up is only a hint, so its commit does not wait for the
-- WAL to reach the disk (synchronous_commit off, for this transaction
-- only: set_config(..., true) lasts until its end): a crash loses at most
-- the hint, and the sender finds the text at its next poll.  The payload
-- is empty: senders only count wake-ups, and claim whatever is pending.
CREATE OR REPLACE FUNCTION stepup.api_wake_sender()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: an SQL function of two statements is planned at every call.
    PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
    PERFORM pg_catalog.pg_notify('stepup_outbox', '');
END
$$;
COMMENT ON FUNCTION stepup.api_wake_sender() IS
    'Wakes the senders (NOTIFY stepup_outbox) in a transaction that does not wait for its WAL flush.';
GRANT EXECUTE ON FUNCTION stepup.api_wake_sender() TO stepup_app;
