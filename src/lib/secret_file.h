/*
 * secret_file.h - a file holding a secret (a configuration file with keys,
 * a private key) must be its owner's alone.
 *
 * The programs refuse to start (and a SIGHUP reload keeps the old
 * settings) when such a file grants its group or others any access: a key
 * that others could read is no longer a secret, and saying so at start-up
 * is cheaper than finding out from an incident.
 */
#ifndef STEPUP_SECRET_FILE_H
#define STEPUP_SECRET_FILE_H

#include <stddef.h>
#include "common.h"

/*
 * STEPUP_OK when the open file fd (named path) grants its group and others
 * nothing; else STEPUP_ERR with "PATH has mode 0644: group or others may
 * read its secrets; chmod 600 PATH" in err.
 */
int secret_file_check(int fd, const char *path, char *err, size_t errlen) WARN_UNUSED;

#endif
