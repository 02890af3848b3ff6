-- pgbench-issue.sql - baseline C: bench.reference_issue called directly,
-- on the sessions :from..:to of token set "ri" in random order.  The
-- token hash, challenge id, code hash and stand-in sealed code are made in
-- SQL here (the reference responder makes them in C).
\set n random(:from, :to)
SELECT bench.reference_issue(bench.token_hash('ri', :n), gen_random_uuid(),
                             sha256(convert_to(random()::text, 'UTF8')),
                             substring(sha512(convert_to(random()::text, 'UTF8')) FROM 1 FOR 34));
