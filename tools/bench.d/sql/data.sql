-- data.sql - how tools/bench makes the rows it measures with, in SQL
-- where the API would be slow.  Made by tools/bench as the owner of
-- stepup's schema, in the benchmark's own database only (schema bench).
--
-- Rows that only stepup's C code can make right are not made here: the
-- challenges stepup verifies (their code hashes need the otp_key) and the
-- texts the senders deliver (sealed with the outbox_key) are issued
-- through the API by tools/bench.  Everything else is plain data:
--
--   bench.id(kind, tag, n)     a deterministic UUID for the n-th row of a
--                              kind ('u' users, 'i' identities, 's'
--                              sessions, 'c' challenges...) of a data set:
--                              md5-based, so as scattered as random ones,
--                              and rows refer to each other without a join;
--   bench.token(set, n)        the bearer token of the n-th session of a
--                              set (a 2-character code): 43 characters, as
--                              stepup's own tokens; the session's
--                              token_hash is its SHA-256, as stepup-fcgi
--                              computes it (src/fcgi/request.c).  tools/bench
--                              writes the same tokens with printf '%s-%040d';
--   bench.mobile(base, n)      a UK mobile number, +4474 and 8 digits;
--   bench.email(tag, n)        the n-th user's e-mail address;
--   bench.make_users           users with identities and active SMS factors;
--   bench.make_sessions        live sessions of those users, for a token set;
--   bench.make_challenges      a pending challenge for each session of a
--                              token set, with the reference's code hash
--                              (baseline B: reference.sql).

CREATE SCHEMA IF NOT EXISTS bench;
COMMENT ON SCHEMA bench IS 'tools/bench: the baselines and the data of the benchmark (never in production).';

CREATE OR REPLACE FUNCTION bench.id(p_kind text, p_tag text, p_n bigint)
RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT md5(p_kind || ':' || p_tag || ':' || p_n::text)::uuid $$;

CREATE OR REPLACE FUNCTION bench.token(p_set text, p_n bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_set || '-' || lpad(p_n::text, 40, '0') $$;

CREATE OR REPLACE FUNCTION bench.token_hash(p_set text, p_n bigint)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT sha256(convert_to(bench.token(p_set, p_n), 'UTF8')) $$;

CREATE OR REPLACE FUNCTION bench.mobile(p_base bigint, p_n bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '+4474' || lpad((p_base + p_n)::text, 8, '0') $$;

CREATE OR REPLACE FUNCTION bench.email(p_tag text, p_n bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_tag || '-' || p_n::text || '@bench.example.com' $$;

-- (Every || above is text || text: an int8 would make it textanycat,
-- which is only STABLE, and PostgreSQL would then call these functions
-- instead of inlining them.)

-- p_n users of programme p_programme (tag p_tag), numbered from 1: each
-- the ROOT user of an identity of its own, with the password hash
-- p_password_hash (one scrypt hash made once by stepupctl user create: the
-- same password for all), a number of its own (bench.mobile(p_base, n))
-- and an ACTIVE SMS factor on it, as `stepupctl user enrol` leaves it;
-- made at p_created_at.  In chunks of 100,000, each committed; users that
-- exist already are kept (an interrupted run is resumed).
CREATE OR REPLACE PROCEDURE bench.make_users(p_programme uuid, p_tag text, p_n bigint,
                                             p_base bigint, p_password_hash text,
                                             p_created_at timestamptz DEFAULT now())
LANGUAGE plpgsql
AS $$
DECLARE
    v_chunk constant bigint := 100000;
BEGIN
    FOR v_from IN 1..p_n BY v_chunk LOOP
        INSERT INTO stepup.identities (id, programme_id, type, created_at)
        SELECT bench.id('i', p_tag, n), p_programme, 'CONSUMER', p_created_at
          FROM generate_series(v_from, least(v_from + v_chunk - 1, p_n)) n
        ON CONFLICT DO NOTHING;
        INSERT INTO stepup.users (id, identity_id, programme_id, role, email, password_hash,
                                  mobile, mobile_kind, mobile_region, created_at)
        SELECT bench.id('u', p_tag, n), bench.id('i', p_tag, n), p_programme, 'ROOT',
               bench.email(p_tag, n), p_password_hash, bench.mobile(p_base, n), 'MOBILE', 'GB',
               p_created_at
          FROM generate_series(v_from, least(v_from + v_chunk - 1, p_n)) n
        ON CONFLICT DO NOTHING;
        INSERT INTO stepup.factors (user_id, channel, status, mobile, mobile_kind, mobile_region,
                                    created_at, updated_at)
        SELECT bench.id('u', p_tag, n), 'SMS', 'ACTIVE', bench.mobile(p_base, n), 'MOBILE', 'GB',
               p_created_at, p_created_at
          FROM generate_series(v_from, least(v_from + v_chunk - 1, p_n)) n
        ON CONFLICT DO NOTHING;
        COMMIT;
    END LOOP;
END
$$;

-- Sessions p_from..p_to of token set p_set, live for 30 days, of the
-- users 1..p_users of tag p_tag in turn (session n: user 1 + (n - 1) %
-- p_users); p_stepped_up: stepped up now (for the gate).
CREATE OR REPLACE PROCEDURE bench.make_sessions(p_programme uuid, p_tag text, p_users bigint,
                                                p_set text, p_from bigint, p_to bigint,
                                                p_stepped_up boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    v_chunk constant bigint := 100000;
BEGIN
    FOR v_from IN p_from..p_to BY v_chunk LOOP
        INSERT INTO stepup.sessions (id, programme_id, user_id, token_hash, created_at,
                                     last_seen_at, expires_at, stepped_up_at, request_ref,
                                     client_addr, user_agent)
        SELECT bench.id('s', p_set, n), p_programme, bench.id('u', p_tag, 1 + (n - 1) % p_users),
               bench.token_hash(p_set, n), now(), now(), now() + interval '30 days',
               CASE WHEN p_stepped_up THEN now() END, gen_random_uuid()::text, '127.0.0.1',
               'tools/bench'
          FROM generate_series(v_from, least(v_from + v_chunk - 1, p_to)) n;
        COMMIT;
    END LOOP;
END
$$;

-- A pending challenge for each session p_from..p_to of token set p_set,
-- whose code is p_code under the reference's hash (SHA-256 of the token
-- hash and the code): what baseline B's verification finds.  In chunks of
-- 1,000 rows, each committed: the metrics trigger of stepup.challenges
-- upserts one counter row per inserted row, and in one transaction every
-- upsert walks all the row's versions that transaction made, so one big
-- INSERT grows with the square of its rows.
CREATE OR REPLACE PROCEDURE bench.make_challenges(p_set text, p_from bigint, p_to bigint,
                                                  p_code text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_chunk constant bigint := 1000;
BEGIN
    FOR v_from IN p_from..p_to BY v_chunk LOOP
        INSERT INTO stepup.challenges (id, session_id, user_id, programme_id, purpose, channel,
                                       mobile, code_hash, status, expires_at)
        SELECT gen_random_uuid(), s.id, s.user_id, s.programme_id, 'STEPUP', 'SMS', f.mobile,
               sha256(s.token_hash || convert_to(p_code, 'UTF8')), 'PENDING',
               now() + interval '1 day'
          FROM generate_series(v_from, least(v_from + v_chunk - 1, p_to)) n
          JOIN stepup.sessions s ON s.id = bench.id('s', p_set, n)
          JOIN stepup.factors f ON f.user_id = s.user_id AND f.channel = 'SMS';
        COMMIT;
    END LOOP;
END
$$;

-- The numbers of each token set already used in this database: a set's
-- sessions are numbered on from the last (bench.allocate), so that a
-- database kept for another run (the growth cluster) never gets a token
-- twice.
CREATE TABLE IF NOT EXISTS bench.token_sets (
    set_code text PRIMARY KEY CHECK (length(set_code) = 2),
    used     bigint NOT NULL DEFAULT 0
);

-- The first of p_count new session numbers of set p_set.
CREATE OR REPLACE FUNCTION bench.allocate(p_set text, p_count bigint)
RETURNS bigint LANGUAGE sql
AS $$
    INSERT INTO bench.token_sets AS t (set_code, used) VALUES (p_set, p_count)
    ON CONFLICT (set_code) DO UPDATE SET used = t.used + p_count
    RETURNING used - p_count + 1;
$$;
