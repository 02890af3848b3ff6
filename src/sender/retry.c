/*
 * retry.c - attempt status and back-off.  See retry.h.
 */
#include <openssl/rand.h>

#include "retry.h"

const char *attempt_status_name(enum attempt_status s)
{
    switch (s) {
    case ATTEMPT_SENT: return "SENT";
    case ATTEMPT_RETRY: return "RETRY";
    case ATTEMPT_DEAD: return "DEAD";
    case ATTEMPT_PERMANENT: return "PERMANENT";
    }
    return "RETRY";
}

enum attempt_status retry_decide(enum provider_result r, int attempt, int max_attempts)
{
    switch (r) {
    case PROVIDER_SENT: return ATTEMPT_SENT;
    case PROVIDER_PERMANENT: return ATTEMPT_PERMANENT;
    case PROVIDER_RETRY: break;
    }
    return attempt < max_attempts ? ATTEMPT_RETRY : ATTEMPT_DEAD;
}

int retry_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t rnd)
{
    long long d = base_ms > 0 ? base_ms : 1;
    if (max_ms < 1)
        max_ms = 1;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    long long half = d / 2;
    /* d - half + 1 values: [half, d] */
    return (int)(half + (long long)(rnd % (uint32_t)(d - half + 1)));
}

int retry_random(uint32_t *out)
{
    unsigned char b[4];
    if (RAND_bytes(b, sizeof b) != 1)
        return STEPUP_ERR;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return STEPUP_OK;
}
