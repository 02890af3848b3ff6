/*
 * common.h - small definitions shared by every stepup module.
 *
 * Functions that can fail return STEPUP_OK (0) or STEPUP_ERR (-1) and are
 * marked WARN_UNUSED so that a caller cannot silently drop the failure.
 */
#ifndef STEPUP_COMMON_H
#define STEPUP_COMMON_H

#include <stddef.h>
#include <time.h>

#define STEPUP_OK 0
#define STEPUP_ERR (-1)

#define WARN_UNUSED __attribute__((warn_unused_result))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds on the monotonic clock: for timeouts and intervals. */
static inline long long stepup_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
