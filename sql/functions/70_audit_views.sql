-- The auditors' views, in the schema audit: stepup_auditor may read these
-- and nothing else (sql/schema/007_audit_log.sql).  They run with their
-- owner's rights, so the auditor reads what they show and no column more.
-- None shows a code, a code's hash, a sealed code, a token or its hash, an
-- api-key or its hash, a password hash or the text of a message.  Days are
-- UTC days.  docs/audit.md explains each view and queries them.

-- audit.events: the log as it is, with the programme's name and the
-- user's e-mail address.  stepupctl audit verify reads the log here.
CREATE OR REPLACE VIEW audit.events AS
SELECT e.seq, e.at, e.xact_id, e.event, e.programme_id, p.name AS programme_name,
       e.identity_id, e.user_id, u.email, e.session_id, e.challenge_id, e.request_ref,
       e.client_addr, e.user_agent, e.actor, e.detail
  FROM stepup.audit_log e
  LEFT JOIN stepup.programmes p ON p.id = e.programme_id
  LEFT JOIN stepup.users u ON u.id = e.user_id;
COMMENT ON VIEW audit.events IS
    'Every audit event (stepup.audit_log) with the programme''s name and the user''s e-mail address.';
GRANT SELECT ON audit.events TO stepup_auditor;

-- audit.seals: the hash chain, for stepupctl audit verify.
CREATE OR REPLACE VIEW audit.seals AS
SELECT s.seal_no, s.xact_from, s.xact_to, s.first_at, s.last_at, s.event_count, s.entries,
       s.prev_digest, s.digest, s.signature, s.key_id, s.sealed_at
  FROM stepup.audit_seals s;
COMMENT ON VIEW audit.seals IS
    'The signed seals over the audit log (stepupctl audit verify checks them with the public key).';
GRANT SELECT ON audit.seals TO stepup_auditor;

-- audit.event_kinds: what each event name means.
CREATE OR REPLACE VIEW audit.event_kinds AS
SELECT k.name, k.description FROM stepup.audit_event_kinds k;
COMMENT ON VIEW audit.event_kinds IS 'The names of audit.events.event and what each means.';
GRANT SELECT ON audit.event_kinds TO stepup_auditor;

-- audit.challenges: one row per challenge, its whole story.
CREATE OR REPLACE VIEW audit.challenges AS
SELECT c.id AS challenge_id, c.programme_id, p.name AS programme_name, c.user_id, u.email,
       c.session_id, s.impersonation AS session_impersonation, c.purpose, c.channel,
       c.mobile AS destination, c.sandbox,
       CASE WHEN c.status = 'PENDING' AND c.expires_at <= now() THEN 'EXPIRED'
            ELSE c.status END AS outcome,
       c.created_at AS issued_at, c.expires_at,
       coalesce(c.ended_at,
                CASE WHEN c.status = 'PENDING' AND c.expires_at <= now() THEN c.expires_at END)
           AS ended_at,
       CASE WHEN c.status = 'VERIFIED' THEN extract(epoch FROM c.ended_at - c.created_at) END
           AS seconds_to_verify,
       c.attempts AS wrong_codes,
       (SELECT count(*) FROM stepup.verification_attempts va WHERE va.challenge_id = c.id)
           AS verification_attempts,
       o.status AS sms_status, o.attempts AS sms_attempts, o.sent_at AS sms_sent_at,
       extract(epoch FROM o.sent_at - c.created_at) AS seconds_to_send,
       o.last_error AS sms_last_error,
       c.request_ref, c.client_addr, c.user_agent
  FROM stepup.challenges c
  JOIN stepup.programmes p ON p.id = c.programme_id
  JOIN stepup.users u ON u.id = c.user_id
  JOIN stepup.sessions s ON s.id = c.session_id
  LEFT JOIN LATERAL (SELECT o.status, o.attempts, o.sent_at, o.last_error
                       FROM stepup.sms_outbox o
                      WHERE o.challenge_id = c.id
                      ORDER BY o.created_at DESC
                      LIMIT 1) o ON true;
COMMENT ON VIEW audit.challenges IS
    'One row per challenge: issued, its text''s delivery, wrong codes, outcome (a pending challenge past its time shows EXPIRED) and timings.';
GRANT SELECT ON audit.challenges TO stepup_auditor;

-- audit.sms_deliveries: one row per text, with every attempt to send it.
CREATE OR REPLACE VIEW audit.sms_deliveries AS
SELECT o.id AS outbox_id, o.challenge_id, o.programme_id, p.name AS programme_name,
       o.to_number AS destination, o.status, o.attempts, o.created_at AS queued_at,
       o.claimed_at, o.sent_at, o.ended_at,
       extract(epoch FROM o.sent_at - o.created_at) AS seconds_to_send,
       o.provider, o.provider_message_id, o.last_error,
       coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'sender', a.sender,
                                                     'provider', a.provider,
                                                     'started_at', a.started_at,
                                                     'duration_ms', a.duration_ms,
                                                     'status', a.status,
                                                     'http_status', a.http_status,
                                                     'exit_code', a.exit_code, 'error', a.error)
                                  ORDER BY a.attempt)
                   FROM stepup.sms_attempts a
                  WHERE a.outbox_id = o.id), '[]'::jsonb) AS attempt_log
  FROM stepup.sms_outbox o
  JOIN stepup.programmes p ON p.id = o.programme_id;
COMMENT ON VIEW audit.sms_deliveries IS
    'One row per text message: where it went, how it ended, how long it took, and each delivery attempt (never its text).';
GRANT SELECT ON audit.sms_deliveries TO stepup_auditor;

-- audit.daily_summary: per programme and UTC day.
CREATE OR REPLACE VIEW audit.daily_summary AS
WITH ch AS (
    SELECT c.programme_id, (c.created_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS issued,
           count(*) FILTER (WHERE c.status = 'VERIFIED') AS verified,
           count(*) FILTER (WHERE c.status = 'FAILED') AS failed,
           count(*) FILTER (WHERE c.status = 'SUPERSEDED') AS superseded,
           count(*) FILTER (WHERE c.status = 'EXPIRED'
                               OR (c.status = 'PENDING' AND c.expires_at <= now())) AS expired
      FROM stepup.challenges c
     GROUP BY 1, 2
), sms AS (
    SELECT o.programme_id, (o.created_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS texts,
           count(*) FILTER (WHERE o.status = 'SENT') AS texts_sent,
           count(*) FILTER (WHERE o.status = 'DEAD') AS texts_dead,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.sent_at - o.created_at))
               FILTER (WHERE o.status = 'SENT') AS send_seconds_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM o.sent_at - o.created_at))
               FILTER (WHERE o.status = 'SENT') AS send_seconds_p95
      FROM stepup.sms_outbox o
     GROUP BY 1, 2
), refused AS (
    SELECT e.programme_id, (e.at AT TIME ZONE 'UTC')::date AS day, count(*) AS refused_by_limits
      FROM stepup.audit_log e
     WHERE e.event = 'limit.refused'
     GROUP BY 1, 2
), days AS (
    SELECT programme_id, day FROM ch
    UNION SELECT programme_id, day FROM sms
    UNION SELECT programme_id, day FROM refused WHERE programme_id IS NOT NULL
)
SELECT d.day, d.programme_id, p.name AS programme_name,
       coalesce(ch.issued, 0) AS issued, coalesce(ch.verified, 0) AS verified,
       coalesce(ch.failed, 0) AS failed, coalesce(ch.expired, 0) AS expired,
       coalesce(ch.superseded, 0) AS superseded,
       coalesce(refused.refused_by_limits, 0) AS refused_by_limits,
       coalesce(sms.texts, 0) AS texts, coalesce(sms.texts_sent, 0) AS texts_sent,
       coalesce(sms.texts_dead, 0) AS texts_dead,
       round(sms.texts_sent::numeric / nullif(sms.texts_sent + sms.texts_dead, 0), 4)
           AS delivery_success_rate,
       round(sms.send_seconds_p50::numeric, 3) AS send_seconds_p50,
       round(sms.send_seconds_p95::numeric, 3) AS send_seconds_p95
  FROM days d
  JOIN stepup.programmes p ON p.id = d.programme_id
  LEFT JOIN ch ON ch.programme_id = d.programme_id AND ch.day = d.day
  LEFT JOIN sms ON sms.programme_id = d.programme_id AND sms.day = d.day
  LEFT JOIN refused ON refused.programme_id = d.programme_id AND refused.day = d.day;
COMMENT ON VIEW audit.daily_summary IS
    'Per programme and UTC day: challenges issued, verified, failed, expired, superseded, refused by limits; texts sent and dead, the delivery success rate (of those that ended) and the time to send (p50, p95).';
GRANT SELECT ON audit.daily_summary TO stepup_auditor;
