-- challenge_history: every challenge with the user's email and its
-- effective status, for DBAs and for `stepupctl challenges`: a PENDING
-- challenge past expires_at shows as EXPIRED (with expires_at as its
-- ended_at), stored_status keeps what the row says.  No hashes.
CREATE OR REPLACE VIEW stepup.challenge_history AS
SELECT c.id,
       c.programme_id,
       p.name AS programme_name,
       c.session_id,
       c.user_id,
       u.email,
       c.purpose,
       c.channel,
       c.mobile,
       c.sandbox,
       CASE WHEN c.status = 'PENDING' AND c.expires_at <= now() THEN 'EXPIRED'
            ELSE c.status END AS status,
       c.status AS stored_status,
       c.attempts,
       c.created_at,
       c.expires_at,
       coalesce(c.ended_at,
                CASE WHEN c.status = 'PENDING' AND c.expires_at <= now() THEN c.expires_at END)
           AS ended_at,
       c.request_ref,
       c.client_addr,
       c.user_agent,
       s.impersonation AS session_impersonation
  FROM stepup.challenges c
  JOIN stepup.users u ON u.id = c.user_id
  JOIN stepup.programmes p ON p.id = c.programme_id
  JOIN stepup.sessions s ON s.id = c.session_id;
COMMENT ON VIEW stepup.challenge_history IS
    'Challenges with the user''s email and their effective status (a PENDING challenge past expires_at shows as EXPIRED). No hashes.';
REVOKE ALL ON stepup.challenge_history FROM PUBLIC;
GRANT SELECT ON stepup.challenge_history TO stepup_operator;
