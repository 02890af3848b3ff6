/*
 * log_syslog.c - syslog(3) for log.c (see log_syslog.h).
 */
#include <syslog.h>

#include "log_syslog.h"

void log_syslog_open(const char *ident, int facility)
{
    /* In the order of log.h's enum log_facility. */
    static const int facilities[] = { LOG_DAEMON, LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
                                      LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7 };
    int f = facility >= 0 && facility < (int)(sizeof facilities / sizeof facilities[0])
                ? facilities[facility]
                : LOG_DAEMON;
    closelog(); /* a reload may change the facility */
    openlog(ident, LOG_PID | LOG_NDELAY, f);
}

void log_syslog_write(int level, const char *line)
{
    static const int priority[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    int p = level >= 0 && level < (int)(sizeof priority / sizeof priority[0]) ? priority[level]
                                                                              : LOG_ERR;
    syslog(p, "%s", line);
}
