/*
 * api_metrics.c - GET /metrics: the Prometheus text exposition format.
 *
 * Only callers whose client address (client_addr.h: REMOTE_ADDR, or what
 * a trusted proxy forwards) is in metrics_allow may read it; others get
 * 403.  The answer holds the process series (metrics.h: requests,
 * latency, reconnects, added up across every process that shares the
 * metrics_file), stepup_database_up, and, when the database answered, the
 * figures of one call of stepup.api_metrics() (sql/functions/
 * 55_api_metrics.sql).  With the database away it is still 200, with
 * stepup_database_up 0 and no database series.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "client_addr.h"
#include "handlers.h"
#include "metrics.h"
#include "request.h"
#include "response.h"
#include "statements.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the rows of stepup.api_metrics() are, by their column metric. */
struct db_series {
    const char *metric;  /* the function's name of it */
    const char *name;    /* the series' */
    const char *type;
    const char *help;
    const char *label1;  /* the name of column label1's label */
    const char *label2;  /* of label2's, or NULL: none */
};

static const struct db_series db_series[] = {
    { "challenges_issued", "stepup_challenges_issued_total", "counter",
      "OTP challenges issued, by purpose (STEPUP, ENROLMENT).", "purpose", NULL },
    { "challenge_verifications", "stepup_challenge_verifications_total", "counter",
      "Codes offered to a challenge, by the outcome answered (OK, VERIFICATION_CODE_INVALID, ...).",
      "outcome", NULL },
    { "outbox_messages", "stepup_outbox_messages", "gauge",
      "SMS outbox messages waiting to be sent (PENDING) or being sent (SENDING).", "status", NULL },
    { "rate_limited", "stepup_rate_limited_total", "counter",
      "Requests refused with 429, by the limit that refused them.", "limit", NULL },
    { "sms_delivery_attempts", "stepup_sms_delivery_attempts_total", "counter",
      "SMS delivery attempts recorded by stepup-sender, by provider and outcome "
      "(SENT, RETRY, DEAD, PERMANENT, LOST).", "provider", "outcome" },
};

static const struct db_series *find_series(const char *metric)
{
    for (size_t i = 0; i < ARRAY_LEN(db_series); i++) {
        if (strcmp(db_series[i].metric, metric) == 0)
            return &db_series[i];
    }
    return NULL;
}

static void label(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%s=\"", name);
    metrics_label_value(out, value);
    fputc('"', out);
}

/* The rows of api_metrics, each series with its HELP and TYPE (also when it has no row). */
static void render_db(struct request *r, FILE *out, const db_result *res)
{
    for (size_t s = 0; s < ARRAY_LEN(db_series); s++) {
        const struct db_series *d = &db_series[s];
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
        for (int i = 0; i < db_rows(res); i++) {
            if (strcmp(db_get(res, i, "metric"), d->metric) != 0)
                continue;
            fprintf(out, "%s{", d->name);
            label(out, d->label1, db_get(res, i, "label1"));
            if (d->label2 != NULL) {
                fputc(',', out);
                label(out, d->label2, db_get(res, i, "label2"));
            }
            fprintf(out, "} %s\n", db_get(res, i, "value"));
        }
    }
    for (int i = 0; i < db_rows(res); i++) {
        if (find_series(db_get(res, i, "metric")) == NULL)
            log_msg(LOG_WARN, r->ref, "metrics: stepup.api_metrics() returned an unknown metric "
                    "'%s' (left out)", db_get(res, i, "metric"));
    }
}

/* The database's figures, or NULL when it cannot be reached or the call failed. */
static db_result *db_figures(struct request *r)
{
    struct db *db = r->worker->db;
    if (db_ensure(db, NULL, 0) != STEPUP_OK)
        return NULL;
    struct db_call call;
    db_call_init(&call, &stmt_metrics);
    return db_run(db, r->ref, &call);
}

void handle_metrics(struct request *r)
{
    if (!client_addr_in_list(r->client_addr, r->worker->settings->metrics_allow)) {
        reply_error(r, 403, "FORBIDDEN", "This address may not read the metrics", NULL);
        return;
    }

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) {
        reply_internal_error(r, "out of memory rendering the metrics");
        return;
    }
    db_result *res = db_figures(r);
    int ok = metrics_render(r->worker->metrics, out) == STEPUP_OK;
    fprintf(out, "# HELP stepup_database_up 1 when this process's database call of the scrape "
            "answered, else 0 (and no database series).\n"
            "# TYPE stepup_database_up gauge\nstepup_database_up %d\n", res != NULL);
    if (res != NULL)
        render_db(r, out, res);
    db_result_free(res);
    ok = ok && !ferror(out);
    if (fclose(out) != 0)
        ok = 0;
    if (ok)
        reply_text(r, 200, CONTENT_TYPE, text);
    else
        reply_internal_error(r, "cannot render the metrics");
    free(text);
}
