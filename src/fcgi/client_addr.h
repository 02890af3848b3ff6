/*
 * client_addr.h - which address a request comes from.
 *
 * The address the limits count and the database records is the FastCGI
 * REMOTE_ADDR, or, only when that peer is listed in the trusted_proxies
 * setting, the address it forwards in X-Forwarded-For: walking the header
 * from its right end, the first hop that is not itself a trusted proxy.
 * A hop may carry a port ("192.0.2.1:4711", "[2001:db8::1]:443"); a hop
 * that is not an address ends the walk at the proxy that sent it.
 * trusted_proxies is a list of addresses and networks (CIDR), separated
 * by commas or blanks: "127.0.0.1, 10.0.0.0/8, ::1".
 */
#ifndef STEPUP_CLIENT_ADDR_H
#define STEPUP_CLIENT_ADDR_H

#include <stddef.h>
#include "../lib/common.h"

/* Long enough for any IPv6 address in text. */
#define CLIENT_ADDR_MAX 46

/*
 * STEPUP_OK when every item of list is an address or network, else a
 * reason in err that names the setting key.
 */
int client_addr_check_list(const char *key, const char *list, char *err,
                           size_t errlen) WARN_UNUSED;

/*
 * Whether addr (a client address as client_addr_find writes it; "" is
 * none) is one of the addresses or in one of the networks of list, in the
 * form client_addr_check_list accepts (metrics_allow).
 */
int client_addr_in_list(const char *addr, const char *list);

/*
 * The client address into out (CLIENT_ADDR_MAX bytes), normalised; "" when
 * REMOTE_ADDR (remote, may be NULL) is no IP address (a unix socket peer).
 * forwarded is the X-Forwarded-For header (may be NULL), trusted the
 * setting (may be NULL or empty: no proxy is trusted).
 */
void client_addr_find(const char *remote, const char *forwarded, const char *trusted,
                      char out[CLIENT_ADDR_MAX]);

#endif
