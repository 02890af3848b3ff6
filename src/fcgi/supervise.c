/*
 * supervise.c - stepup-fcgi --daemon keeps a serving process running (see
 * supervise.h).
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/daemon.h"
#include "../lib/log.h"
#include "supervise.h"

/*
 * Take the pending signals of set until deadline (stepup_now_ms; one that
 * has passed: only those pending now): SIGHUP sets *hup, SIGCHLD is only
 * a wake-up.  Returns SIGTERM or SIGINT as soon as one arrives, else 0.
 */
static int take_signals(const sigset_t *set, long long deadline, bool *hup)
{
    for (;;) {
        long long left = deadline - stepup_now_ms();
        if (left < 0)
            left = 0;
        struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGHUP)
            *hup = true;
        if (sig < 0 && errno == EAGAIN)
            return 0; /* the deadline passed */
    }
}

/*
 * Fork a serving process: in the child, serve(arg, the write end of a new
 * pipe, reload) and exit with its status.  In the supervisor, the child's
 * pid (-1 when fork failed, logged) and the read end of its pipe in
 * *ready, which gets a byte once the child serves and EOF if it ends
 * first.
 */
static pid_t start(supervise_serve_fn *serve, void *arg, int starter_fd, bool reload, int *ready)
{
    int p[2];
    pid_t supervisor = getpid();
    if (pipe2(p, O_CLOEXEC) != 0) {
        log_msg(LOG_ERROR, NULL, "supervisor: cannot make a pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_msg(LOG_ERROR, NULL, "supervisor: cannot fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        if (starter_fd >= 0)
            close(starter_fd); /* the supervisor tells the starting process */
        /* SIGTERM, SIGINT and SIGHUP stay blocked: serve takes them with sigwait. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        /* An orphan would hold the sockets with nobody to stop it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != supervisor)
            _exit(EXIT_FAILURE);
        exit(serve(arg, p[1], reload));
    }
    close(p[1]);
    *ready = p[0];
    return pid;
}

/* True once the child of the pipe serves; false when it ended first.  Closes fd. */
static bool serving(int fd)
{
    char byte;
    ssize_t n;
    while ((n = read(fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    close(fd);
    return n == 1;
}

/*
 * Pass the signals of set on to the serving process pid until it has
 * ended: SIGHUP sets *hup, SIGTERM and SIGINT set *stopping.  Its wait
 * status into *wstatus.
 */
static void watch(pid_t pid, const sigset_t *set, bool *hup, bool *stopping, int *wstatus)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        if (sig == SIGHUP || sig == SIGTERM || sig == SIGINT) {
            if (sig == SIGHUP)
                *hup = true;
            else
                *stopping = true;
            kill(pid, sig);
        } else if (sig == SIGCHLD && waitpid(pid, wstatus, WNOHANG) == pid) {
            return;
        }
    }
}

/* Log how serving process pid ended (wait status wstatus), and that another follows. */
static void log_end(pid_t pid, int wstatus)
{
    if (WIFSIGNALED(wstatus))
        log_msg(LOG_ERROR, NULL, "supervisor: serving process %ld was killed by signal %d (%s%s); "
                "starting another", (long)pid, WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
                WCOREDUMP(wstatus) ? ", core dumped" : "");
    else
        log_msg(LOG_ERROR, NULL, "supervisor: serving process %ld exited with status %d; "
                "starting another", (long)pid, WEXITSTATUS(wstatus));
}

int supervise(supervise_serve_fn *serve, void *arg, int ready_fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    bool hup = false, first = true;
    long long started = 0;
    for (;;) {
        /* At most one start a second; a stop meanwhile ends it all. */
        long long next = started + SUPERVISE_RESTART_INTERVAL_MS;
        if (!first && next > stepup_now_ms())
            log_msg(LOG_WARN, NULL, "supervisor: starting it in %lld ms (at most one start a "
                    "second while serving processes keep dying)", next - stepup_now_ms());
        int stop = take_signals(&set, first ? 0 : next, &hup);
        if (stop != 0) {
            log_msg(LOG_INFO, NULL, "supervisor: %s while no process serves: exiting",
                    stop == SIGTERM ? "SIGTERM" : "SIGINT");
            return EXIT_SUCCESS;
        }
        started = stepup_now_ms();
        int ready = -1, wstatus = 0;
        bool stopping = false;
        pid_t pid = start(serve, arg, ready_fd, hup && !first, &ready);
        if (pid < 0 && first) {
            if (ready_fd >= 0)
                close(ready_fd); /* the starting process exits 1 */
            return EXIT_FAILURE;
        }
        if (pid < 0)
            continue;
        if (serving(ready)) {
            if (first) {
                daemon_ready(ready_fd);
                ready_fd = -1;
            } else {
                log_msg(LOG_INFO, NULL, "supervisor: serving process %ld serves", (long)pid);
            }
            watch(pid, &set, &hup, &stopping, &wstatus);
        } else {
            while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
                ;
            if (first) {
                log_msg(LOG_ERROR, NULL, "supervisor: the serving process ended before it "
                        "served: exiting");
                if (ready_fd >= 0)
                    close(ready_fd); /* the starting process exits 1 */
                return EXIT_FAILURE;
            }
        }
        first = false;
        if (stopping)
            return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : EXIT_FAILURE;
        if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == EXIT_SUCCESS) {
            log_msg(LOG_INFO, NULL, "supervisor: serving process %ld exited unasked, cleanly: "
                    "exiting too", (long)pid);
            return EXIT_SUCCESS;
        }
        log_end(pid, wstatus);
    }
}
