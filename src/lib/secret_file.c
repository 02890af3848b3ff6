/*
 * secret_file.c - see secret_file.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "secret_file.h"

int secret_file_check(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return STEPUP_ERR;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s has mode %04o: group or others may read its secrets; chmod 600 %s", path,
                 (unsigned)(st.st_mode & 07777), path);
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}
