/*
 * log.h - one line per event on standard error.
 *
 * Under lighttpd and Apache standard error ends up in the server's error
 * log; stand-alone it goes wherever the process manager sends it.  Lines
 * look like
 *
 *   2026-11-25T22:01:33Z stepup-fcgi[1234] info ref=<request-ref> message
 *
 * Never pass a secret (OTP, token, API key, password) to these functions.
 */
#ifndef STEPUP_LOG_H
#define STEPUP_LOG_H

#include "common.h"

/* LOG_OFF as a threshold logs nothing (stepupctl, which reports every failure itself). */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set once at start-up, before threads start. */
void log_init(const char *program, enum log_level threshold);

/* "error", "warn", "info" or "debug"; "?" for another value. */
const char *log_level_name(enum log_level level);

/* Parse "error", "warn", "info" or "debug"; STEPUP_ERR on anything else. */
int log_level_parse(const char *name, enum log_level *out) WARN_UNUSED;

/* ref may be NULL when the event belongs to no request. */
void log_msg(enum log_level level, const char *ref, const char *fmt, ...) PRINTF_LIKE(3, 4);

#endif
