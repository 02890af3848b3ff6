/*
 * log.h - one line per event, on standard error or to syslog.
 *
 * Under lighttpd and Apache standard error ends up in the server's error
 * log; stand-alone it goes wherever the process manager sends it.  Lines
 * look like
 *
 *   2026-11-25T22:01:33Z stepup-fcgi[1234] info ref=<request-ref> message
 *
 * With the log_target setting "syslog" the same line, without the time and
 * program (syslog adds its own), goes to syslog(3) under the facility of
 * the syslog_facility setting (daemon unless set), at the matching
 * priority (log_syslog.c).
 *
 * Never pass a secret (OTP, token, API key, password) to these functions.
 */
#ifndef STEPUP_LOG_H
#define STEPUP_LOG_H

#include "common.h"

/* LOG_OFF as a threshold logs nothing (stepupctl, which reports every failure itself). */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };

/* The syslog facilities a program may log under (log_syslog.c maps them). */
enum log_facility { LOG_FACILITY_DAEMON, LOG_FACILITY_USER, LOG_FACILITY_LOCAL0,
                    LOG_FACILITY_LOCAL1, LOG_FACILITY_LOCAL2, LOG_FACILITY_LOCAL3,
                    LOG_FACILITY_LOCAL4, LOG_FACILITY_LOCAL5, LOG_FACILITY_LOCAL6,
                    LOG_FACILITY_LOCAL7 };

/* Set at start-up, before threads start; the threshold may change later
 * (log_set_threshold, a reload), the program name not. */
void log_init(const char *program, enum log_level threshold);

/* Change the least severe level logged; safe while other threads log. */
void log_set_threshold(enum log_level threshold);

/*
 * Where lines go from now on (LOG_TO_STDERR at start), and under which
 * facility when that is syslog; before threads start (or in the one
 * thread of a reload).
 */
void log_set_target(enum log_target target, enum log_facility facility);

/* "stderr" or "syslog"; STEPUP_ERR on anything else. */
int log_target_parse(const char *name, enum log_target *out) WARN_UNUSED;
const char *log_target_name(enum log_target target);

/* "daemon", "user", "local0".."local7"; STEPUP_ERR on anything else. */
int log_facility_parse(const char *name, enum log_facility *out) WARN_UNUSED;
const char *log_facility_name(enum log_facility facility);

/* "error", "warn", "info" or "debug"; "?" for another value. */
const char *log_level_name(enum log_level level);

/* Parse "error", "warn", "info" or "debug"; STEPUP_ERR on anything else. */
int log_level_parse(const char *name, enum log_level *out) WARN_UNUSED;

/* ref may be NULL when the event belongs to no request. */
void log_msg(enum log_level level, const char *ref, const char *fmt, ...) PRINTF_LIKE(3, 4);

#endif
