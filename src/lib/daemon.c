/*
 * daemon.c - detaching and pid files (see daemon.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

int daemon_detach(void)
{
    int ready[2];
    if (pipe(ready) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(ready[0]);
        close(ready[1]);
        errno = e;
        return -1;
    }
    if (pid > 0) {
        char ok = 0;
        close(ready[1]);
        ssize_t n;
        while ((n = read(ready[0], &ok, 1)) < 0 && errno == EINTR)
            ;
        _exit(n == 1 && ok == 1 ? 0 : 1);
    }
    close(ready[0]);
    if (setsid() < 0 || chdir("/") != 0)
        _exit(1);
    return ready[1];
}

void daemon_ready(int fd)
{
    if (fd < 0)
        return;
    char one = 1;
    if (write(fd, &one, 1) != 1)
        log_msg(LOG_WARN, NULL, "could not tell the starting process that we are up");
    close(fd);
}

int daemon_write_pid_file(const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        log_msg(LOG_ERROR, NULL, "pid file path too long: %s", path);
        return STEPUP_ERR;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        log_msg(LOG_ERROR, NULL, "cannot write the pid file %s: %s", path, strerror(errno));
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}
