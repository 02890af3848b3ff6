-- 011_key_ids.sql - keys that can change: the id of the key each secret
-- was made with.
--
-- A schema step (see 001_schema.sql): applied once, never edited after it
-- has landed.
--
-- otp_key and outbox_key (stepup.conf, stepup-sender.conf) are key rings,
-- newest first: a new code is hashed, and sealed for the outbox, under
-- keys derived (HKDF-SHA256) from the first key of each ring, and the id
-- of that key is stored beside the hash and the seal, so that a code made
-- under an older key still listed verifies and opens after a rotation.
-- A row written before this step has no id (NULL): its code was hashed and
-- sealed with the bytes of the key as they are (the key written without
-- an id), and its seal binds the challenge id alone; those rows live
-- minutes, and are still checked and opened that way.
--
-- The functions that take or return the ids change their arguments: the
-- old ones are dropped here, sql/functions/ defines the new ones.

ALTER TABLE stepup.challenges ADD COLUMN key_id text NULL;
COMMENT ON COLUMN stepup.challenges.code_hash IS
    'HMAC-SHA256(K, SHA-256(session token) || code), K derived (HKDF) from the otp_key of key_id; '
    'no key is in the database.';
COMMENT ON COLUMN stepup.challenges.key_id IS
    'Id of the otp_key the code hash was made with (its newest key then); NULL: made before '
    'key ids, with the key written without an id, used as it is.';

ALTER TABLE stepup.sms_outbox ADD COLUMN key_id text NULL;
COMMENT ON COLUMN stepup.sms_outbox.key_id IS
    'Id of the outbox_key the code was sealed with; NULL: sealed before key ids, with the key '
    'written without an id, used as it is, and bound to challenge_id alone.';
COMMENT ON COLUMN stepup.sms_outbox.code_sealed IS
    'AES-256-GCM of the code (nonce || ciphertext || tag) under the key of key_id (derived for '
    'sealing), AAD = the 16 bytes of challenge_id followed by to_number, so that a row edited to '
    'another number no longer opens; sealed by the application, the key never reaches the '
    'database; scrubbed once sent.';

GRANT SELECT (key_id) ON stepup.challenges TO stepup_auditor;
GRANT SELECT (key_id) ON stepup.sms_outbox TO stepup_auditor;

DROP FUNCTION IF EXISTS stepup.api_issue_challenge(bytea, bytea, text, text, text, bytea, uuid,
                                                   bytea, bytea, bytea, text, inet, text);
DROP FUNCTION IF EXISTS stepup.api_enrol_factor(bytea, bytea, text, text, text, bytea, uuid,
                                                bytea, bytea, bytea, text, inet, text);
DROP FUNCTION IF EXISTS stepup.issue_code(uuid, uuid, uuid, text, text, text, uuid, bytea, bytea,
                                          bytea, text, inet, text);
DROP FUNCTION IF EXISTS stepup.api_verify_challenge(bytea, bytea, text, text, text, text, bytea,
                                                    bytea, text, inet, text);
DROP FUNCTION IF EXISTS stepup.sender_claim(text, integer, integer, integer);
