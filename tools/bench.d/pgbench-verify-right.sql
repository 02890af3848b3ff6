-- pgbench-verify-right.sql - baseline C: bench.reference_verify with the
-- right code (123456), each session of token set "pr" once: client c takes
-- the sessions :from + c, :from + c + :nclients, ... (pgbench keeps a
-- client's :i from one transaction to the next; tools/bench passes
-- -D i=0 and -D nclients).
\set n :from + :client_id + :nclients * :i
\set i :i + 1
SELECT bench.reference_verify(bench.token_hash('pr', :n),
                              sha256(bench.token_hash('pr', :n) || '\x313233343536'::bytea));
