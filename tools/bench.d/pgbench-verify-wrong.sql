-- pgbench-verify-wrong.sql - baseline C: bench.reference_verify with a
-- wrong code (000000) on the sessions :from..:to of token set "rw", each
-- with a pending challenge, in random order.
\set n random(:from, :to)
SELECT bench.reference_verify(bench.token_hash('rw', :n),
                              sha256(bench.token_hash('rw', :n) || '\x303030303030'::bytea));
