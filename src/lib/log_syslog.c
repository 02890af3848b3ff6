/*
 * log_syslog.c - syslog(3) for log.c (see log_syslog.h).
 */
#include <syslog.h>

#include "log_syslog.h"

void log_syslog_open(const char *ident)
{
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_syslog_write(int level, const char *line)
{
    static const int priority[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    int p = level >= 0 && level < (int)(sizeof priority / sizeof priority[0]) ? priority[level]
                                                                              : LOG_ERR;
    syslog(p, "%s", line);
}
