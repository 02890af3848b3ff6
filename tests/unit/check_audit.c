/*
 * check_audit.c - the arithmetic of the audit seals (src/lib/audit.c) and
 * the Ed25519 keys that sign them (src/lib/crypto.c).  The known answers
 * were computed independently (Python's hashlib and struct) from the
 * encoding audit.h describes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../src/lib/audit.h"
#include "../../src/lib/crypto.h"
#include "../../src/lib/log.h"

static const char *const EVENT[AUDIT_EVENT_NCOLUMNS] = {
    "42", "1764633600000000", "777", "challenge.issued", NULL, NULL,
    "5f0c7d9e-1111-4222-8333-444455556666", NULL, NULL, "ref-1", "127.0.0.1",
    "curl/8 \xc3\xa9", "stepup_app", "{\"channel\": \"SMS\"}",
};

static void hex(const unsigned char *b, size_t n, char *out)
{
    crypto_hex_encode(b, n, out);
}

START_TEST(event_hash_known_answer)
{
    unsigned char h[CRYPTO_HASH_LEN];
    char text[2 * CRYPTO_HASH_LEN + 1];
    audit_event_hash(EVENT, h);
    hex(h, sizeof h, text);
    ck_assert_str_eq(text, "d11a1cf59fdca157982b2777fdb74348ddb0eec84196e9d470d31ec633d79abb");
}
END_TEST

START_TEST(event_hash_tells_null_from_empty_and_moves)
{
    unsigned char a[CRYPTO_HASH_LEN], b[CRYPTO_HASH_LEN];
    const char *v[AUDIT_EVENT_NCOLUMNS];
    memcpy(v, EVENT, sizeof v);
    audit_event_hash(v, a);
    v[4] = "";
    audit_event_hash(v, b);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    /* a byte moved from one column to the next is another event */
    memcpy(v, EVENT, sizeof v);
    v[9] = "ref-";
    v[10] = "1127.0.0.1";
    audit_event_hash(v, b);
    ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

START_TEST(entry_round_trip)
{
    struct audit_entry e = { .seq = 9007199254740993LL, .at_us = -86400000000LL }, back;
    unsigned char packed[AUDIT_ENTRY_LEN];
    for (size_t i = 0; i < sizeof e.hash; i++)
        e.hash[i] = (unsigned char)(i * 7);
    audit_entry_put(packed, &e);
    ck_assert_int_eq(packed[0], 0x00);
    ck_assert_int_eq(packed[7], 0x01);
    audit_entry_get(packed, &back);
    ck_assert(back.seq == e.seq && back.at_us == e.at_us);
    ck_assert(memcmp(back.hash, e.hash, sizeof e.hash) == 0);
}
END_TEST

START_TEST(seal_digest_known_answer_and_every_field_counts)
{
    struct audit_entry e = { .seq = 42, .at_us = 1764633600000000LL };
    unsigned char entry[AUDIT_ENTRY_LEN], prev[CRYPTO_HASH_LEN] = { 0 }, d[CRYPTO_HASH_LEN],
        other[CRYPTO_HASH_LEN];
    char text[2 * CRYPTO_HASH_LEN + 1];
    audit_event_hash(EVENT, e.hash);
    audit_entry_put(entry, &e);
    audit_seal_digest(prev, 1, 3, 900, 1, entry, sizeof entry, d);
    hex(d, sizeof d, text);
    ck_assert_str_eq(text, "8519f6204a7f43446c13154eb963769406a64cc1976f34d3f237ceb341a6688a");

    audit_seal_digest(prev, 2, 3, 900, 1, entry, sizeof entry, other);
    ck_assert(memcmp(d, other, sizeof d) != 0);
    audit_seal_digest(prev, 1, 4, 900, 1, entry, sizeof entry, other);
    ck_assert(memcmp(d, other, sizeof d) != 0);
    audit_seal_digest(prev, 1, 3, 901, 1, entry, sizeof entry, other);
    ck_assert(memcmp(d, other, sizeof d) != 0);
    prev[31] = 1;
    audit_seal_digest(prev, 1, 3, 900, 1, entry, sizeof entry, other);
    ck_assert(memcmp(d, other, sizeof d) != 0);
    prev[31] = 0;
    entry[20] ^= 1;
    audit_seal_digest(prev, 1, 3, 900, 1, entry, sizeof entry, other);
    ck_assert(memcmp(d, other, sizeof d) != 0);
}
END_TEST

START_TEST(parse_numbers)
{
    int64_t i;
    uint64_t u;
    ck_assert_int_eq(audit_parse_i64("-12", &i), STEPUP_OK);
    ck_assert(i == -12);
    ck_assert_int_eq(audit_parse_u64("18446744073709551615", &u), STEPUP_OK);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(audit_parse_u64("-1", &u), STEPUP_ERR);
    ck_assert_int_eq(audit_parse_u64("", &u), STEPUP_ERR);
    ck_assert_int_eq(audit_parse_u64("12a", &u), STEPUP_ERR);
    ck_assert_int_eq(audit_parse_i64("", &i), STEPUP_ERR);
    ck_assert_int_eq(audit_parse_i64("99999999999999999999", &i), STEPUP_ERR);
}
END_TEST

/* A fresh Ed25519 key written as PEM: the private file and the public one. */
static void write_keys(char priv[64], char pub[64])
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(k);
    strcpy(priv, "/tmp/check_audit_priv_XXXXXX");
    strcpy(pub, "/tmp/check_audit_pub_XXXXXX");
    int fd = mkstemp(priv), fd2 = mkstemp(pub);
    ck_assert(fd >= 0 && fd2 >= 0);
    FILE *f = fdopen(fd, "w"), *g = fdopen(fd2, "w");
    ck_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
    ck_assert(PEM_write_PUBKEY(g, k) == 1);
    fclose(f);
    fclose(g);
    EVP_PKEY_free(k);
}

START_TEST(sign_and_verify)
{
    char priv[64], pub[64], err[256], id1[CRYPTO_KEY_ID_LEN + 1], id2[CRYPTO_KEY_ID_LEN + 1];
    write_keys(priv, pub);
    struct crypto_sign_key *s = crypto_sign_key_load(priv, true, err, sizeof err);
    struct crypto_sign_key *v = crypto_sign_key_load(pub, false, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(v);
    crypto_sign_key_id(s, id1);
    crypto_sign_key_id(v, id2);
    ck_assert_str_eq(id1, id2);
    ck_assert_int_eq((int)strlen(id1), CRYPTO_KEY_ID_LEN);

    unsigned char msg[32] = "a seal digest of thirty-two byte", sig[CRYPTO_SIGNATURE_LEN];
    ck_assert_int_eq(crypto_sign(s, msg, sizeof msg, sig), STEPUP_OK);
    ck_assert_int_eq(crypto_sign_verify(v, msg, sizeof msg, sig), 1);
    ck_assert_int_eq(crypto_sign_verify(s, msg, sizeof msg, sig), 1);
    msg[0] ^= 1;
    ck_assert_int_eq(crypto_sign_verify(v, msg, sizeof msg, sig), 0);
    msg[0] ^= 1;
    sig[63] ^= 0x80;
    ck_assert_int_eq(crypto_sign_verify(v, msg, sizeof msg, sig), 0);

    /* A public key cannot be the sealer's; another key does not verify. */
    ck_assert_ptr_null(crypto_sign_key_load(pub, true, err, sizeof err));
    ck_assert(strstr(err, "private") != NULL);
    char priv2[64], pub2[64];
    write_keys(priv2, pub2);
    struct crypto_sign_key *o = crypto_sign_key_load(pub2, false, err, sizeof err);
    ck_assert_ptr_nonnull(o);
    sig[63] ^= 0x80;
    ck_assert_int_eq(crypto_sign_verify(o, msg, sizeof msg, sig), 0);

    crypto_sign_key_free(s);
    crypto_sign_key_free(v);
    crypto_sign_key_free(o);
    unlink(priv);
    unlink(pub);
    unlink(priv2);
    unlink(pub2);
}
END_TEST

START_TEST(keys_that_do_not_load)
{
    char err[256], path[] = "/tmp/check_audit_junk_XXXXXX";
    ck_assert_ptr_null(crypto_sign_key_load("/nonexistent/key.pem", false, err, sizeof err));
    ck_assert(strstr(err, "cannot open") != NULL);
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "junk\n", 5) == 5);
    close(fd);
    ck_assert_ptr_null(crypto_sign_key_load(path, false, err, sizeof err));
    ck_assert(strstr(err, "no Ed25519") != NULL);
    /* an RSA key is a key, but not one of ours */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    FILE *f = fopen(path, "w");
    ck_assert(PEM_write_PrivateKey(f, rsa, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
    EVP_PKEY_free(rsa);
    ck_assert_ptr_null(crypto_sign_key_load(path, true, err, sizeof err));
    ck_assert(strstr(err, "not an Ed25519") != NULL);
    unlink(path);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("hashes");
    tcase_add_test(tc, event_hash_known_answer);
    tcase_add_test(tc, event_hash_tells_null_from_empty_and_moves);
    tcase_add_test(tc, entry_round_trip);
    tcase_add_test(tc, seal_digest_known_answer_and_every_field_counts);
    tcase_add_test(tc, parse_numbers);
    suite_add_tcase(s, tc);
    tc = tcase_create("signatures");
    tcase_add_test(tc, sign_and_verify);
    tcase_add_test(tc, keys_that_do_not_load);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(audit_suite());
    int failed;

    log_init("check_audit", LOG_WARN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
