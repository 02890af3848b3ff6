/*
 * text.h - the texts stepup-sender builds: the message (the outbox's
 * template with its code), a gateway's request body (JSON-escaped or
 * URL-encoded values), the message id of a gateway's answer, masked
 * numbers for logs, and error texts made safe to store.  Pure functions, unit-tested in tests/unit/check_sender.c.
 *
 * Strings returned here are allocated; those that may hold the code are
 * built without leaving copies behind (a growing buffer wipes what it
 * leaves) and must be released with text_free_secret.
 */
#ifndef STEPUP_SENDER_TEXT_H
#define STEPUP_SENDER_TEXT_H

#include <stddef.h>
#include "../lib/common.h"
#include "sender_config.h"

/* The message: template with every "{code}" replaced by code; NULL when out of memory. */
char *text_message(const char *body_template, const char *code);

/*
 * A request body: tpl with {to}, {text} and {message_id} replaced by the
 * values, each JSON-escaped (BODY_JSON: for use inside a JSON string) or
 * URL-encoded (BODY_FORM).  Other braces are kept.  One pass: a value that
 * contains a placeholder is not expanded again.  NULL when out of memory.
 */
char *text_body(const char *tpl, enum body_type type, const char *to, const char *text,
                const char *message_id);

/* Wipe and free a string from text_message or text_body (NULL is fine). */
void text_free_secret(char *s);

/*
 * A number for logs: the first 3 characters, "…", the last 4 ("+44…3456");
 * numbers of 8 characters or fewer are all masked but the last 2.
 */
void text_mask_number(const char *number, char *out, size_t outlen);

/*
 * Copy at most outlen - 1 bytes of in to out for storing as an error text:
 * trailing blanks and newlines are dropped, other control characters
 * become '?', and every occurrence of secret (when not NULL or empty), even
 * one cut by the end of out, becomes '*'s, so a gateway that echoes the
 * text cannot put the code into the database.
 */
void text_safe_error(const char *in, size_t inlen, const char *secret, char *out, size_t outlen);

/*
 * The gateway's message id in its answer: the value at a dotted path
 * ("messageId", "data.id") of the JSON body, when it is a string or a
 * number, copied to out as text_safe_error copies (no control
 * characters); "" when the answer is no JSON, path is "" or leads
 * nowhere.
 */
void text_answer_id(const char *body, const char *path, char *out, size_t outlen);

#endif
