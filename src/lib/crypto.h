/*
 * crypto.h - every cryptographic operation of stepup, on OpenSSL.
 *
 *  - random tokens (session tokens, API keys): 256 bits, base64url;
 *  - SHA-256 for storing tokens and API keys as hashes;
 *  - OTP codes: 6 digits from RAND_bytes by rejection sampling (no modulo
 *    bias), stored only as HMAC-SHA256(K, session token hash || code), K
 *    derived from an otp_key;
 *  - passwords: scrypt, encoded with their parameters and salt;
 *  - AES-256-GCM sealing of outbox secrets, bound to the row by its AAD;
 *  - key rings (a configured key and its predecessors, each with an id)
 *    and HKDF-SHA256, which derives a key of its own for each purpose
 *    from each of them;
 *  - Ed25519 signatures of the audit log's seals (keys in PEM files);
 *  - constant-time comparison.
 */
#ifndef STEPUP_CRYPTO_H
#define STEPUP_CRYPTO_H

#include <stdbool.h>
#include "common.h"

#define CRYPTO_TOKEN_BYTES 32
#define CRYPTO_TOKEN_LEN 43            /* base64url of 32 bytes, no padding */
#define CRYPTO_HASH_LEN 32             /* SHA-256 and HMAC-SHA256 output */
#define CRYPTO_KEY_LEN 32              /* AES-256 and HMAC keys */
#define CRYPTO_UUID_LEN 36             /* text form, without the NUL */
#define CRYPTO_OTP_DIGITS 6
#define CRYPTO_SEAL_OVERHEAD (12 + 16) /* nonce + GCM tag */
#define CRYPTO_PASSWORD_HASH_MAX 160
#define CRYPTO_SCRYPT_LOG2N_DEFAULT 15

/* len random bytes from RAND_bytes (a key, for instance). */
int crypto_random_bytes(unsigned char *out, size_t len) WARN_UNUSED;

/* A fresh random token: 256 bits from RAND_bytes, base64url, NUL-terminated. */
int crypto_random_token(char out[CRYPTO_TOKEN_LEN + 1]) WARN_UNUSED;

/* A random (version 4) UUID, as 16 bytes and as text. */
int crypto_uuid(unsigned char bytes[16], char text[CRYPTO_UUID_LEN + 1]) WARN_UNUSED;

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN]);

int crypto_hmac_sha256(const unsigned char *key, size_t keylen, const void *data,
                       size_t len, unsigned char out[CRYPTO_HASH_LEN]) WARN_UNUSED;

/* A uniformly random 6-digit code, NUL-terminated. */
int crypto_otp_code(char out[CRYPTO_OTP_DIGITS + 1]) WARN_UNUSED;

/*
 * HMAC-SHA256(key, session || code), where session is the SHA-256 of the
 * session token the challenge belongs to: how a code is stored, and what a
 * code offered for verification is hashed to, without the database ever
 * seeing a code or the key.  Binding the session keeps equal codes of
 * different sessions from having equal hashes.
 */
int crypto_otp_hash(const unsigned char key[CRYPTO_KEY_LEN],
                    const unsigned char session[CRYPTO_HASH_LEN], const char *code,
                    unsigned char out[CRYPTO_HASH_LEN]) WARN_UNUSED;

/*
 * Hash a password with scrypt (N = 2^log2n, r = 8, p = 1, 16-byte salt) into
 * "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>".  out must hold
 * CRYPTO_PASSWORD_HASH_MAX bytes.
 */
int crypto_password_hash(const char *password, int log2n, char *out, size_t outlen) WARN_UNUSED;

/* 1 when password matches encoded, 0 when not, STEPUP_ERR when encoded is malformed. */
int crypto_password_verify(const char *password, const char *encoded) WARN_UNUSED;

/*
 * AES-256-GCM.  out receives nonce(12) || ciphertext || tag(16) and must hold
 * ptlen + CRYPTO_SEAL_OVERHEAD bytes; *outlen is set.  aad is authenticated,
 * not stored: open with the same aad or fail.
 */
int crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                const void *pt, size_t ptlen, unsigned char *out, size_t *outlen) WARN_UNUSED;
int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen) WARN_UNUSED;

/*
 * HKDF-SHA256 (RFC 5869): extract with salt (NULL or saltlen 0: none) from
 * the input key ikm, expand with info into outlen bytes (at most 255*32).
 */
int crypto_hkdf_sha256(const unsigned char *ikm, size_t ikmlen, const unsigned char *salt,
                       size_t saltlen, const void *info, size_t infolen, unsigned char *out,
                       size_t outlen) WARN_UNUSED;

/*
 * A key ring: the keys a setting lists, newest first.  New secrets are
 * made with the first; what was made with an older one that is still
 * listed can still be checked or opened, by the id stored beside it.
 * Written "ID:HEX" (ID: 1..16 of letters, digits, '.', '_', '-'), or
 * "HEX" alone (the form before key ids): such a key's id is the first 8
 * hex digits of a key derived from it (info "stepup key-id v1"), and it is
 * the key of rows stored before key ids existed (their id is NULL), which
 * used its bytes as they are.  At most one key of a ring has no id.
 */
#define CRYPTO_KEYRING_MAX 8
#define CRYPTO_KEYNAME_MAX 16

/*
 * The purposes of derived keys: each gets its own key from each root key,
 * HKDF-SHA256(root, no salt, info), so that no two uses share one.  The
 * infos: "stepup otp-hash v1", "stepup outbox-seal v1", "stepup
 * idempotency v1".
 */
enum crypto_purpose {
    CRYPTO_PURPOSE_OTP_HASH,
    CRYPTO_PURPOSE_OUTBOX_SEAL,
    CRYPTO_PURPOSE_IDEMPOTENCY,
    CRYPTO_NPURPOSES
};

struct crypto_key {
    char id[CRYPTO_KEYNAME_MAX + 1];
    bool named;                       /* written ID:HEX */
    unsigned char raw[CRYPTO_KEY_LEN];
    /* Derived once, when the ring is parsed (crypto_key_for). */
    unsigned char derived[CRYPTO_NPURPOSES][CRYPTO_KEY_LEN];
};
struct crypto_keyring {
    size_t count;
    struct crypto_key keys[CRYPTO_KEYRING_MAX];
};

/*
 * Parse a ring from text (keys separated by blanks, newest first), and
 * derive each key's key of every purpose.  STEPUP_ERR with a reason that
 * never quotes a key in err; ring is then wiped.
 */
int crypto_keyring_parse(const char *text, struct crypto_keyring *ring, char *err,
                         size_t errlen) WARN_UNUSED;

/* The ring as text, the way crypto_keyring_parse reads it, into out (a secret: wipe it). */
int crypto_keyring_format(const struct crypto_keyring *ring, char *out, size_t outlen) WARN_UNUSED;

/* The key of ring with this id, or NULL; id NULL or "": the key without an id (legacy rows). */
const struct crypto_key *crypto_keyring_find(const struct crypto_keyring *ring, const char *id);

/* The newest key (the first), or NULL for an empty ring. */
const struct crypto_key *crypto_keyring_newest(const struct crypto_keyring *ring);

/* Derive root's key of purpose (HKDF-SHA256, as above) into out. */
int crypto_derive_key(const struct crypto_key *root, enum crypto_purpose purpose,
                      unsigned char out[CRYPTO_KEY_LEN]) WARN_UNUSED;

/* The key of purpose derived from k when its ring was parsed. */
const unsigned char *crypto_key_for(const struct crypto_key *k, enum crypto_purpose purpose);

/* Constant time: 1 when equal. */
int crypto_equal(const void *a, const void *b, size_t len);

/* Hex: decode exactly outlen bytes (2*outlen digits); encode writes 2*len+1. */
int crypto_hex_decode(const char *hex, unsigned char *out, size_t outlen) WARN_UNUSED;
void crypto_hex_encode(const unsigned char *in, size_t len, char *out);

/*
 * Ed25519.  A key is read from a PEM file: a private key (PKCS#8, as
 * `openssl genpkey -algorithm ed25519` writes) signs and verifies; a
 * public key (`openssl pkey -pubout`) only verifies.  want_private refuses
 * a public key.  NULL with the reason in err (never the key's bytes).
 */
#define CRYPTO_SIGNATURE_LEN 64
#define CRYPTO_KEY_ID_LEN 16 /* hex digits of the SHA-256 of the raw public key */
struct crypto_sign_key;
struct crypto_sign_key *crypto_sign_key_load(const char *path, bool want_private, char *err,
                                             size_t errlen);
void crypto_sign_key_free(struct crypto_sign_key *k);
int crypto_sign(const struct crypto_sign_key *k, const void *msg, size_t len,
                unsigned char sig[CRYPTO_SIGNATURE_LEN]) WARN_UNUSED;
/* 1 when sig is k's signature of msg, 0 when not. */
int crypto_sign_verify(const struct crypto_sign_key *k, const void *msg, size_t len,
                       const unsigned char sig[CRYPTO_SIGNATURE_LEN]);
/* The key's id: the first 16 hex digits of the SHA-256 of its raw public key. */
void crypto_sign_key_id(const struct crypto_sign_key *k, char out[CRYPTO_KEY_ID_LEN + 1]);

/* Overwrite a secret so the compiler cannot drop the store. */
void crypto_wipe(void *p, size_t len);

#endif
