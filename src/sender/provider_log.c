/*
 * provider_log.c - the log provider, for sandbox and development: it
 * records that a text would have gone out, to whom (masked) and which
 * message, and counts it as sent: it finishes in start, so it has
 * nothing under way, to watch or to collect.  Neither the text nor the
 * code is logged.
 */
#include <stdlib.h>

#include "../lib/log.h"
#include "provider.h"
#include "text.h"

/* The log provider has no state. */
static int log_open(const struct sender_config *c, void **state)
{
    (void)c;
    *state = NULL;
    return STEPUP_OK;
}

/* Log the masked number and the message id; always sent, at once. */
static enum provider_start log_start(void *state, const struct provider_message *m, void *tag,
                                     struct provider_outcome *out)
{
    char masked[32];
    (void)state;
    (void)tag;
    text_mask_number(m->to, masked, sizeof masked);
    log_msg(LOG_INFO, NULL, "log provider: would send to %s message %s", masked, m->id);
    out->result = PROVIDER_SENT;
    return PROVIDER_FINISHED;
}

/* Nothing to free. */
static void log_close(void *state)
{
    (void)state;
}

const struct provider_ops provider_log_ops = {
    .name = "log", .open = log_open, .start = log_start, .close = log_close,
};
