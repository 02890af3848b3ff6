/*
 * provider_exec.c - the exec provider: runs exec_program with the number
 * as its only argument and the text on its standard input (the way
 * gammu-smsd-inject and similar tools take a message).  Exit status 0 is
 * sent; a status in exec_permanent_exit_codes is a permanent failure; any
 * other status, death by a signal, or running longer than exec_timeout_ms
 * (the program is then killed) is retried.  The first bytes the program
 * writes (standard output and error together) become the error text of a
 * failure, with the code scrubbed out.
 *
 * The child gets a clean signal state (the sender blocks its own signals
 * and ignores SIGPIPE) and no descriptor but 0, 1 and 2.
 */
#define _GNU_SOURCE /* pipe2, closefrom */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/crypto.h"
#include "../lib/log.h"
#include "provider.h"
#include "text.h"

#define OUTPUT_KEEP 512

struct exec_state {
    const struct sender_config *c;
};

/* The state is only the configuration: each send runs the program afresh. */
static int exec_open(const struct sender_config *c, void **state)
{
    struct exec_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return STEPUP_ERR;
    st->c = c;
    *state = st;
    return STEPUP_OK;
}

/* In the child: wire the pipes, reset signals, exec.  Never returns. */
static void child(const char *program, const char *to, int in_fd, int out_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(126);
    closefrom(3);
    char *const argv[] = { (char *)program, (char *)to, NULL };
    execv(program, argv);
    _exit(127);
}

/* Read what is there (non-blocking) into buf, keeping at most OUTPUT_KEEP bytes. */
static void drain(int fd, char *buf, size_t *len)
{
    char chunk[1024];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        size_t keep = OUTPUT_KEEP - *len;
        if ((size_t)n < keep)
            keep = (size_t)n;
        memcpy(buf + *len, chunk, keep);
        *len += keep;
    }
}

/*
 * Run the program for one message and wait for it (at most
 * exec_timeout_ms), collecting the start of its output; set out.
 */
static void exec_send(void *state, const struct provider_message *m, struct provider_outcome *out)
{
    struct exec_state *st = state;
    const struct sender_config *c = st->c;
    int in[2] = { -1, -1 }, outp[2] = { -1, -1 };
    char output[OUTPUT_KEEP];
    size_t outlen = 0;
    int status = 0;
    bool exited = false;
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        snprintf(out->error, sizeof out->error, "pipe: %s", strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(out->error, sizeof out->error, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0)
        child(c->exec_program, m->to, in[0], outp[1]);
    close(in[0]);
    in[0] = -1;
    close(outp[1]);
    outp[1] = -1;
    fcntl(outp[0], F_SETFL, O_NONBLOCK);

    /* The text is far smaller than a pipe's buffer: this write does not block. */
    size_t len = strlen(m->text);
    ssize_t w = write(in[1], m->text, len);
    close(in[1]);
    in[1] = -1;
    if (w != (ssize_t)len)
        log_msg(LOG_DEBUG, NULL, "exec provider: the program did not read its whole input");

    long long deadline = stepup_now_ms() + c->exec_timeout_ms;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            exited = true;
            break;
        }
        if (got < 0 && errno != EINTR) {
            snprintf(out->error, sizeof out->error, "waitpid: %s", strerror(errno));
            break;
        }
        long long left = deadline - stepup_now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = { .fd = outp[0], .events = POLLIN };
        int r = poll(&pfd, 1, left < 10 ? (int)left : 10);
        if (r > 0 && (pfd.revents & POLLIN))
            drain(outp[0], output, &outlen);
        else if (r > 0) {
            /* the program closed its output: only wait for its exit now */
            struct timespec ts = { 0, 2 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (!exited && out->error[0] == '\0') {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        drain(outp[0], output, &outlen);
        out->exit_code = -SIGKILL;
        snprintf(out->error, sizeof out->error, "killed after %d ms (exec_timeout_ms)",
                 c->exec_timeout_ms);
        goto done;
    }
    if (!exited)
        goto done;
    drain(outp[0], output, &outlen);

    char said[300];
    text_safe_error(output, outlen, m->code, said, sizeof said);
    if (WIFEXITED(status)) {
        out->exit_code = WEXITSTATUS(status);
        if (out->exit_code == 0) {
            out->result = PROVIDER_SENT;
            goto done;
        }
        out->result = sender_status_in(c->exec_permanent_exit_codes,
                                       c->n_exec_permanent_exit_codes, out->exit_code)
                          ? PROVIDER_PERMANENT
                          : PROVIDER_RETRY;
        snprintf(out->error, sizeof out->error, "exit status %d%s%.200s", out->exit_code,
                 said[0] != '\0' ? ": " : "", said);
    } else if (WIFSIGNALED(status)) {
        out->exit_code = -WTERMSIG(status);
        snprintf(out->error, sizeof out->error, "killed by signal %d%s%.200s", WTERMSIG(status),
                 said[0] != '\0' ? ": " : "", said);
    }

done:
    crypto_wipe(output, sizeof output);
    if (in[0] >= 0)
        close(in[0]);
    if (in[1] >= 0)
        close(in[1]);
    if (outp[0] >= 0)
        close(outp[0]);
    if (outp[1] >= 0)
        close(outp[1]);
}

/* Free the state of exec_open. */
static void exec_close(void *state)
{
    free(state);
}

const struct provider_ops provider_exec_ops = {
    .name = "exec", .open = exec_open, .send = exec_send, .close = exec_close,
};
