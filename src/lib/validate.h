/*
 * validate.h - pure checks of input values, shared by stepup-fcgi (request
 * headers, bodies and paths) and stepupctl (the same e-mail rule).
 * Each validate_* returning a string answers NULL when the value is
 * acceptable, else the Weavr error name ("REQUIRED", "NOT_IN", "SIZE",
 * "REGEX", ...).  Values come with their length where they may hold a NUL
 * (a JSON string's "\u0000"): a NUL is never part of an accepted value.
 */
#ifndef STEPUP_VALIDATE_H
#define STEPUP_VALIDATE_H

#include <stddef.h>

struct json_object;

/* The limits the API states (README, docs/openapi.yaml), in bytes. */
#define VALIDATE_EMAIL_MAX 254        /* RFC 5321's path limit, less the brackets */
#define VALIDATE_PASSWORD_MAX 1024
#define VALIDATE_IDEMPOTENCY_REF_MAX 255
#define VALIDATE_CREDENTIAL_MAX 256   /* api-key and bearer token (stepup's are 43) */
#define VALIDATE_USER_AGENT_MAX 512   /* what is stored of a User-Agent */
#define VALIDATE_JSON_DEPTH 16        /* nesting of a request body */

/*
 * 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF; what PostgreSQL accepts as text),
 * else 0.  A NUL byte is well-formed; callers refuse it separately.
 */
int validate_utf8(const char *s, size_t len);

/*
 * Copy the C string s to out (outsize > 0 bytes, NUL-terminated) as
 * well-formed UTF-8: each ill-formed byte becomes U+FFFD, and the copy
 * ends at the last whole character that fits.  Returns its length.
 */
size_t validate_utf8_repair(const char *s, char *out, size_t outsize);

/*
 * A text field of 1..max bytes: REQUIRED when s is NULL or empty, SIZE
 * when longer than max, REGEX when it holds a NUL or is not UTF-8.
 */
const char *validate_text(const char *s, size_t len, size_t max);

/* The {channel} path segment: "SMS" is the only channel. */
const char *validate_channel(const char *channel);

/* A verification code: six ASCII digits. */
const char *validate_verification_code(const char *code, size_t len);

/*
 * An e-mail address as login accepts it: validate_text with
 * VALIDATE_EMAIL_MAX, then one '@' with something on either side, and no
 * spaces or control characters.
 */
const char *validate_email(const char *email, size_t len);

/* A password: validate_text with VALIDATE_PASSWORD_MAX. */
const char *validate_password(const char *password, size_t len);

/*
 * An idempotency-ref header (when present): 1..VALIDATE_IDEMPOTENCY_REF_MAX
 * visible ASCII characters (0x21..0x7E), as Stripe and the IETF
 * Idempotency-Key draft allow.  SIZE or REGEX.
 */
const char *validate_idempotency_ref(const char *ref);

/*
 * An api-key or a bearer token (when present): 1..VALIDATE_CREDENTIAL_MAX
 * visible ASCII characters.  SIZE or REGEX.
 */
const char *validate_credential(const char *value);

/*
 * Read a request body as exactly one JSON document into *doc (the caller
 * puts it): at most VALIDATE_JSON_DEPTH deep, nothing but whitespace after
 * it, no NUL byte, and no object with a name twice or a name holding a
 * NUL ("\u0000"; json-c would cut it there).  text[len] must be NUL.
 * Returns NULL when read, else why not (for the log), with *doc NULL.
 */
const char *validate_json_document(const char *text, size_t len, struct json_object **doc);

#endif
