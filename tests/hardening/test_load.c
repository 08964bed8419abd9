/*
 * test_load.c - many concurrent clients against one fastrun-server for a fixed time, mixing
 * cache downloads, uploads, job polls and category listings (loopback only; every client stops
 * at the deadline). Shows: no 5xx and no failed connection, the p50/p99 latency of each kind of
 * request, and the server's memory before and after (resident set, from /proc).
 *
 * Size: $FASTRUN_LOAD_CLIENTS clients for $FASTRUN_LOAD_SECONDS seconds; 50 for 10 s in the
 * test suite, 200 for 60 s in scripts/reliability.sh (RELIABILITY.md records that run).
 */
#include "hx.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { KINDS = 4, MAX_SAMPLES = 2000000 };
static const char *const kind_names[KINDS] = {"download", "upload", "job poll", "categories"};

static hx h;
static char cache_path[128], job_path[64];
static double deadline;
static atomic_long next_upload, status_5xx, status_0, status_4xx, count[KINDS];
static float *samples[KINDS]; /* latencies in ms, appended under atomics */
static atomic_long nsamples[KINDS];
static pthread_mutex_t example_mu = PTHREAD_MUTEX_INITIALIZER;
static char bad_example[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *cls)
{
    (void)p, (void)cls;
    return size * n;
}

static void *client(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    CURL *c = curl_easy_init(); /* one handle per client: a kept-alive connection */
    char url[256], body[2048], auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", h.worker);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    while (now_s() < deadline) {
        seed = seed * 1103515245u + 12345u;
        unsigned pick = (seed >> 16) % 10;
        int kind = pick < 5 ? 0 : pick < 7 ? 1 : pick < 9 ? 2 : 3;
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        if (kind == 0) {
            snprintf(url, sizeof url, "%s%s", h.srv.url, cache_path);
        } else if (kind == 1) {
            long n = atomic_fetch_add(&next_upload, 1);
            snprintf(url, sizeof url, "%s/v1/results", h.srv.url);
            snprintf(body, sizeof body,
                     "{\"provenance\":{\"source\":\"worker\",\"host\":\"load\",\"time\":"
                     "\"2026-03-04T05:06:07Z\",\"upload_id\":\"load-%ld\"},\"fingerprint\":"
                     "{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"load\",\"isa\":\"avx2\","
                     "\"threads\":1,\"blas\":\"b\",\"blas_core\":\"c\"},\"entries\":[{\"key\":"
                     "\"matmul batch=1 m=%ld n=16 k=16 f32 wp=0\",\"results\":[{\"algorithm\":"
                     "\"matmul.blas\",\"attributes\":[],\"workspace\":0,\"median_ms\":1.%ld,"
                     "\"min_ms\":1,\"samples\":5}]}]}",
                     n, 1 + n % 64, 1 + n % 9);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        } else if (kind == 2) {
            snprintf(url, sizeof url, "%s%s", h.srv.url, job_path);
        } else {
            snprintf(url, sizeof url, "%s/v1/categories", h.srv.url);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        double t0 = now_s();
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        float ms = (float)((now_s() - t0) * 1000);
        atomic_fetch_add(&count[kind], 1);
        long at = atomic_fetch_add(&nsamples[kind], 1);
        if (at < MAX_SAMPLES) samples[kind][at] = ms;
        if (status >= 200 && status < 400) continue;
        if (status == 0)
            atomic_fetch_add(&status_0, 1);
        else if (status >= 500)
            atomic_fetch_add(&status_5xx, 1);
        else
            atomic_fetch_add(&status_4xx, 1);
        pthread_mutex_lock(&example_mu);
        snprintf(bad_example, sizeof bad_example, "%s %s -> %ld", kind_names[kind], url, status);
        pthread_mutex_unlock(&example_mu);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return NULL;
}

/* VmRSS of pid in KiB. */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double percentile(float *v, long n, double p)
{
    if (n <= 0) return 0;
    long i = (long)(p * (double)(n - 1));
    return v[i];
}

static void teardown(void)
{
    hx_stop(&h);
}

TestSuite(load, .fini = teardown, .timeout = 600);

/* Runs every client for seconds; returns the wall time. */
static double run_clients(int clients, double seconds)
{
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    cr_assert(th);
    double t0 = now_s();
    deadline = t0 + seconds;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    for (int i = 0; i < clients; i++)
        cr_assert_eq(pthread_create(&th[i], &attr, client, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    pthread_attr_destroy(&attr);
    free(th);
    return now_s() - t0;
}

Test(load, mixed_clients)
{
    const char *ce = getenv("FASTRUN_LOAD_CLIENTS"), *se = getenv("FASTRUN_LOAD_SECONDS");
    int clients = ce ? (int)strtol(ce, NULL, 10) : 50;
    double seconds = se ? strtod(se, NULL) : 10;
    cr_assert(clients > 0 && clients <= 1000 && seconds > 0 && seconds <= 600);
    curl_global_init(CURL_GLOBAL_ALL);
    const char *extra[] = {"--max-connections", "512", NULL};
    cr_assert_eq(hx_start(&h, extra), 0);

    /* Something to download and a job to poll. */
    const char *seed = "{\"provenance\":{\"source\":\"worker\",\"host\":\"load\",\"time\":"
                       "\"2026-03-04T05:06:07Z\"},\"fingerprint\":{\"format_version\":1,"
                       "\"kernel_set\":1,\"cpu\":\"load\",\"isa\":\"avx2\",\"threads\":1,"
                       "\"blas\":\"b\",\"blas_core\":\"c\"},\"entries\":[{\"key\":\"matmul "
                       "batch=1 m=1 n=16 k=16 f32 wp=0\",\"results\":[{\"algorithm\":"
                       "\"matmul.blas\",\"attributes\":[],\"workspace\":0,\"median_ms\":1,"
                       "\"min_ms\":1,\"samples\":5}]}]}";
    frt_resp r = hx_req(&h, "POST", "/v1/results", h.worker, seed, strlen(seed));
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    snprintf(cache_path, sizeof cache_path, "/v1/cache?category=%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(j, "categories"), 0), "id")));
    json_decref(j);
    frt_resp_free(&r);
    const char *model = "{\"name\":\"load\",\"operators\":[{\"name\":\"fc\",\"op\":\"matmul\","
                        "\"batch\":1,\"m\":8,\"n\":8,\"k\":8}]}";
    r = hx_req(&h, "POST", "/v1/jobs?target=nobody-here", h.submitter, model, strlen(model));
    cr_assert_eq(r.status, 201, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    snprintf(job_path, sizeof job_path, "/v1/jobs/%lld",
             (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    frt_resp_free(&r);

    for (int k = 0; k < KINDS; k++) {
        samples[k] = malloc(sizeof(float) * MAX_SAMPLES);
        cr_assert(samples[k]);
    }
    /* Warm-up (connections, threads, the document cache), then the measured run. */
    run_clients(clients, seconds < 10 ? 1 : 3);
    long rss_before = rss_kib(h.srv.proc.pid);
    for (int k = 0; k < KINDS; k++)
        atomic_store(&nsamples[k], 0), atomic_store(&count[k], 0);
    atomic_store(&status_5xx, 0), atomic_store(&status_0, 0), atomic_store(&status_4xx, 0);
    double wall = run_clients(clients, seconds);
    long rss_after = rss_kib(h.srv.proc.pid);

    long total = 0;
    char line[1024];
    size_t used = 0;
    for (int k = 0; k < KINDS; k++) {
        long n = atomic_load(&nsamples[k]) < MAX_SAMPLES ? atomic_load(&nsamples[k]) : MAX_SAMPLES;
        qsort(samples[k], (size_t)n, sizeof(float), cmp_float);
        total += atomic_load(&count[k]);
        used += (size_t)snprintf(line + used, sizeof line - used,
                                 "%s%s %ld (p50 %.1f ms, p99 "
                                 "%.1f ms, max %.0f ms)",
                                 k ? "; " : "", kind_names[k], atomic_load(&count[k]),
                                 percentile(samples[k], n, 0.5), percentile(samples[k], n, 0.99),
                                 percentile(samples[k], n, 1));
        free(samples[k]);
    }
    cr_log_info("load: %d clients for %.0f s: %ld requests (%.0f/s), %ld 5xx, %ld failed "
                "connections, %ld 4xx; %s; server RSS %ld KiB after warm-up, %ld KiB at the end",
                clients, wall, total, (double)total / wall, atomic_load(&status_5xx),
                atomic_load(&status_0), atomic_load(&status_4xx), line, rss_before, rss_after);
    cr_assert_eq(atomic_load(&status_5xx), 0, "5xx answers, e.g. %s", bad_example);
    cr_assert_eq(atomic_load(&status_0), 0, "failed connections, e.g. %s", bad_example);
    cr_assert_eq(atomic_load(&status_4xx), 0, "4xx answers, e.g. %s", bad_example);
    cr_assert_gt(total, 0);
    /* Flat: the measured run adds at most 64 MiB over the warmed-up server (the document cache
     * and the connection threads are already there after the warm-up). */
    cr_assert_lt(rss_after - rss_before, 64 * 1024, "server RSS grew from %ld to %ld KiB",
                 rss_before, rss_after);
}
