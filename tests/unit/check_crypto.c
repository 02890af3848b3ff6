/*
 * check_crypto.c - unit tests for src/lib/crypto.c: known-answer vectors,
 * code generation, password hashing, sealing and the text encodings.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/crypto.h"
#include "../../src/lib/log.h"

/* Hex of len bytes, for comparing against published vectors. */
static void hex(const unsigned char *in, size_t len, char *out)
{
    crypto_hex_encode(in, len, out);
}

static void unhex(const char *text, unsigned char *out, size_t len)
{
    ck_assert_int_eq(crypto_hex_decode(text, out, len), STEPUP_OK);
}

/* --- hashing -------------------------------------------------------------- */

START_TEST(sha256_abc)
{
    unsigned char h[CRYPTO_HASH_LEN];
    char text[2 * CRYPTO_HASH_LEN + 1];

    crypto_sha256("abc", 3, h);
    hex(h, sizeof h, text);
    ck_assert_str_eq(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    crypto_sha256("", 0, h);
    hex(h, sizeof h, text);
    ck_assert_str_eq(text, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(hmac_rfc4231_case1)
{
    unsigned char key[20];
    unsigned char h[CRYPTO_HASH_LEN];
    char text[2 * CRYPTO_HASH_LEN + 1];

    memset(key, 0x0b, sizeof key);
    ck_assert_int_eq(crypto_hmac_sha256(key, sizeof key, "Hi There", 8, h), STEPUP_OK);
    hex(h, sizeof h, text);
    ck_assert_str_eq(text, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}
END_TEST

START_TEST(hmac_rfc4231_case2)
{
    unsigned char h[CRYPTO_HASH_LEN];
    char text[2 * CRYPTO_HASH_LEN + 1];
    const char *data = "what do ya want for nothing?";

    ck_assert_int_eq(crypto_hmac_sha256((const unsigned char *)"Jefe", 4, data, strlen(data), h),
                     STEPUP_OK);
    hex(h, sizeof h, text);
    ck_assert_str_eq(text, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

/* --- OTP codes ------------------------------------------------------------- */

START_TEST(otp_code_shape)
{
    char code[CRYPTO_OTP_DIGITS + 1];

    for (int i = 0; i < 2000; i++) {
        memset(code, 'x', sizeof code);
        ck_assert_int_eq(crypto_otp_code(code), STEPUP_OK);
        ck_assert_uint_eq(strlen(code), CRYPTO_OTP_DIGITS);
        for (int j = 0; j < CRYPTO_OTP_DIGITS; j++)
            ck_assert_msg(code[j] >= '0' && code[j] <= '9', "non-digit in %s", code);
    }
}
END_TEST

/*
 * 20000 codes: every digit position must look uniform.  The chi-square
 * statistic over 10 cells has 9 degrees of freedom; 40 is exceeded by a fair
 * generator with probability about 1e-5, by a generator that drops leading
 * zeros or favours low digits at once.
 */
START_TEST(otp_code_uniform)
{
    enum { DRAWS = 20000 };
    long counts[CRYPTO_OTP_DIGITS][10];
    long low = 0;
    char code[CRYPTO_OTP_DIGITS + 1];

    memset(counts, 0, sizeof counts);
    for (int i = 0; i < DRAWS; i++) {
        ck_assert_int_eq(crypto_otp_code(code), STEPUP_OK);
        ck_assert_uint_eq(strlen(code), CRYPTO_OTP_DIGITS);
        for (int j = 0; j < CRYPTO_OTP_DIGITS; j++) {
            ck_assert(code[j] >= '0' && code[j] <= '9');
            counts[j][code[j] - '0']++;
        }
        if (atol(code) < 100000)
            low++;
    }
    for (int j = 0; j < CRYPTO_OTP_DIGITS; j++) {
        double chi = 0, expect = DRAWS / 10.0;
        for (int d = 0; d < 10; d++)
            chi += (counts[j][d] - expect) * (counts[j][d] - expect) / expect;
        ck_assert_msg(chi < 40.0, "digit position %d: chi-square %.1f", j, chi);
    }
    /* Codes below 100000 keep their leading zeros: about a tenth of them. */
    ck_assert_msg(low > DRAWS / 20 && low < DRAWS / 5, "%ld codes below 100000", low);
}
END_TEST

START_TEST(otp_hash_binds_session_and_code)
{
    unsigned char key[CRYPTO_KEY_LEN], key2[CRYPTO_KEY_LEN];
    unsigned char id1[CRYPTO_HASH_LEN], id2[CRYPTO_HASH_LEN];
    unsigned char a[CRYPTO_HASH_LEN], b[CRYPTO_HASH_LEN], c[CRYPTO_HASH_LEN],
        d[CRYPTO_HASH_LEN], e[CRYPTO_HASH_LEN], ref[CRYPTO_HASH_LEN];
    unsigned char msg[CRYPTO_HASH_LEN + 6];

    memset(key, 0x42, sizeof key);
    memset(key2, 0x43, sizeof key2);
    memset(id1, 1, sizeof id1);
    memset(id2, 1, sizeof id2);
    id2[CRYPTO_HASH_LEN - 1] = 2;

    ck_assert_int_eq(crypto_otp_hash(key, id1, "123456", a), STEPUP_OK);
    ck_assert_int_eq(crypto_otp_hash(key, id1, "123456", b), STEPUP_OK);
    ck_assert_int_eq(crypto_otp_hash(key, id2, "123456", c), STEPUP_OK);
    ck_assert_int_eq(crypto_otp_hash(key, id1, "123457", d), STEPUP_OK);
    ck_assert_int_eq(crypto_otp_hash(key2, id1, "123456", e), STEPUP_OK);
    ck_assert(crypto_equal(a, b, sizeof a));
    ck_assert(!crypto_equal(a, c, sizeof a));
    ck_assert(!crypto_equal(a, d, sizeof a));
    ck_assert(!crypto_equal(a, e, sizeof a));

    /* It is exactly HMAC-SHA256(key, session || code). */
    memcpy(msg, id1, CRYPTO_HASH_LEN);
    memcpy(msg + CRYPTO_HASH_LEN, "123456", 6);
    ck_assert_int_eq(crypto_hmac_sha256(key, sizeof key, msg, sizeof msg, ref), STEPUP_OK);
    ck_assert(crypto_equal(a, ref, sizeof a));

    ck_assert_int_eq(crypto_otp_hash(key, id1, NULL, a), STEPUP_ERR);
}
END_TEST

/* --- passwords ------------------------------------------------------------- */

START_TEST(password_round_trip)
{
    char enc[CRYPTO_PASSWORD_HASH_MAX], enc2[CRYPTO_PASSWORD_HASH_MAX];

    ck_assert_int_eq(crypto_password_hash("correct horse", 10, enc, sizeof enc), STEPUP_OK);
    ck_assert_msg(strncmp(enc, "$scrypt$ln=10,r=8,p=1$", 22) == 0, "encoding %s", enc);
    ck_assert_int_eq(crypto_password_verify("correct horse", enc), 1);
    ck_assert_int_eq(crypto_password_verify("correct horsf", enc), 0);
    ck_assert_int_eq(crypto_password_verify("", enc), 0);

    /* A fresh salt every time. */
    ck_assert_int_eq(crypto_password_hash("correct horse", 10, enc2, sizeof enc2), STEPUP_OK);
    ck_assert_str_ne(enc, enc2);
    ck_assert_int_eq(crypto_password_verify("correct horse", enc2), 1);

    /* The empty password is a password like any other. */
    ck_assert_int_eq(crypto_password_hash("", 10, enc, sizeof enc), STEPUP_OK);
    ck_assert_int_eq(crypto_password_verify("", enc), 1);
    ck_assert_int_eq(crypto_password_verify("x", enc), 0);
}
END_TEST

START_TEST(password_hash_rejects_bad_arguments)
{
    char enc[CRYPTO_PASSWORD_HASH_MAX];

    ck_assert_int_eq(crypto_password_hash("pw", 9, enc, sizeof enc), STEPUP_ERR);
    ck_assert_int_eq(crypto_password_hash("pw", 21, enc, sizeof enc), STEPUP_ERR);
    ck_assert_int_eq(crypto_password_hash("pw", 10, enc, 20), STEPUP_ERR);
    ck_assert_int_eq(crypto_password_hash(NULL, 10, enc, sizeof enc), STEPUP_ERR);
}
END_TEST

/*
 * Known answers in our encoding, computed independently with Python's
 * hashlib.scrypt: they pin down how ln, r, p, salt and output are wired.
 */
START_TEST(password_verify_known_answer)
{
    static const char *enc1 =
        "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlRU";
    static const char *enc2 =
        "$scrypt$ln=11,r=4,p=2$EBESExQVFhcYGRobHB0eHw$fZ5WxFQfdQJ+x4DLhOHZRPD0RCeGuF/3mUVVZSw/gOc";

    ck_assert_int_eq(crypto_password_verify("correct horse battery staple", enc1), 1);
    ck_assert_int_eq(crypto_password_verify("correct horse battery stapler", enc1), 0);
    ck_assert_int_eq(crypto_password_verify("password", enc2), 1);
    ck_assert_int_eq(crypto_password_verify("Password", enc2), 0);
}
END_TEST

/* A well-formed salt (16 bytes) and hash (32 bytes), so each case below is wrong in one way only. */
#define SALT "c2FsdHNhbHRzYWx0c2FsdA"
#define HASH "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

START_TEST(password_verify_malformed)
{
    char enc[CRYPTO_PASSWORD_HASH_MAX], bad[2 * CRYPTO_PASSWORD_HASH_MAX];
    static const char *const malformed[] = {
        "",
        "plaintext",
        "$scrypt$",
        "$pbkdf2$ln=10,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=9,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=21,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=99999,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=999999,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=10,r=0,p=1$" SALT "$" HASH,
        "$scrypt$ln=10,r=33,p=1$" SALT "$" HASH,
        "$scrypt$ln=20,r=16,p=1$" SALT "$" HASH, /* 2 GiB */
        "$scrypt$ln=10,r=8,p=0$" SALT "$" HASH,
        "$scrypt$ln=10,r=8,p=17$" SALT "$" HASH,
        "$scrypt$ln=-1,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=010,r=8,p=1$" SALT "$" HASH,
        "$scrypt$ln=10,r=8$" SALT "$" HASH,
        "$scrypt$ln=10,p=1,r=8$" SALT "$" HASH,
        "$scrypt$ln=10,r=8,p=1$$" HASH,
        "$scrypt$ln=10,r=8,p=1$" SALT "$",
        "$scrypt$ln=10,r=8,p=1$" SALT,
        "$scrypt$ln=10,r=8,p=1$" SALT "$aGFzaGhhc2hoYXNoaGFzaA",  /* 16-byte hash */
        "$scrypt$ln=10,r=8,p=1$c2FsdA$" HASH,                     /* 4-byte salt */
        "$scrypt$ln=10,r=8,p=1$" SALT "==$" HASH,                 /* padding */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "=",
        "$scrypt$ln=10,r=8,p=1$c2Fsd!NhbHRzYWx0c2FsdA$" HASH,
        "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdB$" HASH,      /* non-zero trailing bits */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "$extra",
    };

    /* The base case is well formed: a wrong password, not an error. */
    ck_assert_int_eq(crypto_password_verify("pw", "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH), 0);

    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        ck_assert_msg(crypto_password_verify("pw", malformed[i]) == STEPUP_ERR, "accepted %s",
                      malformed[i]);
    ck_assert_int_eq(crypto_password_verify("pw", NULL), STEPUP_ERR);

    /* A valid encoding with trailing garbage or cut short is malformed too. */
    ck_assert_int_eq(crypto_password_hash("pw", 10, enc, sizeof enc), STEPUP_OK);
    snprintf(bad, sizeof bad, "%s#", enc);
    ck_assert_int_eq(crypto_password_verify("pw", bad), STEPUP_ERR);
    snprintf(bad, sizeof bad, "%.*s", (int)strlen(enc) - 1, enc);
    ck_assert_int_eq(crypto_password_verify("pw", bad), STEPUP_ERR);
}
END_TEST

START_TEST(password_verify_tampered)
{
    char enc[CRYPTO_PASSWORD_HASH_MAX];
    char *last;
    size_t len;

    ck_assert_int_eq(crypto_password_hash("secret", 10, enc, sizeof enc), STEPUP_OK);
    ck_assert_int_eq(crypto_password_verify("secret", enc), 1);

    /* Change the first character of the hash part to another valid one. */
    last = strrchr(enc, '$');
    ck_assert_ptr_nonnull(last);
    last[1] = last[1] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(crypto_password_verify("secret", enc), 0);

    /* Change the salt. */
    ck_assert_int_eq(crypto_password_hash("secret", 10, enc, sizeof enc), STEPUP_OK);
    len = strlen("$scrypt$ln=10,r=8,p=1$");
    enc[len] = enc[len] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(crypto_password_verify("secret", enc), 0);

    /* Change the cost. */
    ck_assert_int_eq(crypto_password_hash("secret", 10, enc, sizeof enc), STEPUP_OK);
    enc[strlen("$scrypt$ln=1")] = '1';
    ck_assert_int_eq(strncmp(enc, "$scrypt$ln=11,", 14), 0);
    ck_assert_int_eq(crypto_password_verify("secret", enc), 0);
}
END_TEST

/* --- sealing --------------------------------------------------------------- */

static const unsigned char seal_key[CRYPTO_KEY_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

START_TEST(seal_round_trip)
{
    const char *msg = "Your code is 123456";
    const char *aad = "outbox:42";
    unsigned char sealed[64], sealed2[64], opened[64];
    size_t slen = 0, slen2 = 0, olen = 0;

    ck_assert_int_eq(crypto_seal(seal_key, aad, strlen(aad), msg, strlen(msg), sealed, &slen),
                     STEPUP_OK);
    ck_assert_uint_eq(slen, strlen(msg) + CRYPTO_SEAL_OVERHEAD);
    ck_assert(memmem(sealed, slen, "123456", 6) == NULL);
    ck_assert_int_eq(crypto_open(seal_key, aad, strlen(aad), sealed, slen, opened, &olen),
                     STEPUP_OK);
    ck_assert_uint_eq(olen, strlen(msg));
    ck_assert(memcmp(opened, msg, olen) == 0);

    /* A fresh nonce each time. */
    ck_assert_int_eq(crypto_seal(seal_key, aad, strlen(aad), msg, strlen(msg), sealed2, &slen2),
                     STEPUP_OK);
    ck_assert(memcmp(sealed, sealed2, 12) != 0);

    /* Empty plaintext and empty aad. */
    ck_assert_int_eq(crypto_seal(seal_key, NULL, 0, "", 0, sealed, &slen), STEPUP_OK);
    ck_assert_uint_eq(slen, CRYPTO_SEAL_OVERHEAD);
    ck_assert_int_eq(crypto_open(seal_key, NULL, 0, sealed, slen, opened, &olen), STEPUP_OK);
    ck_assert_uint_eq(olen, 0);
}
END_TEST

START_TEST(open_rejects_tampering)
{
    const char *msg = "Your code is 654321";
    const char *aad = "outbox:42";
    unsigned char sealed[64], opened[64], other_key[CRYPTO_KEY_LEN];
    size_t slen = 0, olen = 99;

    ck_assert_int_eq(crypto_seal(seal_key, aad, strlen(aad), msg, strlen(msg), sealed, &slen),
                     STEPUP_OK);

    memcpy(other_key, seal_key, sizeof other_key);
    other_key[31] ^= 1;
    ck_assert_int_eq(crypto_open(other_key, aad, strlen(aad), sealed, slen, opened, &olen),
                     STEPUP_ERR);
    ck_assert_int_eq(crypto_open(seal_key, "outbox:43", 9, sealed, slen, opened, &olen),
                     STEPUP_ERR);
    ck_assert_int_eq(crypto_open(seal_key, NULL, 0, sealed, slen, opened, &olen), STEPUP_ERR);

    /* Every single flipped bit, in nonce, ciphertext and tag, is caught. */
    for (size_t i = 0; i < slen * 8; i++) {
        sealed[i / 8] ^= (unsigned char)(1u << (i % 8));
        ck_assert_msg(crypto_open(seal_key, aad, strlen(aad), sealed, slen, opened, &olen) ==
                          STEPUP_ERR,
                      "bit %zu flipped went unnoticed", i);
        sealed[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    ck_assert_int_eq(crypto_open(seal_key, aad, strlen(aad), sealed, slen, opened, &olen),
                     STEPUP_OK);

    /* Truncated input, down to nothing. */
    for (size_t n = 0; n < slen; n++)
        ck_assert_int_eq(crypto_open(seal_key, aad, strlen(aad), sealed, n, opened, &olen),
                         STEPUP_ERR);
}
END_TEST

/* McGrew & Viega GCM test case 14: 256-bit zero key, zero IV, one zero block. */
START_TEST(open_known_answer)
{
    unsigned char key[CRYPTO_KEY_LEN] = {0};
    unsigned char in[12 + 16 + 16] = {0}, out[16], zero[16] = {0};
    size_t olen = 0;

    unhex("cea7403d4d606b6e074ec5d3baf39d18", in + 12, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", in + 28, 16);
    ck_assert_int_eq(crypto_open(key, NULL, 0, in, sizeof in, out, &olen), STEPUP_OK);
    ck_assert_uint_eq(olen, 16);
    ck_assert(memcmp(out, zero, 16) == 0);
}
END_TEST

/* --- encodings ------------------------------------------------------------- */

START_TEST(token_shape)
{
    char a[CRYPTO_TOKEN_LEN + 1], b[CRYPTO_TOKEN_LEN + 1];

    ck_assert_int_eq(crypto_random_token(a), STEPUP_OK);
    ck_assert_int_eq(crypto_random_token(b), STEPUP_OK);
    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_uint_eq(strlen(b), 43);
    ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                      43);
    ck_assert_str_ne(a, b);
}
END_TEST

/* Over many tokens all 64 symbols appear, so the alphabet really is base64url. */
START_TEST(token_alphabet_complete)
{
    char t[CRYPTO_TOKEN_LEN + 1];
    int seen[256] = {0}, distinct = 0;

    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(crypto_random_token(t), STEPUP_OK);
        for (int j = 0; j < CRYPTO_TOKEN_LEN; j++)
            seen[(unsigned char)t[j]] = 1;
    }
    for (int c = 0; c < 256; c++)
        distinct += seen[c];
    ck_assert_int_eq(distinct, 64);
    ck_assert(seen['-'] && seen['_'] && !seen['+'] && !seen['/'] && !seen['=']);
}
END_TEST

START_TEST(uuid_shape)
{
    unsigned char bytes[16], bytes2[16];
    char text[CRYPTO_UUID_LEN + 1], text2[CRYPTO_UUID_LEN + 1], again[33];

    ck_assert_int_eq(crypto_uuid(bytes, text), STEPUP_OK);
    ck_assert_int_eq(crypto_uuid(bytes2, text2), STEPUP_OK);
    ck_assert_str_ne(text, text2);
    ck_assert_uint_eq(strlen(text), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ck_assert_int_eq(text[i], '-');
        else
            ck_assert_msg(strchr("0123456789abcdef", text[i]) != NULL && text[i] != '\0',
                          "bad character in %s", text);
    }
    ck_assert_int_eq(text[14], '4');
    ck_assert(strchr("89ab", text[19]) != NULL);
    ck_assert_int_eq(bytes[6] >> 4, 4);
    ck_assert_int_eq(bytes[8] >> 6, 2);

    /* The text is the bytes. */
    crypto_hex_encode(bytes, 16, again);
    ck_assert(strncmp(again, text, 8) == 0);
    ck_assert(strncmp(again + 8, text + 9, 4) == 0);
    ck_assert(strncmp(again + 20, text + 24, 12) == 0);
}
END_TEST

START_TEST(hex_codec)
{
    unsigned char b[4];
    char t[9];

    ck_assert_int_eq(crypto_hex_decode("00fFa5C3", b, 4), STEPUP_OK);
    ck_assert_int_eq(b[0], 0x00);
    ck_assert_int_eq(b[1], 0xff);
    ck_assert_int_eq(b[2], 0xa5);
    ck_assert_int_eq(b[3], 0xc3);
    crypto_hex_encode(b, 4, t);
    ck_assert_str_eq(t, "00ffa5c3");
    ck_assert_int_eq(crypto_hex_decode("00ffa5c", b, 4), STEPUP_ERR);
    ck_assert_int_eq(crypto_hex_decode("00ffa5c300", b, 4), STEPUP_ERR);
    ck_assert_int_eq(crypto_hex_decode("00ffa5cg", b, 4), STEPUP_ERR);
    ck_assert_int_eq(crypto_hex_decode(" 0ffa5c3", b, 4), STEPUP_ERR);
}
END_TEST

START_TEST(equal_and_wipe)
{
    unsigned char a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    ck_assert_int_eq(crypto_equal(a, b, 8), 1);
    b[7] = 9;
    ck_assert_int_eq(crypto_equal(a, b, 8), 0);
    ck_assert_int_eq(crypto_equal(a, b, 7), 1);
    crypto_wipe(a, sizeof a);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(a[i], 0);
}
END_TEST

/* --- HKDF and key rings ----------------------------------------------------- */

START_TEST(hkdf_rfc5869_case1)
{
    unsigned char ikm[22], salt[13], info[10], okm[42];
    char text[2 * sizeof okm + 1];

    memset(ikm, 0x0b, sizeof ikm);
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof info; i++)
        info[i] = (unsigned char)(0xf0 + i);
    ck_assert_int_eq(crypto_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, okm,
                                        sizeof okm), STEPUP_OK);
    hex(okm, sizeof okm, text);
    ck_assert_str_eq(text, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                           "34007208d5b887185865");
}
END_TEST

START_TEST(hkdf_rfc5869_case3)
{
    unsigned char ikm[22], okm[42];
    char text[2 * sizeof okm + 1];

    memset(ikm, 0x0b, sizeof ikm);
    ck_assert_int_eq(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, okm, sizeof okm),
                     STEPUP_OK);
    hex(okm, sizeof okm, text);
    ck_assert_str_eq(text, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                           "9d201395faa4b61a96c8");
}
END_TEST

#define HEX_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

START_TEST(derived_keys_differ_by_purpose_and_root)
{
    struct crypto_keyring ring;
    char err[128];
    unsigned char otp[CRYPTO_KEY_LEN], seal[CRYPTO_KEY_LEN], idem[CRYPTO_KEY_LEN];
    unsigned char other[CRYPTO_KEY_LEN], again[CRYPTO_KEY_LEN], want[CRYPTO_KEY_LEN];

    ck_assert_int_eq(crypto_keyring_parse("a:" HEX_A " b:" HEX_B, &ring, err, sizeof err),
                     STEPUP_OK);
    ck_assert_int_eq(crypto_derive_key(&ring.keys[0], CRYPTO_PURPOSE_OTP_HASH, otp), STEPUP_OK);
    ck_assert_int_eq(crypto_derive_key(&ring.keys[0], CRYPTO_PURPOSE_OUTBOX_SEAL, seal), STEPUP_OK);
    ck_assert_int_eq(crypto_derive_key(&ring.keys[0], CRYPTO_PURPOSE_IDEMPOTENCY, idem), STEPUP_OK);
    ck_assert_int_eq(crypto_derive_key(&ring.keys[1], CRYPTO_PURPOSE_OTP_HASH, other), STEPUP_OK);
    ck_assert_int_eq(crypto_derive_key(&ring.keys[0], CRYPTO_PURPOSE_OTP_HASH, again), STEPUP_OK);
    ck_assert(memcmp(otp, again, sizeof otp) == 0);
    ck_assert(memcmp(otp, seal, sizeof otp) != 0 && memcmp(otp, idem, sizeof otp) != 0 &&
              memcmp(seal, idem, sizeof otp) != 0 && memcmp(otp, other, sizeof otp) != 0);
    ck_assert(memcmp(otp, ring.keys[0].raw, sizeof otp) != 0);
    /* it is HKDF-SHA256(root, no salt, info) */
    ck_assert_int_eq(crypto_hkdf_sha256(ring.keys[0].raw, CRYPTO_KEY_LEN, NULL, 0,
                                        "stepup otp-hash v1", strlen("stepup otp-hash v1"), want,
                                        sizeof want),
                     STEPUP_OK);
    ck_assert(memcmp(otp, want, sizeof otp) == 0);
    /* what the ring keeps is the same key, derived once when it was parsed */
    ck_assert(memcmp(crypto_key_for(&ring.keys[0], CRYPTO_PURPOSE_OTP_HASH), otp, sizeof otp) == 0);
    ck_assert(memcmp(crypto_key_for(&ring.keys[0], CRYPTO_PURPOSE_OUTBOX_SEAL), seal,
                     sizeof seal) == 0);
    ck_assert(memcmp(crypto_key_for(&ring.keys[1], CRYPTO_PURPOSE_OTP_HASH), other,
                     sizeof other) == 0);
}
END_TEST

START_TEST(keyring_parse_and_find)
{
    struct crypto_keyring ring, again;
    char err[128], text[CRYPTO_KEYRING_MAX * 90];
    char unnamed_id[CRYPTO_KEYNAME_MAX + 1];

    /* the form before key ids: one key, whose id is derived from it */
    ck_assert_int_eq(crypto_keyring_parse(HEX_A, &ring, err, sizeof err), STEPUP_OK);
    ck_assert_uint_eq(ring.count, 1);
    ck_assert(!ring.keys[0].named);
    ck_assert_uint_eq(strlen(ring.keys[0].id), 8);
    snprintf(unnamed_id, sizeof unnamed_id, "%s", ring.keys[0].id);
    ck_assert_ptr_eq(crypto_keyring_find(&ring, NULL), &ring.keys[0]);
    ck_assert_ptr_eq(crypto_keyring_find(&ring, ""), &ring.keys[0]);
    ck_assert_ptr_eq(crypto_keyring_find(&ring, unnamed_id), &ring.keys[0]);

    /* newest first, named and not, blanks or commas between */
    ck_assert_msg(crypto_keyring_parse("  k2-2026.12:" HEX_B " ,\t" HEX_A " ", &ring, err,
                                       sizeof err) == STEPUP_OK, "%s", err);
    ck_assert_uint_eq(ring.count, 2);
    ck_assert_str_eq(crypto_keyring_newest(&ring)->id, "k2-2026.12");
    ck_assert(ring.keys[0].named);
    ck_assert_str_eq(ring.keys[1].id, unnamed_id); /* the same key, the same id */
    ck_assert_ptr_eq(crypto_keyring_find(&ring, "k2-2026.12"), &ring.keys[0]);
    ck_assert_ptr_eq(crypto_keyring_find(&ring, NULL), &ring.keys[1]);
    ck_assert_ptr_null(crypto_keyring_find(&ring, "k1"));

    /* format reads back as the same ring */
    ck_assert_int_eq(crypto_keyring_format(&ring, text, sizeof text), STEPUP_OK);
    ck_assert_str_eq(text, "k2-2026.12:" HEX_B " " HEX_A);
    ck_assert_int_eq(crypto_keyring_parse(text, &again, err, sizeof err), STEPUP_OK);
    ck_assert(memcmp(&ring, &again, sizeof ring) == 0);

    /* only named keys: none for the rows of before key ids */
    ck_assert_int_eq(crypto_keyring_parse("a:" HEX_A, &ring, err, sizeof err), STEPUP_OK);
    ck_assert_ptr_null(crypto_keyring_find(&ring, NULL));
}
END_TEST

START_TEST(keyring_parse_refusals)
{
    static const struct {
        const char *text, *reason;
    } bad[] = {
        {"", "expected 64 hex digits"},
        {"   ", "expected 64 hex digits"},
        {HEX_A "0", "key 1: expected 64 hex digits"},
        {"a:" HEX_A " b:" HEX_A "zz", "key 2: expected 64 hex digits"},
        {":" HEX_A, "key 1: an id is 1..16 characters"},
        {"abcdefghijklmnopq:" HEX_A, "key 1: an id is 1..16 characters"},
        {"a/b:" HEX_A, "key 1: an id holds letters"},
        {"a:" HEX_A " a:" HEX_B, "keys 1 and 2 have the same id"},
        {HEX_A " " HEX_B, "key 2: only one key may be written without an id"},
        {"1:" HEX_A " 2:" HEX_A " 3:" HEX_A " 4:" HEX_A " 5:" HEX_A " 6:" HEX_A " 7:" HEX_A
         " 8:" HEX_A " 9:" HEX_A, "at most 8 keys"},
    };
    struct crypto_keyring ring;
    char err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(crypto_keyring_parse(bad[i].text, &ring, err, sizeof err), STEPUP_ERR);
        ck_assert_msg(strstr(err, bad[i].reason) != NULL, "%zu: \"%s\" lacks \"%s\"", i, err,
                      bad[i].reason);
        ck_assert_msg(strstr(err, "0001020304") == NULL && strstr(err, "ffeedd") == NULL,
                      "%zu: a key in the message", i);
        ck_assert_uint_eq(ring.count, 0);
    }
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc;

    tc = tcase_create("hashing");
    tcase_add_test(tc, sha256_abc);
    tcase_add_test(tc, hmac_rfc4231_case1);
    tcase_add_test(tc, hmac_rfc4231_case2);
    suite_add_tcase(s, tc);

    tc = tcase_create("otp");
    tcase_add_test(tc, otp_code_shape);
    tcase_add_test(tc, otp_code_uniform);
    tcase_add_test(tc, otp_hash_binds_session_and_code);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("passwords");
    tcase_add_test(tc, password_round_trip);
    tcase_add_test(tc, password_hash_rejects_bad_arguments);
    tcase_add_test(tc, password_verify_known_answer);
    tcase_add_test(tc, password_verify_malformed);
    tcase_add_test(tc, password_verify_tampered);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("sealing");
    tcase_add_test(tc, seal_round_trip);
    tcase_add_test(tc, open_rejects_tampering);
    tcase_add_test(tc, open_known_answer);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, hkdf_rfc5869_case1);
    tcase_add_test(tc, hkdf_rfc5869_case3);
    tcase_add_test(tc, derived_keys_differ_by_purpose_and_root);
    tcase_add_test(tc, keyring_parse_and_find);
    tcase_add_test(tc, keyring_parse_refusals);
    suite_add_tcase(s, tc);

    tc = tcase_create("encodings");
    tcase_add_test(tc, token_shape);
    tcase_add_test(tc, token_alphabet_complete);
    tcase_add_test(tc, uuid_shape);
    tcase_add_test(tc, hex_codec);
    tcase_add_test(tc, equal_and_wipe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypto_suite());
    int failed;

    log_init("check_crypto", LOG_WARN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
