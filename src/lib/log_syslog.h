/*
 * log_syslog.h - log.c's way to syslog(3), apart because <syslog.h>
 * defines LOG_INFO and LOG_DEBUG, the names of log.h's levels.
 */
#ifndef STEPUP_LOG_SYSLOG_H
#define STEPUP_LOG_SYSLOG_H

/*
 * openlog(ident, LOG_PID, the facility of log.h's enum log_facility
 * facility); ident must live as long as the process.
 */
void log_syslog_open(const char *ident, int facility);

/* One line at the priority of log.h's level (0 error, 1 warn, 2 info, 3 debug). */
void log_syslog_write(int level, const char *line);

#endif
