/*
 * reload.h - the settings the workers read, and SIGHUP reloading them.
 *
 * main() owns one store.  A worker acquires the current settings when a
 * request arrives and releases them when it has answered, so each request
 * sees one consistent copy; a reload parses the file into a fresh copy and,
 * only when it parsed, swaps it in once no request holds the old one (a
 * writer-preferring read-write lock, so a reload never waits behind a
 * stream of new requests).  Keys that shape the process (workers, sockets,
 * database connections, the log target) keep their start-up values until
 * a restart, and a reload that changes them says so in the log.
 */
#ifndef STEPUP_FCGI_RELOAD_H
#define STEPUP_FCGI_RELOAD_H

#include <pthread.h>
#include "settings.h"

struct settings_store {
    pthread_rwlock_t lock;
    const struct settings *running; /* the start-up copy, owned by main() */
    struct settings *current;       /* what requests see: running, or a reload */
};

/* Start with the settings main() loaded (it keeps owning them). */
int settings_store_init(struct settings_store *st, struct settings *running) WARN_UNUSED;

/* The current settings, held until settings_store_release(). */
const struct settings *settings_store_acquire(struct settings_store *st);
void settings_store_release(struct settings_store *st);

/*
 * Parse path into a fresh copy; when it parsed, swap it in (and set the
 * log threshold), else keep the current one.  Logs either way, each line
 * starting with why ("SIGHUP").  STEPUP_OK when the new settings are in
 * force.
 */
int settings_store_reload(struct settings_store *st, const char *path, const char *why);

/* Free a reloaded copy (not main()'s) and the lock; no worker may run. */
void settings_store_destroy(struct settings_store *st);

#endif
