/*
 * metrics.c - the shared counter table of GET /metrics.  See metrics.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/log.h"
#include "metrics.h"

#define METRICS_MAGIC "STEPUPMT"
#define METRICS_VERSION 1u

static const int statuses[] = METRICS_STATUSES;
#define NSTATUS (ARRAY_LEN(statuses) + 1) /* the last counts every other status */
static const double bounds[] = METRICS_BUCKETS;
#define NBUCKET (ARRAY_LEN(bounds) + 1) /* the last is +Inf */

/* One route's counters; the histogram's buckets are not cumulative here. */
struct slot {
    uint64_t status[NSTATUS];
    uint64_t bucket[NBUCKET];
    uint64_t sum_us;
};

/* The layout of the file (and of the memory table): a header, then the slots. */
struct table {
    char magic[8];
    uint32_t version;
    uint32_t nroutes;
    uint64_t size;
    uint64_t layout; /* fingerprint of the route names, statuses and buckets */
    uint64_t reconnects;
    struct slot slot[];
};

struct metrics {
    struct table *t;
    size_t size;
    int mapped; /* 1: a file's mapping (munmap), 0: memory (free) */
    const char *const *names;
    size_t nroutes;
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t layout_of(const char *const *names, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = fnv1a(h, names[i], strlen(names[i]) + 1);
    h = fnv1a(h, statuses, sizeof statuses);
    h = fnv1a(h, bounds, sizeof bounds);
    return h;
}

static void table_init(struct table *t, size_t size, size_t nroutes, uint64_t layout)
{
    memset(t, 0, size);
    memcpy(t->magic, METRICS_MAGIC, sizeof t->magic);
    t->version = METRICS_VERSION;
    t->nroutes = (uint32_t)nroutes;
    t->size = size;
    t->layout = layout;
}

/* A table in memory, initialised; NULL when out of memory. */
static struct table *table_new(size_t size, size_t nroutes, uint64_t layout)
{
    struct table *t = calloc(1, size);
    if (t != NULL)
        table_init(t, size, nroutes, layout);
    return t;
}

/* path followed by suffix into out; STEPUP_ERR (reason in err) when it is too long. */
static int path_with(char *out, size_t outlen, const char *path, const char *suffix, char *err,
                     size_t errlen)
{
    if (snprintf(out, outlen, "%s%s", path, suffix) < (int)outlen)
        return STEPUP_OK;
    snprintf(err, errlen, "metrics_file %s: path too long", path);
    return STEPUP_ERR;
}

/* Why the file on fd is not a table of this layout, or NULL when it is. */
static const char *table_mismatch(int fd, size_t size, size_t nroutes, uint64_t layout)
{
    struct stat st;
    struct table h;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != size)
        return "its size is not this program's";
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, METRICS_MAGIC, sizeof h.magic) != 0)
        return "it is no stepup metrics file";
    if (h.version != METRICS_VERSION)
        return "its version is not this program's";
    if (h.nroutes != nroutes || h.size != size || h.layout != layout)
        return "its routes, statuses or buckets are not this program's";
    return NULL;
}

/* A fresh table file at path, through a temporary file renamed over it: its fd, or -1. */
static int table_create(const char *path, size_t size, size_t nroutes, uint64_t layout,
                        char *err, size_t errlen)
{
    char tmp[4096];
    if (path_with(tmp, sizeof tmp, path, ".XXXXXX", err, errlen) != STEPUP_OK)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "metrics_file %s: cannot create %s: %s", path, tmp, strerror(errno));
        return -1;
    }
    struct table *t = table_new(size, nroutes, layout);
    int ok = t != NULL && pwrite(fd, t, size, 0) == (ssize_t)size && fchmod(fd, 0600) == 0 &&
             rename(tmp, path) == 0;
    if (!ok) {
        snprintf(err, errlen, "metrics_file %s: cannot write it: %s", path,
                 t == NULL ? "out of memory" : strerror(errno));
        unlink(tmp);
        close(fd);
        fd = -1;
    }
    free(t);
    return fd;
}

/* Open path as this layout's table (under its lock), replacing a mismatch: its fd or -1. */
static int table_open_file(const char *path, size_t size, size_t nroutes, uint64_t layout,
                           char *err, size_t errlen)
{
    char lock_path[4096];
    if (path_with(lock_path, sizeof lock_path, path, ".lock", err, errlen) != STEPUP_OK)
        return -1;
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        snprintf(err, errlen, "metrics_file %s: cannot lock %s: %s", path, lock_path,
                 strerror(errno));
        if (lock >= 0)
            close(lock);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        const char *why = table_mismatch(fd, size, nroutes, layout);
        if (why != NULL) {
            log_msg(LOG_WARN, NULL, "metrics_file %s: %s; replacing it with a fresh one "
                    "(processes still using the old one count where no scrape looks)", path, why);
            close(fd);
            fd = -1;
        }
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "metrics_file %s: cannot open it: %s", path, strerror(errno));
        close(lock);
        return -1;
    }
    if (fd < 0)
        fd = table_create(path, size, nroutes, layout, err, errlen);
    close(lock); /* and with it the flock */
    return fd;
}

struct metrics *metrics_open(const char *path, const char *const *names, size_t nroutes,
                             char *err, size_t errlen)
{
    if (nroutes == 0 || nroutes > METRICS_ROUTES_MAX) {
        snprintf(err, errlen, "metrics: %zu routes (1..%d)", nroutes, METRICS_ROUTES_MAX);
        return NULL;
    }
    struct metrics *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    m->names = names;
    m->nroutes = nroutes;
    m->size = sizeof(struct table) + nroutes * sizeof(struct slot);
    uint64_t layout = layout_of(names, nroutes);

    if (path == NULL || path[0] == '\0') {
        m->t = table_new(m->size, nroutes, layout);
        if (m->t == NULL) {
            snprintf(err, errlen, "metrics: out of memory");
            free(m);
            return NULL;
        }
        return m;
    }
    int fd = table_open_file(path, m->size, nroutes, layout, err, errlen);
    if (fd < 0) {
        free(m);
        return NULL;
    }
    void *p = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "metrics_file %s: cannot map it: %s", path, strerror(errno));
        free(m);
        return NULL;
    }
    m->t = p;
    m->mapped = 1;
    return m;
}

void metrics_close(struct metrics *m)
{
    if (m == NULL)
        return;
    if (m->mapped)
        munmap(m->t, m->size);
    else
        free(m->t);
    free(m);
}

static void add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_request(struct metrics *m, size_t route, int status, long long microseconds)
{
    if (m == NULL || route >= m->nroutes)
        return;
    struct slot *s = &m->t->slot[route];
    size_t i = 0;
    while (i < ARRAY_LEN(statuses) && statuses[i] != status)
        i++;
    add(&s->status[i], 1);
    if (microseconds < 0)
        microseconds = 0;
    size_t b = 0;
    while (b < ARRAY_LEN(bounds) && (double)microseconds > bounds[b] * 1e6)
        b++;
    add(&s->bucket[b], 1);
    add(&s->sum_us, (uint64_t)microseconds);
}

void metrics_reconnect(struct metrics *m)
{
    if (m != NULL)
        add(&m->t->reconnects, 1);
}

void metrics_label_value(FILE *out, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        switch (*p) {
        case '\\': fputs("\\\\", out); break;
        case '"': fputs("\\\"", out); break;
        case '\n': fputs("\\n", out); break;
        default: fputc(*p, out);
        }
    }
}

static void route_label(FILE *out, const struct metrics *m, size_t route)
{
    fputs("route=\"", out);
    metrics_label_value(out, m->names[route]);
    fputc('"', out);
}

int metrics_render(const struct metrics *m, FILE *out)
{
    fputs("# HELP stepup_http_requests_total Requests answered by stepup-fcgi, by route "
          "pattern and status.\n"
          "# TYPE stepup_http_requests_total counter\n", out);
    for (size_t r = 0; r < m->nroutes; r++) {
        for (size_t i = 0; i < NSTATUS; i++) {
            uint64_t n = get(&m->t->slot[r].status[i]);
            if (n == 0)
                continue;
            fputs("stepup_http_requests_total{", out);
            route_label(out, m, r);
            if (i < ARRAY_LEN(statuses))
                fprintf(out, ",status=\"%d\"} %llu\n", statuses[i], (unsigned long long)n);
            else
                fprintf(out, ",status=\"other\"} %llu\n", (unsigned long long)n);
        }
    }

    fputs("# HELP stepup_http_request_duration_seconds Time from reading a request to its "
          "answer, by route pattern.\n"
          "# TYPE stepup_http_request_duration_seconds histogram\n", out);
    for (size_t r = 0; r < m->nroutes; r++) {
        uint64_t bucket[NBUCKET], total = 0;
        for (size_t b = 0; b < NBUCKET; b++)
            total += bucket[b] = get(&m->t->slot[r].bucket[b]);
        if (total == 0)
            continue;
        uint64_t cumulative = 0;
        for (size_t b = 0; b < NBUCKET; b++) {
            cumulative += bucket[b];
            fputs("stepup_http_request_duration_seconds_bucket{", out);
            route_label(out, m, r);
            if (b < ARRAY_LEN(bounds))
                fprintf(out, ",le=\"%g\"} %llu\n", bounds[b], (unsigned long long)cumulative);
            else
                fprintf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
        fputs("stepup_http_request_duration_seconds_sum{", out);
        route_label(out, m, r);
        fprintf(out, "} %.6f\n", (double)get(&m->t->slot[r].sum_us) / 1e6);
        fputs("stepup_http_request_duration_seconds_count{", out);
        route_label(out, m, r);
        fprintf(out, "} %llu\n", (unsigned long long)total);
    }

    fprintf(out,
            "# HELP stepup_database_reconnects_total Database connections made again after one "
            "was lost or could not be made.\n"
            "# TYPE stepup_database_reconnects_total counter\n"
            "stepup_database_reconnects_total %llu\n",
            (unsigned long long)get(&m->t->reconnects));
    return ferror(out) ? STEPUP_ERR : STEPUP_OK;
}
