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
 * Programs run concurrently, one per send under way (at most
 * sends_in_flight): start forks one and writes the text to it, watch
 * gives the sender their output pipes and the nearest deadline, collect
 * reads what they wrote, reaps those that exited and kills (SIGKILL) those
 * past their deadline.  A program that closed its output but has not
 * exited yet is looked at again every few milliseconds.
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
#define REAP_POLL_MS 5 /* how often a child that closed its output is looked at */

/* One program under way (pid 0: a free slot). */
struct child {
    pid_t pid;
    int out_fd;             /* its output (stdout and stderr); -1 once at its end */
    void *tag;
    long long deadline;     /* stepup_now_ms() when it is killed */
    char output[OUTPUT_KEEP];
    size_t outlen;
    char code[16];          /* to scrub its output (secret) */
};

struct exec_state {
    const struct sender_config *c;
    struct child *kids;
    size_t cap, busy;
};

/* Free the state of exec_open (nothing is under way: the sender drains first). */
static void exec_close(void *state)
{
    struct exec_state *st = state;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->cap && st->kids != NULL; i++) {
        struct child *k = &st->kids[i];
        if (k->pid > 0) { /* not expected: do not leave a program behind */
            kill(k->pid, SIGKILL);
            while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        if (k->out_fd >= 0)
            close(k->out_fd);
    }
    if (st->kids != NULL)
        crypto_wipe(st->kids, st->cap * sizeof *st->kids);
    free(st->kids);
    free(st);
}

/* The state: the configuration and a slot per send that may be under way. */
static int exec_open(const struct sender_config *c, void **state)
{
    struct exec_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return STEPUP_ERR;
    st->c = c;
    st->cap = (size_t)c->sends_in_flight;
    st->kids = calloc(st->cap, sizeof *st->kids);
    if (st->kids == NULL) {
        free(st);
        return STEPUP_ERR;
    }
    for (size_t i = 0; i < st->cap; i++)
        st->kids[i].out_fd = -1;
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

/*
 * Read what is there (non-blocking) into k's output, keeping at most
 * OUTPUT_KEEP bytes; at the end of the output, close it.
 */
static void drain(struct child *k)
{
    char chunk[1024];
    ssize_t n;
    if (k->out_fd < 0)
        return;
    while ((n = read(k->out_fd, chunk, sizeof chunk)) > 0) {
        size_t keep = OUTPUT_KEEP - k->outlen;
        if ((size_t)n < keep)
            keep = (size_t)n;
        memcpy(k->output + k->outlen, chunk, keep);
        k->outlen += keep;
    }
    crypto_wipe(chunk, sizeof chunk);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close(k->out_fd);
        k->out_fd = -1;
    }
}

/*
 * Fork the program for one message and hand it the text; the outcome
 * comes from collect.  FINISHED (with the reason) when it could not start.
 */
static enum provider_start exec_start(void *state, const struct provider_message *m, void *tag,
                                      struct provider_outcome *out)
{
    struct exec_state *st = state;
    const struct sender_config *c = st->c;
    int in[2] = { -1, -1 }, outp[2] = { -1, -1 };
    struct child *k = NULL;
    pid_t pid;

    for (size_t i = 0; i < st->cap && k == NULL; i++) {
        if (st->kids[i].pid == 0)
            k = &st->kids[i];
    }
    if (k == NULL) { /* the sender never starts more than sends_in_flight */
        snprintf(out->error, sizeof out->error, "no free send slot (a bug)");
        return PROVIDER_FINISHED;
    }
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        snprintf(out->error, sizeof out->error, "pipe: %s", strerror(errno));
        goto failed;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(out->error, sizeof out->error, "fork: %s", strerror(errno));
        goto failed;
    }
    if (pid == 0)
        child(c->exec_program, m->to, in[0], outp[1]);
    close(in[0]);
    close(outp[1]);
    fcntl(outp[0], F_SETFL, O_NONBLOCK);

    /* The text is far smaller than a pipe's buffer: this write does not block. */
    size_t len = strlen(m->text);
    ssize_t w = write(in[1], m->text, len);
    close(in[1]);
    if (w != (ssize_t)len)
        log_msg(LOG_DEBUG, NULL, "exec provider: the program did not read its whole input");

    k->pid = pid;
    k->out_fd = outp[0];
    k->tag = tag;
    k->deadline = stepup_now_ms() + c->exec_timeout_ms;
    k->outlen = 0;
    snprintf(k->code, sizeof k->code, "%s", m->code);
    st->busy++;
    return PROVIDER_STARTED;

failed:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    return PROVIDER_FINISHED;
}

/* The output pipes of the programs under way, and the nearest deadline. */
static size_t exec_watch(void *state, struct pollfd *fds, size_t max, int *timeout_ms)
{
    struct exec_state *st = state;
    long long now = stepup_now_ms();
    size_t n = 0;

    for (size_t i = 0; i < st->cap && st->busy > 0; i++) {
        struct child *k = &st->kids[i];
        if (k->pid == 0)
            continue;
        long long left = k->deadline - now;
        if (k->out_fd < 0 && left > REAP_POLL_MS)
            left = REAP_POLL_MS;
        if (left < 0)
            left = 0;
        if (left < *timeout_ms)
            *timeout_ms = (int)left;
        if (k->out_fd >= 0 && n < max)
            fds[n++] = (struct pollfd){ .fd = k->out_fd, .events = POLLIN };
    }
    return n;
}

/* The outcome of a program that ended with status (see the top of the file). */
static void outcome_of(const struct sender_config *c, struct child *k, int status,
                       struct provider_outcome *out)
{
    char said[300];
    text_safe_error(k->output, k->outlen, k->code, said, sizeof said);
    if (WIFEXITED(status)) {
        out->exit_code = WEXITSTATUS(status);
        if (out->exit_code == 0) {
            out->result = PROVIDER_SENT;
        } else {
            out->result = sender_status_in(c->exec_permanent_exit_codes,
                                           c->n_exec_permanent_exit_codes, out->exit_code)
                              ? PROVIDER_PERMANENT
                              : PROVIDER_RETRY;
            snprintf(out->error, sizeof out->error, "exit status %d%s%.200s", out->exit_code,
                     said[0] != '\0' ? ": " : "", said);
        }
    } else if (WIFSIGNALED(status)) {
        out->exit_code = -WTERMSIG(status);
        snprintf(out->error, sizeof out->error, "killed by signal %d%s%.200s", WTERMSIG(status),
                 said[0] != '\0' ? ": " : "", said);
    }
    crypto_wipe(said, sizeof said);
}

/* Read the programs' output, reap those that exited, kill those past their deadline. */
static void exec_collect(void *state, provider_done_fn *done, void *arg)
{
    struct exec_state *st = state;
    const struct sender_config *c = st->c;

    for (size_t i = 0; i < st->cap && st->busy > 0; i++) {
        struct child *k = &st->kids[i];
        struct provider_outcome out;
        int status = 0;

        if (k->pid == 0)
            continue;
        drain(k);
        pid_t got = waitpid(k->pid, &status, WNOHANG);
        if (got == 0 && stepup_now_ms() < k->deadline)
            continue; /* still running */
        provider_outcome_init(&out);
        if (got == 0) {
            kill(k->pid, SIGKILL);
            while (waitpid(k->pid, &status, 0) < 0 && errno == EINTR)
                ;
            out.exit_code = -SIGKILL;
            snprintf(out.error, sizeof out.error, "killed after %d ms (exec_timeout_ms)",
                     c->exec_timeout_ms);
        } else if (got < 0) {
            snprintf(out.error, sizeof out.error, "waitpid: %s", strerror(errno));
        } else {
            drain(k);
            outcome_of(c, k, status, &out);
        }
        if (k->out_fd >= 0)
            close(k->out_fd);
        void *tag = k->tag;
        crypto_wipe(k, sizeof *k);
        k->out_fd = -1; /* pid 0: free */
        st->busy--;
        done(arg, tag, &out);
    }
}

static size_t exec_under_way(const void *state)
{
    const struct exec_state *st = state;
    return st->busy;
}

const struct provider_ops provider_exec_ops = {
    .name = "exec", .open = exec_open, .start = exec_start, .watch = exec_watch,
    .collect = exec_collect, .under_way = exec_under_way, .close = exec_close,
};
