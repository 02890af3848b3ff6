/*
 * supervise.h - stepup-fcgi --daemon keeps a serving process running.
 *
 * A stepup-fcgi started in the foreground has a manager that starts a new
 * one when it dies: systemd (Restart=on-failure, while stepup-fcgi.socket
 * keeps the listening socket), Apache's mod_fcgid, lighttpd's bin-path.
 * One that detaches (--daemon, the spawn-fcgi shape) has none, so it
 * brings its own: the detached process opens the listening sockets and
 * writes the pid file, then only supervises.  It forks the process that
 * serves (the worker threads), which inherits the sockets; when that
 * process dies of a signal or exits with a failure, the supervisor logs
 * how and forks another at once, but at most one start a second while
 * they keep dying (the log says when it waits).  The sockets stay open
 * throughout, so the web server's connections wait in their backlog
 * rather than being refused, and are served by the next process.
 *
 * Signals: SIGTERM and SIGINT are passed on to the serving process, which
 * finishes its requests in flight; the supervisor exits with its status
 * once it has gone.  SIGHUP is passed on (the serving process reloads the
 * configuration), and a serving process started after one reloads the
 * file before it serves, so a replacement serves what its predecessor
 * did.  A serving process that exits 0 without being asked (someone sent
 * it SIGTERM itself) stops the supervisor too: a clean exit is a stop,
 * not a failure.  A serving process whose supervisor dies gets SIGTERM.
 *
 * The supervisor never starts a thread (it forks, which a threaded
 * process should not), and it takes its signals with sigwaitinfo() while
 * they are blocked: no handler, no flag, no state but its locals.
 */
#ifndef STEPUP_FCGI_SUPERVISE_H
#define STEPUP_FCGI_SUPERVISE_H

#include <stdbool.h>
#include "../lib/common.h"

/* The fastest a serving process that keeps dying is started again. */
#define SUPERVISE_RESTART_INTERVAL_MS 1000

/*
 * What the serving process runs, in the child: serve until told to stop
 * and return the exit status.  It calls daemon_ready(ready_fd) once it
 * serves; reload: read the configuration file again first (a SIGHUP was
 * passed on to an earlier serving process).
 */
typedef int supervise_serve_fn(void *arg, int ready_fd, bool reload);

/*
 * Supervise serving processes running serve(arg, ...) until SIGTERM or
 * SIGINT, as above.  Call it in the detached process, with no thread
 * running; ready_fd is daemon_detach's, told once the first serving
 * process serves.  Returns, in the supervisor only, its exit status: the
 * last serving process's after a stop (EXIT_SUCCESS after a clean one, or
 * when the stop came while none ran), EXIT_FAILURE when the first one
 * could not be started or ended before it served (the start failed:
 * nothing is restarted).  A later fork that fails is tried again, once a
 * second.  In a serving process it never returns: the process exits with
 * serve's status.
 */
int supervise(supervise_serve_fn *serve, void *arg, int ready_fd) WARN_UNUSED;

#endif
