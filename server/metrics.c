/*
 * metrics.c - request counters and the Prometheus text of GET /metrics.
 *
 * Counters are relaxed atomics in the server struct (no lock on the request path; a scrape may
 * see one counter a request ahead of another, which Prometheus tolerates). Per route: requests
 * by status and a latency histogram; for the service: documents served, 304s, document builds,
 * uploads, reports added, database errors, connects and "busy" refusals.
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int status_slots[] = {200, 201, 204, 304, 400, 401, 403, 404,
                                   405, 409, 413, 415, 422, 500, 503, 504};
#define NSLOTS (sizeof status_slots / sizeof status_slots[0])
_Static_assert(NSLOTS + 1 <= sizeof(((frs_route_metrics *)0)->by_status) / sizeof(uint64_t),
               "by_status too small");

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double bucket_le[FRS_LATENCY_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1,    2.5};

fr_err frs_metrics_init(frs_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->routes = calloc(frs_route_count() + 1, sizeof *m->routes);
    return m->routes ? FR_ERR_OK : FR_ERR_NOMEM;
}

void frs_metrics_cleanup(frs_metrics *m)
{
    free(m->routes);
    m->routes = NULL;
}

void frs_metrics_request(frs_metrics *m, size_t route_index, int status, uint64_t micros)
{
    if (!m->routes) return;
    frs_route_metrics *rm = &m->routes[route_index];
    size_t slot = NSLOTS;
    for (size_t i = 0; i < NSLOTS; i++)
        if (status_slots[i] == status) slot = i;
    atomic_fetch_add_explicit(&rm->by_status[slot], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < FRS_LATENCY_BUCKETS - 1 && (double)micros / 1e6 > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&rm->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->sum_us, micros, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* A growing text buffer with a cap (4 MiB); past it, failed is set and output stops. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} text;

static void out(text *t, const char *fmt, ...) FR_PRINTF(2, 3);
static void out(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) break;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        if (t->cap >= (4u << 20)) break;
        char *grown = realloc(t->buf, t->cap * 2);
        if (!grown) break;
        t->buf = grown;
        t->cap *= 2;
    }
    t->failed = true;
}

static void route_label(size_t i, char *buf, size_t len)
{
    const frs_route *rt = frs_route_at(i);
    if (rt)
        snprintf(buf, len, "%s %s", rt->method, rt->pattern);
    else
        snprintf(buf, len, "unmatched");
}

static void render_routes(text *t, frs_metrics *m)
{
    char label[96];
    out(t, "# HELP fastrun_http_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE fastrun_http_requests_total counter\n");
    for (size_t i = 0; i <= frs_route_count(); i++) {
        route_label(i, label, sizeof label);
        for (size_t s = 0; s <= NSLOTS; s++) {
            uint64_t n = get(&m->routes[i].by_status[s]);
            if (!n) continue;
            if (s < NSLOTS)
                out(t, "fastrun_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", label,
                    status_slots[s], (unsigned long long)n);
            else
                out(t, "fastrun_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", label,
                    (unsigned long long)n);
        }
    }
    out(t, "# HELP fastrun_http_request_duration_seconds Time from request to response queued.\n"
           "# TYPE fastrun_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= frs_route_count(); i++) {
        frs_route_metrics *rm = &m->routes[i];
        uint64_t count = get(&rm->count);
        if (!count) continue;
        route_label(i, label, sizeof label);
        uint64_t cum = 0;
        for (size_t b = 0; b < FRS_LATENCY_BUCKETS; b++) {
            cum += get(&rm->buckets[b]);
            if (b < FRS_LATENCY_BUCKETS - 1)
                out(t,
                    "fastrun_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    label, bucket_le[b], (unsigned long long)cum);
            else
                out(t,
                    "fastrun_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                    "%llu\n",
                    label, (unsigned long long)cum);
        }
        out(t, "fastrun_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", label,
            (double)get(&rm->sum_us) / 1e6);
        out(t, "fastrun_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
            (unsigned long long)count);
    }
}

static void counter(text *t, const char *name, const char *help, uint64_t v)
{
    out(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

fr_err frs_metrics_get(frs_req *r)
{
    frs_metrics *m = &r->srv->metrics;
    text t = {.buf = malloc(16384), .cap = 16384};
    if (!t.buf) return FR_ERR_NOMEM;
    render_routes(&t, m);
    counter(&t, "fastrun_cache_documents_served_total", "Cache documents sent (200).",
            get(&m->docs_served));
    counter(&t, "fastrun_cache_not_modified_total", "Downloads answered 304 Not Modified.",
            get(&m->not_modified));
    counter(&t, "fastrun_cache_document_builds_total",
            "Documents built from the database (once per change and policy).", get(&m->doc_builds));
    counter(&t, "fastrun_cache_revision_queries_total",
            "Revision checks run against PostgreSQL (concurrent downloads share one).",
            get(&m->revision_queries));
    out(&t,
        "# HELP fastrun_uploads_total Uploads to POST /v1/results, by outcome.\n"
        "# TYPE fastrun_uploads_total counter\n"
        "fastrun_uploads_total{outcome=\"stored\"} %llu\n"
        "fastrun_uploads_total{outcome=\"duplicate\"} %llu\n"
        "fastrun_uploads_total{outcome=\"rejected\"} %llu\n",
        (unsigned long long)get(&m->uploads_new), (unsigned long long)get(&m->uploads_duplicate),
        (unsigned long long)get(&m->uploads_rejected));
    counter(&t, "fastrun_reports_added_total", "Raw reports stored.", get(&m->reports_added));
    out(&t,
        "# HELP fastrun_db_errors_total Failed database operations, by kind.\n"
        "# TYPE fastrun_db_errors_total counter\n"
        "fastrun_db_errors_total{kind=\"unavailable\"} %llu\n"
        "fastrun_db_errors_total{kind=\"error\"} %llu\n"
        "fastrun_db_errors_total{kind=\"busy\"} %llu\n",
        (unsigned long long)get(&m->db_unavailable), (unsigned long long)get(&m->db_errors),
        (unsigned long long)get(&m->db_busy));
    counter(&t, "fastrun_db_connects_total", "Connection attempts to PostgreSQL.",
            get(&m->db_connects));
    if (t.failed) {
        free(t.buf);
        return fr_diag_set(&r->diag, FR_ERR_NOMEM, "metrics text exceeds 4 MiB");
    }
    frs_reply_data(r, 200, "text/plain; version=0.0.4", t.buf, t.len, free, t.buf);
    return FR_ERR_OK;
}
