/*
 * crypto.c - every cryptographic operation of stepup, on OpenSSL 3.
 *
 * Each function that talks to OpenSSL acquires its contexts in order, jumps
 * to a single `failed:` label on any error, and releases them there in
 * reverse order.  Intermediate secrets are wiped before return.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "secret_file.h"
#include "log.h"

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16

/* scrypt limits accepted when verifying a stored hash. */
#define SCRYPT_LOG2N_MIN 10
#define SCRYPT_LOG2N_MAX 20
#define SCRYPT_R_MAX 32
#define SCRYPT_P_MAX 16
#define SCRYPT_MEM_MAX ((uint64_t)1 << 30) /* 128 * r * N bytes at most */
#define SCRYPT_SALT_LEN 16

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Log the OpenSSL error queue (at most a few entries) and clear it. */
static void log_openssl(const char *what)
{
    unsigned long e;
    char buf[256];
    int shown = 0;

    while ((e = ERR_get_error()) != 0) {
        if (shown++ < 4) {
            ERR_error_string_n(e, buf, sizeof buf);
            log_msg(LOG_ERROR, NULL, "%s: %s", what, buf);
        }
    }
    if (shown == 0)
        log_msg(LOG_ERROR, NULL, "%s failed", what);
}

/*
 * Base64 of len bytes with the given alphabet, without padding, into out
 * (which must hold 4 * ceil(len / 3) + 1 bytes); NUL-terminated.  Returns the
 * number of characters written.
 */
static size_t b64_encode(const char *alphabet, const unsigned char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

/* Value of c in alphabet, or -1. */
static int b64_value(const char *alphabet, char c)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(alphabet, c);
    return p != NULL ? (int)(p - alphabet) : -1;
}

/*
 * Strict decoding of inlen characters of unpadded base64 into out (capacity
 * outcap).  Rejects foreign characters, impossible lengths and non-zero
 * trailing bits, so every byte string has exactly one accepted encoding.
 * Returns the decoded length, or -1.
 */
static long b64_decode(const char *alphabet, const char *in, size_t inlen, unsigned char *out,
                       size_t outcap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (inlen % 4 == 1)
        return -1;
    if (inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0) > outcap)
        return -1;
    for (size_t i = 0; i < inlen; i++) {
        int v = b64_value(alphabet, in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= ((uint32_t)1 << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    return (long)o;
}

/* len bytes from RAND_bytes (keys, for instance).  STEPUP_ERR when it fails. */
int crypto_random_bytes(unsigned char *out, size_t len)
{
    if (len > INT_MAX || RAND_bytes(out, (int)len) != 1) {
        log_openssl("RAND_bytes");
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

/*
 * A fresh session token or API key: CRYPTO_TOKEN_BYTES from RAND_bytes,
 * base64url without padding (CRYPTO_TOKEN_LEN characters) in out.
 * STEPUP_ERR when the random generator fails.
 */
int crypto_random_token(char out[CRYPTO_TOKEN_LEN + 1])
{
    unsigned char raw[CRYPTO_TOKEN_BYTES];
    int rc = STEPUP_ERR;

    if (crypto_random_bytes(raw, sizeof raw) != STEPUP_OK)
        goto failed;
    b64_encode(b64_url, raw, sizeof raw, out);
    rc = STEPUP_OK;
failed:
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

/*
 * A random version-4 UUID as 16 bytes and as lowercase text
 * (xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx).  STEPUP_ERR when the random
 * generator fails.
 */
int crypto_uuid(unsigned char bytes[16], char text[CRYPTO_UUID_LEN + 1])
{
    if (RAND_bytes(bytes, 16) != 1) {
        log_openssl("RAND_bytes");
        return STEPUP_ERR;
    }
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
    snprintf(text, CRYPTO_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
             bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
             bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
    return STEPUP_OK;
}

/*
 * SHA-256 of len bytes.  OpenSSL can fail here only when it cannot allocate
 * a digest context; as a wrong hash would silently corrupt lookups, that
 * aborts the process after logging.
 */
void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
    unsigned int outlen = 0;

    if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != CRYPTO_HASH_LEN) {
        log_openssl("EVP_Digest(SHA-256)");
        abort();
    }
}

/*
 * HMAC-SHA256 under key over the concatenation of nparts byte strings, into
 * out.  STEPUP_ERR on any OpenSSL failure (out is then zeroed).
 */
static int hmac_sha256_parts(const unsigned char *key, size_t keylen, const void *const *parts,
                             const size_t *lens, size_t nparts, unsigned char out[CRYPTO_HASH_LEN])
{
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t outlen = 0;
    int rc = STEPUP_ERR;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        goto failed;
    ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL)
        goto failed;
    if (EVP_MAC_init(ctx, key, keylen, params) != 1)
        goto failed;
    for (size_t i = 0; i < nparts; i++) {
        if (lens[i] > 0 && EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
            goto failed;
    }
    if (EVP_MAC_final(ctx, out, &outlen, CRYPTO_HASH_LEN) != 1 || outlen != CRYPTO_HASH_LEN)
        goto failed;
    rc = STEPUP_OK;
    goto done;

failed:
    log_openssl("HMAC-SHA256");
    OPENSSL_cleanse(out, CRYPTO_HASH_LEN);
done:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

/* HMAC-SHA256(key, data) into out.  STEPUP_ERR on OpenSSL failure. */
int crypto_hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
                       unsigned char out[CRYPTO_HASH_LEN])
{
    const void *parts[1] = {data};
    size_t lens[1] = {len};

    return hmac_sha256_parts(key, keylen, parts, lens, 1, out);
}

/*
 * A uniformly distributed 6-digit code with leading zeros kept.  Draws
 * 32-bit values from RAND_bytes and rejects those at or above the largest
 * multiple of 10^6 below 2^32, so that reducing modulo 10^6 has no bias.
 * STEPUP_ERR when the generator fails (or, absurdly, rejects 64 times).
 */
int crypto_otp_code(char out[CRYPTO_OTP_DIGITS + 1])
{
    const uint32_t modulus = 1000000;
    const uint64_t limit = ((uint64_t)1 << 32) / modulus * modulus; /* 4294000000 */
    unsigned char raw[4];
    int rc = STEPUP_ERR;

    for (int attempt = 0; attempt < 64; attempt++) {
        uint32_t v;
        if (RAND_bytes(raw, sizeof raw) != 1) {
            log_openssl("RAND_bytes");
            goto failed;
        }
        v = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
        if ((uint64_t)v >= limit)
            continue;
        snprintf(out, CRYPTO_OTP_DIGITS + 1, "%06u", (unsigned)(v % modulus));
        rc = STEPUP_OK;
        goto done;
    }
    log_msg(LOG_ERROR, NULL, "crypto_otp_code: random generator rejected 64 draws");
failed:
done:
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

/*
 * The stored form of an OTP: HMAC-SHA256(key, session || code), where code
 * is the text as entered (any length; it is not parsed).  The session hash
 * is fixed-length, so the concatenation is unambiguous.
 */
int crypto_otp_hash(const unsigned char key[CRYPTO_KEY_LEN],
                    const unsigned char session[CRYPTO_HASH_LEN], const char *code,
                    unsigned char out[CRYPTO_HASH_LEN])
{
    const void *parts[2] = {session, code};
    size_t lens[2] = {CRYPTO_HASH_LEN, 0};

    if (code == NULL)
        return STEPUP_ERR;
    lens[1] = strlen(code);
    return hmac_sha256_parts(key, CRYPTO_KEY_LEN, parts, lens, 2, out);
}

/*
 * Run the OpenSSL KDF called name with params into out[outlen].
 * STEPUP_ERR on OpenSSL failure (logged; out is then wiped).
 */
static int kdf_derive(const char *name, const OSSL_PARAM *params, unsigned char *out,
                      size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
    EVP_KDF_CTX *ctx = NULL;
    int rc = STEPUP_ERR;

    if (kdf == NULL)
        goto failed;
    ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == NULL)
        goto failed;
    if (EVP_KDF_derive(ctx, out, outlen, params) != 1)
        goto failed;
    rc = STEPUP_OK;
    goto done;

failed:
    log_openssl(name);
    OPENSSL_cleanse(out, outlen);
done:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

/*
 * scrypt(password, salt, N = 2^log2n, r, p) into out[outlen], with maxmem
 * set to what these parameters need.  STEPUP_ERR on OpenSSL failure.
 */
static int scrypt_derive(const char *password, const unsigned char *salt, size_t saltlen,
                         int log2n, uint32_t r, uint32_t p, unsigned char *out, size_t outlen)
{
    OSSL_PARAM params[7];
    uint64_t n = (uint64_t)1 << log2n;
    /* OpenSSL needs 128*r*p (B) + 128*r*(N+2) (V) bytes; add slack. */
    uint64_t maxmem = 128 * (uint64_t)r * p + 128 * (uint64_t)r * (n + 2) + ((uint64_t)1 << 20);

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                                  strlen(password));
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
    params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    params[6] = OSSL_PARAM_construct_end();
    return kdf_derive("SCRYPT", params, out, outlen);
}

/*
 * Hash a password with scrypt (N = 2^log2n, r = 8, p = 1), a fresh 16-byte
 * salt and a 32-byte output, encoded as
 * "$scrypt$ln=<log2n>,r=8,p=1$<salt>$<hash>" in unpadded standard base64.
 * log2n must be within 10..20; outlen must leave room for the encoding
 * (CRYPTO_PASSWORD_HASH_MAX always does).
 */
int crypto_password_hash(const char *password, int log2n, char *out, size_t outlen)
{
    unsigned char salt[SCRYPT_SALT_LEN];
    unsigned char hash[CRYPTO_HASH_LEN];
    char salt64[(SCRYPT_SALT_LEN + 2) / 3 * 4 + 1];
    char hash64[(CRYPTO_HASH_LEN + 2) / 3 * 4 + 1];
    int n, rc = STEPUP_ERR;

    if (password == NULL || out == NULL || log2n < SCRYPT_LOG2N_MIN || log2n > SCRYPT_LOG2N_MAX)
        goto failed;
    if (RAND_bytes(salt, sizeof salt) != 1) {
        log_openssl("RAND_bytes");
        goto failed;
    }
    if (scrypt_derive(password, salt, sizeof salt, log2n, 8, 1, hash, sizeof hash) != STEPUP_OK)
        goto failed;
    b64_encode(b64_std, salt, sizeof salt, salt64);
    b64_encode(b64_std, hash, sizeof hash, hash64);
    n = snprintf(out, outlen, "$scrypt$ln=%d,r=8,p=1$%s$%s", log2n, salt64, hash64);
    if (n < 0 || (size_t)n >= outlen)
        goto failed;
    rc = STEPUP_OK;
failed:
    if (rc != STEPUP_OK && out != NULL && outlen > 0)
        out[0] = '\0';
    OPENSSL_cleanse(hash, sizeof hash);
    return rc;
}

/*
 * Parse a decimal number of at most 5 digits (no sign, no leading zero) at
 * *p, advancing *p.  -1 when there is none.
 */
static long parse_small_uint(const char **p)
{
    const char *s = *p;
    long v = 0;
    int digits = 0;

    if (*s == '0' && s[1] >= '0' && s[1] <= '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 5)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (digits == 0)
        return -1;
    *p = s;
    return v;
}

/* Consume the literal lit at *p; 1 when it was there. */
static int expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/*
 * Check password against an encoding from crypto_password_hash: ln in
 * 10..20, r in 1..32, p in 1..16 with 128*r*N at most 1 GiB, a 16-byte salt
 * and a 32-byte hash, both in strict unpadded base64.  (Lengths are fixed so
 * that a truncated hash cannot pass as a shorter valid one.)  1 on a match,
 * 0 on a mismatch, STEPUP_ERR when encoded is malformed or out of bounds, or
 * scrypt fails.  The comparison is constant-time.
 */
int crypto_password_verify(const char *password, const char *encoded)
{
    unsigned char salt[SCRYPT_SALT_LEN];
    unsigned char want[CRYPTO_HASH_LEN];
    unsigned char got[CRYPTO_HASH_LEN];
    const char *p = encoded, *salt_start, *dollar;
    long ln, r, par;
    int rc = STEPUP_ERR;

    if (password == NULL || encoded == NULL)
        goto failed;
    if (!expect(&p, "$scrypt$ln=") || (ln = parse_small_uint(&p)) < 0 || !expect(&p, ",r=") ||
        (r = parse_small_uint(&p)) < 0 || !expect(&p, ",p=") || (par = parse_small_uint(&p)) < 0 ||
        !expect(&p, "$"))
        goto failed;
    if (ln < SCRYPT_LOG2N_MIN || ln > SCRYPT_LOG2N_MAX || r < 1 || r > SCRYPT_R_MAX || par < 1 ||
        par > SCRYPT_P_MAX || 128 * (uint64_t)r * ((uint64_t)1 << ln) > SCRYPT_MEM_MAX)
        goto failed;

    salt_start = p;
    dollar = strchr(salt_start, '$');
    if (dollar == NULL || dollar == salt_start)
        goto failed;
    if (b64_decode(b64_std, salt_start, (size_t)(dollar - salt_start), salt, sizeof salt) !=
        (long)sizeof salt)
        goto failed;
    if (b64_decode(b64_std, dollar + 1, strlen(dollar + 1), want, sizeof want) != (long)sizeof want)
        goto failed;

    if (scrypt_derive(password, salt, sizeof salt, (int)ln, (uint32_t)r, (uint32_t)par, got,
                      sizeof got) != STEPUP_OK)
        goto failed;
    rc = CRYPTO_memcmp(got, want, sizeof got) == 0 ? 1 : 0;
failed:
    OPENSSL_cleanse(got, sizeof got);
    OPENSSL_cleanse(want, sizeof want);
    return rc;
}

/*
 * AES-256-GCM with a fresh random 12-byte nonce: out = nonce || ciphertext
 * || tag, *outlen = ptlen + CRYPTO_SEAL_OVERHEAD.  aad is authenticated but
 * not stored.  STEPUP_ERR on failure (nothing usable is left in out).
 */
int crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                const void *pt, size_t ptlen, unsigned char *out, size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *nonce = out, *ct = out + GCM_NONCE_LEN;
    int len = 0, total = 0;
    int rc = STEPUP_ERR;

    *outlen = 0;
    if (ptlen > (size_t)INT_MAX - CRYPTO_SEAL_OVERHEAD || aadlen > (size_t)INT_MAX)
        return STEPUP_ERR;
    if (RAND_bytes(nonce, GCM_NONCE_LEN) != 1)
        goto failed;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        goto failed;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1)
        goto failed;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1)
        goto failed;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto failed;
    if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        goto failed;
    if (ptlen > 0) {
        if (EVP_EncryptUpdate(ctx, ct, &len, pt, (int)ptlen) != 1)
            goto failed;
        total = len;
    }
    if (EVP_EncryptFinal_ex(ctx, ct + total, &len) != 1)
        goto failed;
    total += len;
    if ((size_t)total != ptlen)
        goto failed;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, ct + total) != 1)
        goto failed;
    *outlen = ptlen + CRYPTO_SEAL_OVERHEAD;
    rc = STEPUP_OK;
    goto done;

failed:
    log_openssl("AES-256-GCM seal");
    OPENSSL_cleanse(out, ptlen + CRYPTO_SEAL_OVERHEAD);
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/*
 * Undo crypto_seal: check the tag over aad and ciphertext and write the
 * plaintext (inlen - CRYPTO_SEAL_OVERHEAD bytes) to out.  STEPUP_ERR when
 * the input is too short, the key or aad differ, or any bit was changed; out
 * is then wiped.  A failed tag check is not logged as an error by itself.
 */
int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
                const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = NULL;
    const unsigned char *nonce = in, *ct = in + GCM_NONCE_LEN;
    size_t ctlen;
    unsigned char tag[GCM_TAG_LEN];
    int len = 0, total = 0;
    int rc = STEPUP_ERR;

    *outlen = 0;
    if (inlen < CRYPTO_SEAL_OVERHEAD || inlen > (size_t)INT_MAX || aadlen > (size_t)INT_MAX)
        return STEPUP_ERR;
    ctlen = inlen - CRYPTO_SEAL_OVERHEAD;
    memcpy(tag, ct + ctlen, GCM_TAG_LEN);

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        goto failed;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1)
        goto failed;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1)
        goto failed;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto failed;
    if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
        goto failed;
    if (ctlen > 0) {
        if (EVP_DecryptUpdate(ctx, out, &len, ct, (int)ctlen) != 1)
            goto failed;
        total = len;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1)
        goto failed;
    if (EVP_DecryptFinal_ex(ctx, out + total, &len) != 1)
        goto failed; /* authentication failure */
    total += len;
    if ((size_t)total != ctlen)
        goto failed;
    *outlen = ctlen;
    rc = STEPUP_OK;
    goto done;

failed:
    ERR_clear_error();
    OPENSSL_cleanse(out, ctlen);
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* 1 when the len bytes at a and b are equal, in time independent of where they differ. */
int crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decode exactly 2*outlen hex digits (either case) and nothing more.
 * STEPUP_ERR on any other length or character; out is then zeroed.
 */
int crypto_hex_decode(const char *hex, unsigned char *out, size_t outlen)
{
    if (hex == NULL || strlen(hex) != 2 * outlen)
        goto failed;
    for (size_t i = 0; i < outlen; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto failed;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return STEPUP_OK;
failed:
    OPENSSL_cleanse(out, outlen);
    return STEPUP_ERR;
}

/* Lowercase hex of len bytes into out (2*len + 1 bytes, NUL-terminated). */
void crypto_hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Overwrite len bytes at p in a way the compiler may not optimise away. */
void crypto_wipe(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}

/* ------------------------------------------------------------------------ */
/* HKDF and key rings */

/*
 * HKDF-SHA256 through OpenSSL's EVP_KDF "HKDF" (extract then expand).
 * STEPUP_ERR on OpenSSL failure (out is then wiped).
 */
int crypto_hkdf_sha256(const unsigned char *ikm, size_t ikmlen, const unsigned char *salt,
                       size_t saltlen, const void *info, size_t infolen, unsigned char *out,
                       size_t outlen)
{
    OSSL_PARAM params[5], *p = params;

    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    if (salt != NULL && saltlen > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (info != NULL && infolen > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    return kdf_derive("HKDF", params, out, outlen);
}

/* The HKDF info of each purpose (crypto.h). */
static const char *const purpose_info[CRYPTO_NPURPOSES] = {
    [CRYPTO_PURPOSE_OTP_HASH] = "stepup otp-hash v1",
    [CRYPTO_PURPOSE_OUTBOX_SEAL] = "stepup outbox-seal v1",
    [CRYPTO_PURPOSE_IDEMPOTENCY] = "stepup idempotency v1",
};

int crypto_derive_key(const struct crypto_key *root, enum crypto_purpose purpose,
                      unsigned char out[CRYPTO_KEY_LEN])
{
    const char *info = purpose_info[purpose];
    return crypto_hkdf_sha256(root->raw, CRYPTO_KEY_LEN, NULL, 0, info, strlen(info), out,
                              CRYPTO_KEY_LEN);
}

const unsigned char *crypto_key_for(const struct crypto_key *k, enum crypto_purpose purpose)
{
    return k->derived[purpose];
}

/* 1 for a character a key id may hold. */
static int id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* The id of a key written without one: 8 hex digits of a key derived from it. */
static int derived_id(struct crypto_key *k)
{
    unsigned char d[4];
    if (crypto_hkdf_sha256(k->raw, CRYPTO_KEY_LEN, NULL, 0, "stepup key-id v1", 16, d,
                           sizeof d) != STEPUP_OK)
        return STEPUP_ERR;
    crypto_hex_encode(d, sizeof d, k->id);
    return STEPUP_OK;
}

int crypto_keyring_parse(const char *text, struct crypto_keyring *ring, char *err, size_t errlen)
{
    const char *p = text;
    size_t unnamed = 0;

    memset(ring, 0, sizeof *ring);
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, " \t,");
        const char *colon = memchr(p, ':', len);
        const char *hex = colon != NULL ? colon + 1 : p;
        size_t hexlen = len - (size_t)(hex - p);
        char digits[2 * CRYPTO_KEY_LEN + 1];
        struct crypto_key *k;

        if (ring->count == CRYPTO_KEYRING_MAX) {
            snprintf(err, errlen, "at most %d keys", CRYPTO_KEYRING_MAX);
            goto failed;
        }
        k = &ring->keys[ring->count];
        if (colon != NULL) {
            size_t idlen = (size_t)(colon - p);
            if (idlen == 0 || idlen > CRYPTO_KEYNAME_MAX) {
                snprintf(err, errlen, "key %zu: an id is 1..%d characters before ':'",
                         ring->count + 1, CRYPTO_KEYNAME_MAX);
                goto failed;
            }
            for (size_t i = 0; i < idlen; i++) {
                if (!id_char(p[i])) {
                    snprintf(err, errlen, "key %zu: an id holds letters, digits, '.', '_' and "
                             "'-' only", ring->count + 1);
                    goto failed;
                }
            }
            memcpy(k->id, p, idlen);
            k->named = true;
        }
        if (hexlen != 2 * CRYPTO_KEY_LEN) {
            snprintf(err, errlen, "key %zu: expected %d hex digits", ring->count + 1,
                     2 * CRYPTO_KEY_LEN);
            goto failed;
        }
        memcpy(digits, hex, hexlen);
        digits[hexlen] = '\0';
        int bad = crypto_hex_decode(digits, k->raw, sizeof k->raw);
        OPENSSL_cleanse(digits, sizeof digits);
        if (bad != STEPUP_OK) {
            snprintf(err, errlen, "key %zu: expected %d hex digits", ring->count + 1,
                     2 * CRYPTO_KEY_LEN);
            goto failed;
        }
        if (!k->named) {
            if (++unnamed > 1) {
                snprintf(err, errlen, "key %zu: only one key may be written without an id "
                         "(ID:HEX)", ring->count + 1);
                goto failed;
            }
            if (derived_id(k) != STEPUP_OK) {
                snprintf(err, errlen, "key %zu: cannot derive its id", ring->count + 1);
                goto failed;
            }
        }
        for (int purpose = 0; purpose < CRYPTO_NPURPOSES; purpose++) {
            if (crypto_derive_key(k, (enum crypto_purpose)purpose, k->derived[purpose]) !=
                STEPUP_OK) {
                snprintf(err, errlen, "key %zu: cannot derive its keys", ring->count + 1);
                goto failed;
            }
        }
        for (size_t i = 0; i < ring->count; i++) {
            if (strcmp(ring->keys[i].id, k->id) == 0) {
                snprintf(err, errlen, "keys %zu and %zu have the same id", i + 1, ring->count + 1);
                goto failed;
            }
        }
        ring->count++;
        p += len;
    }
    if (ring->count == 0) {
        snprintf(err, errlen, "expected %d hex digits (or ID:HEX, newest first)",
                 2 * CRYPTO_KEY_LEN);
        goto failed;
    }
    return STEPUP_OK;

failed:
    OPENSSL_cleanse(ring, sizeof *ring);
    return STEPUP_ERR;
}

int crypto_keyring_format(const struct crypto_keyring *ring, char *out, size_t outlen)
{
    size_t used = 0;
    char hex[2 * CRYPTO_KEY_LEN + 1];

    if (outlen > 0)
        out[0] = '\0';
    for (size_t i = 0; i < ring->count; i++) {
        const struct crypto_key *k = &ring->keys[i];
        crypto_hex_encode(k->raw, sizeof k->raw, hex);
        int w = snprintf(out + used, outlen - used, "%s%s%s%s", i > 0 ? " " : "",
                         k->named ? k->id : "", k->named ? ":" : "", hex);
        if (w < 0 || (size_t)w >= outlen - used) {
            OPENSSL_cleanse(hex, sizeof hex);
            OPENSSL_cleanse(out, outlen);
            return STEPUP_ERR;
        }
        used += (size_t)w;
    }
    OPENSSL_cleanse(hex, sizeof hex);
    return STEPUP_OK;
}

const struct crypto_key *crypto_keyring_find(const struct crypto_keyring *ring, const char *id)
{
    for (size_t i = 0; i < ring->count; i++) {
        const struct crypto_key *k = &ring->keys[i];
        if (id == NULL || id[0] == '\0' ? !k->named : strcmp(k->id, id) == 0)
            return k;
    }
    return NULL;
}

const struct crypto_key *crypto_keyring_newest(const struct crypto_keyring *ring)
{
    return ring->count > 0 ? &ring->keys[0] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Ed25519 */

struct crypto_sign_key {
    EVP_PKEY *pkey;
    char id[CRYPTO_KEY_ID_LEN + 1];
};

struct crypto_sign_key *crypto_sign_key_load(const char *path, bool want_private, char *err,
                                             size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    if (pkey != NULL && secret_file_check(fileno(f), path, err, errlen) != STEPUP_OK) {
        EVP_PKEY_free(pkey); /* a private key others may read is refused */
        fclose(f);
        return NULL;
    }
    if (pkey == NULL && !want_private) {
        rewind(f);
        ERR_clear_error();
        pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    ERR_clear_error();
    if (pkey == NULL) {
        snprintf(err, errlen, "%s holds no Ed25519 %s key in PEM form", path,
                 want_private ? "private" : "public or private");
        return NULL;
    }
    unsigned char raw[32];
    size_t rawlen = sizeof raw;
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != sizeof raw) {
        snprintf(err, errlen, "the key in %s is not an Ed25519 key", path);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    struct crypto_sign_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    k->pkey = pkey;
    unsigned char digest[CRYPTO_HASH_LEN];
    char hex[2 * CRYPTO_HASH_LEN + 1];
    crypto_sha256(raw, rawlen, digest);
    crypto_hex_encode(digest, sizeof digest, hex);
    memcpy(k->id, hex, CRYPTO_KEY_ID_LEN);
    k->id[CRYPTO_KEY_ID_LEN] = '\0';
    return k;
}

void crypto_sign_key_free(struct crypto_sign_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int crypto_sign(const struct crypto_sign_key *k, const void *msg, size_t len,
                unsigned char sig[CRYPTO_SIGNATURE_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = CRYPTO_SIGNATURE_LEN;
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == CRYPTO_SIGNATURE_LEN;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? STEPUP_OK : STEPUP_ERR;
}

int crypto_sign_verify(const struct crypto_sign_key *k, const void *msg, size_t len,
                       const unsigned char sig[CRYPTO_SIGNATURE_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, CRYPTO_SIGNATURE_LEN, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? 1 : 0;
}

void crypto_sign_key_id(const struct crypto_sign_key *k, char out[CRYPTO_KEY_ID_LEN + 1])
{
    memcpy(out, k->id, CRYPTO_KEY_ID_LEN + 1);
}
