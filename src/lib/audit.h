/*
 * audit.h - the arithmetic of the audit log's seals, shared by the sealer
 * (stepup-sender) and the verifier (stepupctl audit verify), so that both
 * hash an event and a seal exactly alike.
 *
 * An event's hash is SHA-256 of "stepup-audit-event-v1", a NUL, then each
 * column of AUDIT_EVENT_COLUMNS in that order as a 4-byte big-endian
 * length and the column's text (0xffffffff and nothing for NULL).  The
 * text is PostgreSQL's output of the column, but the time, which is read
 * as at_us (microseconds since 1970: no time zone or date style enters).
 *
 * A seal lists its events by seq, each as an AUDIT_ENTRY_LEN-byte entry:
 * seq (8 bytes), at_us (8) and the event's hash (32), big-endian.  Its
 * digest is SHA-256 of "stepup-audit-seal-v1", a NUL, the previous seal's
 * digest (32 zero bytes before the first), seal_no, xact_from, xact_to
 * (8 bytes each), the number of events (4) and the entries.  The digest is
 * what the Ed25519 key signs.
 */
#ifndef STEPUP_AUDIT_H
#define STEPUP_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "crypto.h"
#include "db.h"

#define AUDIT_EVENT_NCOLUMNS 14
/* The columns hashed, as a select list and one name each. */
extern const char *const audit_event_columns[AUDIT_EVENT_NCOLUMNS];
#define AUDIT_ENTRY_LEN (8 + 8 + CRYPTO_HASH_LEN)

/* values[i] is column i's text, NULL for SQL NULL. */
void audit_event_hash(const char *const values[AUDIT_EVENT_NCOLUMNS],
                      unsigned char out[CRYPTO_HASH_LEN]);

struct audit_entry {
    int64_t seq;
    int64_t at_us;
    unsigned char hash[CRYPTO_HASH_LEN];
};
void audit_entry_put(unsigned char out[AUDIT_ENTRY_LEN], const struct audit_entry *e);

/*
 * The entry of the event in a row of r, whose columns are named as
 * audit_event_columns: its seq, its time and its hash.  STEPUP_ERR when
 * seq or at_us is not a number (e->seq is INT64_MAX when seq is not).
 */
int audit_row_entry(const db_result *r, int row, struct audit_entry *e) WARN_UNUSED;
void audit_entry_get(const unsigned char in[AUDIT_ENTRY_LEN], struct audit_entry *e);

void audit_seal_digest(const unsigned char prev[CRYPTO_HASH_LEN], int64_t seal_no,
                       uint64_t xact_from, uint64_t xact_to, uint32_t count,
                       const unsigned char *entries, size_t entries_len,
                       unsigned char out[CRYPTO_HASH_LEN]);

/* A decimal 64-bit number (seq, at_us, an xid8) from its text; STEPUP_ERR if it is not one. */
int audit_parse_i64(const char *text, int64_t *out) WARN_UNUSED;
int audit_parse_u64(const char *text, uint64_t *out) WARN_UNUSED;

#endif
