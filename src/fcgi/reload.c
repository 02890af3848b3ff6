/*
 * reload.c - the workers' settings and SIGHUP (see reload.h).
 */
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "reload.h"

int settings_store_init(struct settings_store *st, struct settings *running)
{
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0)
        return STEPUP_ERR;
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&st->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0)
        return STEPUP_ERR;
    st->running = running;
    st->current = running;
    return STEPUP_OK;
}

const struct settings *settings_store_acquire(struct settings_store *st)
{
    pthread_rwlock_rdlock(&st->lock);
    return st->current;
}

void settings_store_release(struct settings_store *st)
{
    pthread_rwlock_unlock(&st->lock);
}

static void free_copy(struct settings_store *st, struct settings *copy)
{
    if (copy != NULL && copy != st->running) {
        settings_free(copy);
        free(copy);
    }
}

int settings_store_reload(struct settings_store *st, const char *path, const char *why)
{
    char err[512];
    struct settings *fresh = malloc(sizeof *fresh);
    if (fresh == NULL) {
        log_msg(LOG_ERROR, NULL, "%s: out of memory; the settings stay as they were", why);
        return STEPUP_ERR;
    }
    settings_defaults(fresh);
    if (settings_load(fresh, path, err, sizeof err) != STEPUP_OK) {
        log_msg(LOG_ERROR, NULL, "%s: %s; the settings stay as they were", why, err);
        settings_free(fresh);
        free(fresh);
        return STEPUP_ERR;
    }
    char later[256];
    settings_restart_keys(st->running, fresh, later, sizeof later);

    pthread_rwlock_wrlock(&st->lock);
    struct settings *old = st->current;
    st->current = fresh;
    pthread_rwlock_unlock(&st->lock);
    free_copy(st, old);

    log_set_threshold(fresh->common.log_level);
    if (later[0] != '\0')
        log_msg(LOG_WARN, NULL, "%s: settings reloaded from %s, but %s keep their "
                "start-up values until a restart", why, path, later);
    else
        log_msg(LOG_INFO, NULL, "%s: settings reloaded from %s", why, path);
    return STEPUP_OK;
}

void settings_store_destroy(struct settings_store *st)
{
    free_copy(st, st->current);
    st->current = NULL;
    pthread_rwlock_destroy(&st->lock);
}
