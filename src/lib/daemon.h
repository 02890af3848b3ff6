/*
 * daemon.h - detaching from the terminal and pid files, for the daemons
 * (stepup-fcgi stand-alone, stepup-sender) when no supervisor (systemd,
 * spawn-fcgi, a web server) keeps them in the foreground.
 *
 * The starting process waits until the daemon says it is up, so that its
 * exit status tells whether the start worked:
 *
 *     int ready = daemon_detach();       // before any thread is started
 *     ... open sockets, start threads ...
 *     daemon_ready(ready);               // the starting process exits 0
 */
#ifndef STEPUP_DAEMON_H
#define STEPUP_DAEMON_H

#include "common.h"

/*
 * Fork; the parent exits 0 once the child calls daemon_ready(), 1 if the
 * child exits first.  The child starts a new session and changes to /.
 * Returns, in the child, the descriptor to hand to daemon_ready(); -1 with
 * errno set when it could not fork.  Call it before starting threads.
 */
int daemon_detach(void) WARN_UNUSED;

/* Tell the starting process that we are up, and close fd (-1: nothing). */
void daemon_ready(int fd);

/* Write our pid to path (mode 0644, replaced atomically); STEPUP_ERR (logged). */
int daemon_write_pid_file(const char *path) WARN_UNUSED;

#endif
