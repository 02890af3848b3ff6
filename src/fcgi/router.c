/*
 * router.c - match a method and path against the static route table.
 */
#include <stdio.h>
#include <string.h>

#include "router.h"

/*
 * Match path against pattern segment by segment.  A "{name}" segment of
 * the pattern matches one non-empty path segment, "{name?}" one that may
 * be empty; it is copied to param.  Returns 1 on a match.
 */
static int pattern_match(const char *pattern, const char *path, char *param, size_t paramlen)
{
    if (paramlen > 0)
        param[0] = '\0';
    while (*pattern != '\0' && *path != '\0') {
        if (*pattern == '{') {
            const char *close = strchr(pattern, '}');
            size_t seglen = strcspn(path, "/");
            if (close == NULL || (seglen == 0 && close[-1] != '?'))
                return 0;
            if (seglen >= paramlen)
                seglen = 0; /* too long to be any known value: matched, but empty */
            if (paramlen > 0) {
                memcpy(param, path, seglen);
                param[seglen] = '\0';
            }
            path += strcspn(path, "/");
            pattern = close + 1;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

enum route_match router_match(const struct route *table, size_t n, const char *method,
                              const char *path, const struct route **out, char *param,
                              size_t paramlen, char *allow, size_t allowlen)
{
    char scratch[64];
    size_t used = 0;
    int path_known = 0;

    if (allowlen > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!pattern_match(table[i].pattern, path, scratch, sizeof scratch))
            continue;
        if (strcmp(table[i].method, method) == 0) {
            pattern_match(table[i].pattern, path, param, paramlen);
            *out = &table[i];
            return ROUTE_FOUND;
        }
        path_known = 1;
        if (allowlen > used) {
            int w = snprintf(allow + used, allowlen - used, "%s%s", used > 0 ? ", " : "",
                             table[i].method);
            if (w > 0)
                used += (size_t)w < allowlen - used ? (size_t)w : allowlen - used - 1;
        }
    }
    *out = NULL;
    return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
