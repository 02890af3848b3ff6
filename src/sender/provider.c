/*
 * provider.c - the set of open providers and the choice per message.  See
 * provider.h.
 */
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
