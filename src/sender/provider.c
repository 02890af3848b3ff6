/*
 * provider.c - the set of open providers and the choice per message.  See
 * provider.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "provider.h"

void provider_outcome_init(struct provider_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->result = PROVIDER_RETRY;
    out->http_status = -1;
    out->exit_code = -1;
}

/* Open one provider into slot. */
static int open_one(struct provider *slot, const struct provider_ops *ops,
                    const struct sender_config *c)
{
    void *state = NULL;
    if (ops->open(c, &state) != STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "cannot open the %s provider", ops->name);
        return STEPUP_ERR;
    }
    slot->ops = ops;
    slot->state = state;
    return STEPUP_OK;
}

int providers_open(struct providers *ps, const struct sender_config *c)
{
    memset(ps, 0, sizeof *ps);
    ps->default_name = c->provider;
    /* the extra descriptors of providers_wait, and one per send at most */
    ps->cap_fds = (size_t)c->sends_in_flight + PROVIDERS_EXTRA_FDS;
    ps->fds = calloc(ps->cap_fds, sizeof *ps->fds);
    if (ps->fds == NULL) {
        log_msg(LOG_ERROR, NULL, "out of memory");
        return STEPUP_ERR;
    }
    if (open_one(&ps->log, &provider_log_ops, c) != STEPUP_OK)
        goto failed;
    if (c->http_url[0] != '\0' && open_one(&ps->http, &provider_http_ops, c) != STEPUP_OK)
        goto failed;
    if (c->exec_program[0] != '\0' && open_one(&ps->exec, &provider_exec_ops, c) != STEPUP_OK)
        goto failed;
    return STEPUP_OK;

failed:
    providers_close(ps);
    return STEPUP_ERR;
}

/* Close one provider slot and mark it unconfigured. */
static void close_one(struct provider *p)
{
    if (p->ops != NULL)
        p->ops->close(p->state);
    p->ops = NULL;
    p->state = NULL;
}

void providers_close(struct providers *ps)
{
    close_one(&ps->exec);
    close_one(&ps->http);
    close_one(&ps->log);
    free(ps->fds);
    ps->fds = NULL;
    ps->cap_fds = 0;
}

/* The open providers, for the loops below. */
static size_t open_providers(struct providers *ps, struct provider *out[3])
{
    size_t n = 0;
    struct provider *all[] = { &ps->http, &ps->exec, &ps->log };
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        if (all[i]->ops != NULL)
            out[n++] = all[i];
    }
    return n;
}

size_t providers_under_way(const struct providers *ps)
{
    size_t n = 0;
    const struct provider *all[] = { &ps->http, &ps->exec, &ps->log };
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        if (all[i]->ops != NULL && all[i]->ops->under_way != NULL)
            n += all[i]->ops->under_way(all[i]->state);
    }
    return n;
}

void providers_drive(struct providers *ps)
{
    struct provider *open[3];
    size_t nopen = open_providers(ps, open);
    for (size_t i = 0; i < nopen; i++) {
        if (open[i]->ops->drive != NULL)
            open[i]->ops->drive(open[i]->state);
    }
}

void providers_wait(struct providers *ps, struct pollfd *extra, size_t n, int timeout_ms,
                    provider_done_fn *done, void *arg)
{
    struct provider *open[3];
    size_t nopen = open_providers(ps, open), nfds = 0;
    struct provider *waiter = NULL;

    if (n > PROVIDERS_EXTRA_FDS)
        n = PROVIDERS_EXTRA_FDS;
    memcpy(ps->fds, extra, n * sizeof *extra);
    nfds = n;
    for (size_t i = 0; i < nopen; i++) {
        const struct provider_ops *ops = open[i]->ops;
        if (ops->watch != NULL)
            nfds += ops->watch(open[i]->state, ps->fds + nfds, ps->cap_fds - nfds, &timeout_ms);
        if (ops->wait != NULL)
            waiter = open[i];
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    for (size_t i = 0; i < nfds; i++)
        ps->fds[i].revents = 0;
    if (waiter != NULL) {
        waiter->ops->wait(waiter->state, ps->fds, nfds, timeout_ms);
    } else if (poll(ps->fds, nfds, timeout_ms) < 0 && errno != EINTR) {
        log_msg(LOG_WARN, NULL, "poll: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        extra[i].revents = ps->fds[i].revents;
    for (size_t i = 0; i < nopen; i++) {
        if (open[i]->ops->collect != NULL)
            open[i]->ops->collect(open[i]->state, done, arg);
    }
}

struct provider *providers_pick(struct providers *ps, const char *name)
{
    struct provider *p = NULL;
    if (name == NULL || name[0] == '\0')
        name = ps->default_name;
    if (strcmp(name, "http") == 0)
        p = &ps->http;
    else if (strcmp(name, "exec") == 0)
        p = &ps->exec;
    else if (strcmp(name, "log") == 0)
        p = &ps->log;
    return p != NULL && p->ops != NULL ? p : NULL;
}
