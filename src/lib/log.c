/*
 * log.c - one line per event on standard error.
 *
 * Each line is formatted completely in a local buffer and handed to stdio in
 * a single call followed by a flush, so lines from concurrent worker threads
 * never interleave (stdio locks the stream for the duration of each call).
 * Control characters in the reference and the message are replaced by '?',
 * so that no caller-supplied text can forge a second log line.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_syslog.h"

/* Configuration: the program and target set before threads start, the
 * threshold atomic because a reload may change it while threads log. */
static const char *log_program = "stepup";
static _Atomic int log_threshold = LOG_INFO;
static enum log_target log_target = LOG_TO_STDERR;
static enum log_facility log_facility = LOG_FACILITY_DAEMON;

static const char *const facility_names[] = {
    [LOG_FACILITY_DAEMON] = "daemon", [LOG_FACILITY_USER] = "user",
    [LOG_FACILITY_LOCAL0] = "local0", [LOG_FACILITY_LOCAL1] = "local1",
    [LOG_FACILITY_LOCAL2] = "local2", [LOG_FACILITY_LOCAL3] = "local3",
    [LOG_FACILITY_LOCAL4] = "local4", [LOG_FACILITY_LOCAL5] = "local5",
    [LOG_FACILITY_LOCAL6] = "local6", [LOG_FACILITY_LOCAL7] = "local7",
};

static const char *const level_names[] = {
    [LOG_ERROR] = "error",
    [LOG_WARN] = "warn",
    [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug",
};

/*
 * Remember the program name shown on every line (the pointer is kept, so it
 * must outlive the process's logging, as argv[0] or a literal does) and the
 * most verbose level that is still written.
 */
void log_init(const char *program, enum log_level threshold)
{
    if (program != NULL) {
        const char *slash = strrchr(program, '/');
        log_program = slash != NULL ? slash + 1 : program;
    }
    atomic_store(&log_threshold, threshold);
}

void log_set_threshold(enum log_level threshold)
{
    atomic_store(&log_threshold, threshold);
}

void log_set_target(enum log_target target, enum log_facility facility)
{
    if (target == LOG_TO_SYSLOG && (log_target != LOG_TO_SYSLOG || facility != log_facility))
        log_syslog_open(log_program, (int)facility);
    log_target = target;
    log_facility = facility;
}

int log_facility_parse(const char *name, enum log_facility *out)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(facility_names); i++) {
        if (strcmp(name, facility_names[i]) == 0) {
            *out = (enum log_facility)i;
            return STEPUP_OK;
        }
    }
    return STEPUP_ERR;
}

const char *log_facility_name(enum log_facility facility)
{
    if ((size_t)facility >= ARRAY_LEN(facility_names))
        return "?";
    return facility_names[facility];
}

int log_target_parse(const char *name, enum log_target *out)
{
    if (name != NULL && strcmp(name, "stderr") == 0)
        *out = LOG_TO_STDERR;
    else if (name != NULL && strcmp(name, "syslog") == 0)
        *out = LOG_TO_SYSLOG;
    else
        return STEPUP_ERR;
    return STEPUP_OK;
}

const char *log_target_name(enum log_target target)
{
    return target == LOG_TO_SYSLOG ? "syslog" : "stderr";
}

const char *log_level_name(enum log_level level)
{
    if (level < LOG_ERROR || (size_t)level >= ARRAY_LEN(level_names))
        return "?";
    return level_names[level];
}

/*
 * Map a level name (case-insensitive) to its value.  Returns STEPUP_ERR and
 * leaves *out alone when name is NULL or not one of the four names.
 */
int log_level_parse(const char *name, enum log_level *out)
{
    if (name == NULL)
        return STEPUP_ERR;
    for (size_t i = 0; i < ARRAY_LEN(level_names); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return STEPUP_OK;
        }
    }
    return STEPUP_ERR;
}

/* Replace control characters in buf[from, to) so one event stays one line. */
static void neutralise(char *buf, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c == 0x7f)
            buf[i] = '?';
    }
}

/*
 * Write one line at the given level when it passes the threshold.  Lines
 * longer than the local buffer are truncated and marked with "...".  Never
 * fails: a logging problem must not take a request down with it.
 */
void log_msg(enum log_level level, const char *ref, const char *fmt, ...)
{
    char line[2048];
    char stamp[32];
    size_t len = 0;
    int n;
    time_t now;
    struct tm tm;
    va_list ap;

    if ((int)level > atomic_load(&log_threshold))
        return;
    if (level < LOG_ERROR || (size_t)level >= ARRAY_LEN(level_names))
        level = LOG_ERROR;

    now = time(NULL);
    if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(stamp, "-");

    n = snprintf(line, sizeof line, "%s %s[%ld] %s ", stamp, log_program, (long)getpid(),
                 level_names[level]);
    if (n < 0)
        return;
    len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    /* What syslog gets: from the level on (it has its own time and program). */
    size_t prefix = strlen(stamp) + 1 + strlen(log_program) + 1;
    for (; prefix < len && line[prefix - 1] != ' '; prefix++)
        ;

    if (ref != NULL && len < sizeof line - 1) {
        size_t start = len + 4;
        n = snprintf(line + len, sizeof line - len, "ref=%s ", ref);
        if (n < 0)
            return;
        len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - len - 1;
        if (start < len)
            neutralise(line, start, len - 1);
    }

    if (len < sizeof line - 1) {
        size_t start = len;
        va_start(ap, fmt);
        n = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - len - 1;
        neutralise(line, start, len);
    }

    /* Room for the newline; mark truncation. */
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
        memcpy(line + len - 3, "...", 3);
    }
    line[len++] = '\n';
    line[len] = '\0';

    if (log_target == LOG_TO_SYSLOG) {
        line[len - 1] = '\0'; /* syslog ends the line; it stamps time and program */
        log_syslog_write((int)level, line + prefix);
        return;
    }
    fputs(line, stderr);
    fflush(stderr);
}
