/*
 * client_addr.c - the client address of a request.  See client_addr.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_addr.h"

#define SEPARATORS ", \t"

/* An address in network order: family AF_INET (4 bytes) or AF_INET6 (16). */
struct ip {
    int family;
    unsigned char bytes[16];
};

/* Parse the n bytes at text as an address (IPv4-mapped IPv6 as IPv4). */
static int ip_parse(const char *text, size_t n, struct ip *ip)
{
    char buf[CLIENT_ADDR_MAX];
    if (n == 0 || n >= sizeof buf)
        return STEPUP_ERR;
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, ip->bytes) == 1) {
        ip->family = AF_INET;
        return STEPUP_OK;
    }
    if (inet_pton(AF_INET6, buf, ip->bytes) != 1)
        return STEPUP_ERR;
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(ip->bytes, mapped, sizeof mapped) == 0) {
        memmove(ip->bytes, ip->bytes + 12, 4);
        ip->family = AF_INET;
    } else {
        ip->family = AF_INET6;
    }
    return STEPUP_OK;
}

/*
 * A hop of X-Forwarded-For: an address, also with a port as some proxies
 * write it ("192.0.2.1:4711", "[2001:db8::1]:443").
 */
static int hop_parse(const char *text, size_t n, struct ip *ip)
{
    if (n > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', n);
        size_t rest = close != NULL ? n - (size_t)(close - text) - 1 : 0;
        if (close == NULL || (rest > 0 && (close[1] != ':' || rest == 1 ||
                                           strspn(close + 2, "0123456789") < rest - 1)))
            return STEPUP_ERR;
        return ip_parse(text + 1, (size_t)(close - text) - 1, ip);
    }
    const char *colon = memchr(text, ':', n);
    if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - text) - 1) == NULL) {
        size_t port = n - (size_t)(colon - text) - 1; /* one colon: IPv4 and a port */
        if (port == 0 || strspn(colon + 1, "0123456789") < port)
            return STEPUP_ERR;
        return ip_parse(text, (size_t)(colon - text), ip);
    }
    return ip_parse(text, n, ip);
}

/* A network "ADDR" or "ADDR/BITS" of n bytes: its address and prefix length. */
static int net_parse(const char *text, size_t n, struct ip *net, int *bits)
{
    const char *slash = memchr(text, '/', n);
    size_t alen = slash != NULL ? (size_t)(slash - text) : n;
    if (ip_parse(text, alen, net) != STEPUP_OK)
        return STEPUP_ERR;
    int max = net->family == AF_INET ? 32 : 128;
    *bits = max;
    if (slash != NULL) {
        size_t blen = n - alen - 1;
        if (blen == 0 || blen > 3 || strspn(slash + 1, "0123456789") < blen)
            return STEPUP_ERR;
        *bits = atoi(slash + 1);
        if (*bits > max)
            return STEPUP_ERR;
    }
    return STEPUP_OK;
}

static int net_contains(const struct ip *net, int bits, const struct ip *ip)
{
    if (net->family != ip->family)
        return 0;
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(net->bytes, ip->bytes, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->bytes[whole] & mask) == (ip->bytes[whole] & mask);
}

/* Whether ip is in one of the networks of list. */
static int is_trusted(const char *list, const struct ip *ip)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        p += strspn(p, SEPARATORS);
        size_t n = strcspn(p, SEPARATORS);
        struct ip net;
        int bits;
        if (n > 0 && net_parse(p, n, &net, &bits) == STEPUP_OK && net_contains(&net, bits, ip))
            return 1;
        p += n;
    }
    return 0;
}

int client_addr_check_list(const char *key, const char *list, char *err, size_t errlen)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        p += strspn(p, SEPARATORS);
        size_t n = strcspn(p, SEPARATORS);
        struct ip net;
        int bits;
        if (n > 0 && net_parse(p, n, &net, &bits) != STEPUP_OK) {
            snprintf(err, errlen, "%s: '%.*s' is not an IP address or network (ADDR/BITS)", key,
                     (int)(n > 64 ? 64 : n), p);
            return STEPUP_ERR;
        }
        p += n;
    }
    return STEPUP_OK;
}

int client_addr_in_list(const char *addr, const char *list)
{
    struct ip ip;
    return addr != NULL && ip_parse(addr, strlen(addr), &ip) == STEPUP_OK && is_trusted(list, &ip);
}

static void ip_format(const struct ip *ip, char out[CLIENT_ADDR_MAX])
{
    if (inet_ntop(ip->family, ip->bytes, out, CLIENT_ADDR_MAX) == NULL)
        out[0] = '\0';
}

void client_addr_find(const char *remote, const char *forwarded, const char *trusted,
                      char out[CLIENT_ADDR_MAX])
{
    struct ip addr;

    out[0] = '\0';
    if (remote == NULL || ip_parse(remote, strlen(remote), &addr) != STEPUP_OK)
        return;
    /* From the right end of X-Forwarded-For, while the hop we stand at is trusted. */
    size_t end = forwarded != NULL ? strlen(forwarded) : 0;
    while (end > 0 && is_trusted(trusted, &addr)) {
        while (end > 0 && strchr(SEPARATORS, forwarded[end - 1]) != NULL)
            end--;
        size_t start = end;
        while (start > 0 && forwarded[start - 1] != ',')
            start--;
        size_t lead = strspn(forwarded + start, " \t");
        struct ip hop;
        if (end <= start + lead || hop_parse(forwarded + start + lead, end - start - lead, &hop) !=
                                       STEPUP_OK)
            break; /* not an address: the proxy that sent it is the client we know */
        addr = hop;
        end = start;
    }
    ip_format(&addr, out);
}
