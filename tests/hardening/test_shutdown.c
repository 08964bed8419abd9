/*
 * test_shutdown.c - fastrun-server stopped with SIGTERM while many clients are busy with it:
 * cache downloads, uploads, long-poll claims with heartbeats on the jobs they got, and job
 * submissions, all at once. Repeated $FASTRUN_SHUTDOWN_ROUNDS times (5 unless set), each round
 * on a fresh server over the same database, the signal at a different moment of the load.
 *
 * Each round shows what a user would see: the server exits by itself with status 0 (no
 * signal, no crash, no sanitizer report in its log: under the ASan build a use after free
 * during shutdown is a report and a non-zero status), nothing is answered 5xx before the
 * signal, and nothing acknowledged is lost: every upload answered 201 is in the database, and
 * every claim answered 200 is recorded on its job (the attempt it handed out).
 */
#include "hx.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

enum { DOWNLOADERS = 4, UPLOADERS = 4, CLAIMERS = 3, SUBMITTERS = 1, MAX_ACKS = 20000 };
enum { CLIENTS = DOWNLOADERS + UPLOADERS + CLAIMERS + SUBMITTERS };

static const char fingerprint[] =
    "{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"shutdown\",\"isa\":\"avx2\",\"threads\":1,"
    "\"blas\":\"b\",\"blas_core\":\"c\"}";

static hx h;
static int round_no;
static char cache_path[128];
static long long worker_ids[CLAIMERS];
static atomic_bool signalled, done;
static atomic_long early_5xx, requests;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char acked_uploads[MAX_ACKS][40], first_5xx[256];
static long nacked_uploads;
static struct {
    long long job, attempt;
} acked_claims[MAX_ACKS];
static long nacked_claims;

static void teardown(void)
{
    hx_stop(&h);
}

TestSuite(shutdown, .fini = teardown, .timeout = 240);

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One request; counts it, and a 5xx answered before the signal was sent. */
static frt_resp request(const char *method, const char *path, const char *token, const char *body)
{
    bool before = !atomic_load(&signalled);
    frt_resp r = hx_req(&h, method, path, token, body, body ? strlen(body) : 0);
    atomic_fetch_add(&requests, 1);
    if (r.status >= 500 && before && !atomic_load(&signalled)) {
        atomic_fetch_add(&early_5xx, 1);
        pthread_mutex_lock(&mu);
        snprintf(first_5xx, sizeof first_5xx, "%s %s -> %ld %.120s", method, path, r.status,
                 r.body ? r.body : "");
        pthread_mutex_unlock(&mu);
    }
    return r;
}

/* Whether a client should stop: the server is gone once the signal was sent. */
static bool finished(const frt_resp *r)
{
    return atomic_load(&done) || (atomic_load(&signalled) && r->status == 0);
}

static void download(void)
{
    frt_resp r = request("GET", cache_path, h.reader, NULL);
    bool stop = finished(&r);
    frt_resp_free(&r);
    if (stop) atomic_store(&done, true);
}

static void upload(long n)
{
    char id[40], body[1024];
    snprintf(id, sizeof id, "stop-%d-%ld", round_no, n);
    snprintf(body, sizeof body,
             "{\"provenance\":{\"source\":\"worker\",\"host\":\"shutdown\",\"time\":"
             "\"2026-03-04T05:06:07Z\",\"upload_id\":\"%s\"},\"fingerprint\":%s,\"entries\":"
             "[{\"key\":\"matmul batch=1 m=%ld n=16 k=16 f32 wp=0\",\"results\":[{\"algorithm\":"
             "\"matmul.blas\",\"attributes\":[],\"workspace\":0,\"median_ms\":1.5,\"min_ms\":1,"
             "\"samples\":5}]}]}",
             id, fingerprint, 1 + (n < 0 ? 0 : n % 32));
    frt_resp r = request("POST", "/v1/results", h.worker, body);
    if (r.status == 201) {
        pthread_mutex_lock(&mu);
        if (nacked_uploads < MAX_ACKS) snprintf(acked_uploads[nacked_uploads++], 40, "%s", id);
        pthread_mutex_unlock(&mu);
    }
    frt_resp_free(&r);
}

/* A long-poll claim; on a job, a few heartbeats for it. */
static void claim(int k)
{
    char path[96], body[128];
    snprintf(path, sizeof path, "/v1/workers/%lld/claim?wait=3", worker_ids[k]);
    frt_resp r = request("POST", path, h.worker, NULL);
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    frt_resp_free(&r);
    if (!j) return;
    long long job = json_integer_value(json_object_get(j, "id"));
    long long attempt = json_integer_value(json_object_get(j, "attempt"));
    json_decref(j);
    pthread_mutex_lock(&mu);
    if (nacked_claims < MAX_ACKS) {
        acked_claims[nacked_claims].job = job;
        acked_claims[nacked_claims++].attempt = attempt;
    }
    pthread_mutex_unlock(&mu);
    snprintf(path, sizeof path, "/v1/jobs/%lld/heartbeat", job);
    snprintf(body, sizeof body, "{\"worker_id\":%lld,\"attempt\":%lld}", worker_ids[k], attempt);
    for (int i = 0; i < 3 && !atomic_load(&done); i++) {
        r = request("POST", path, h.worker, body);
        frt_resp_free(&r);
    }
}

static void submit(void)
{
    const char *model = "{\"name\":\"stop\",\"operators\":[{\"name\":\"fc\",\"op\":\"matmul\","
                        "\"batch\":1,\"m\":8,\"n\":8,\"k\":8}]}";
    frt_resp r = request("POST", "/v1/jobs?target=stop", h.submitter, model);
    frt_resp_free(&r);
    sleep_ms(20);
}

static void *client(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (long n = 0; !atomic_load(&done); n++) {
        if (i < DOWNLOADERS)
            download();
        else if (i < DOWNLOADERS + UPLOADERS)
            upload(n * UPLOADERS + (i - DOWNLOADERS));
        else if (i < DOWNLOADERS + UPLOADERS + CLAIMERS)
            claim(i - DOWNLOADERS - UPLOADERS);
        else
            submit();
    }
    return NULL;
}

/* What the server's log must never hold. */
static const char *sanitizer_report(const char *log)
{
    static const char *const marks[] = {"AddressSanitizer", "LeakSanitizer",
                                        "runtime error:",   "still running after stop",
                                        "still borrowed",   NULL};
    for (size_t i = 0; log && marks[i]; i++)
        if (strstr(log, marks[i])) return marks[i];
    return NULL;
}

/* Runs a count(*) over a list built by item(i) for i in [from, to); returns the count. */
static long count_listed(const char *head, const char *tail, long from, long to,
                         int (*item)(char *, size_t, long))
{
    size_t len = (size_t)(to - from + 1) * 64 + strlen(head) + strlen(tail) + 1, used;
    char *sql = malloc(len), count[32] = "";
    cr_assert(sql);
    used = (size_t)snprintf(sql, len, "%s", head);
    for (long i = from; i < to; i++) {
        if (i > from) used += (size_t)snprintf(sql + used, len - used, ",");
        used += (size_t)item(sql + used, len - used, i);
    }
    snprintf(sql + used, len - used, "%s", tail);
    cr_assert_eq(frt_pg_sql(h.conninfo, sql, count, sizeof count), 0, "%.200s", sql);
    free(sql);
    return strtol(count, NULL, 10);
}

static int upload_item(char *out, size_t len, long i)
{
    return snprintf(out, len, "'id:%s'", acked_uploads[i]);
}

static int claim_item(char *out, size_t len, long i)
{
    return snprintf(out, len, "(%lld,%lld)", acked_claims[i].job, acked_claims[i].attempt);
}

/* Every upload and claim acknowledged from the given indexes on is in the database. */
static void check_nothing_lost(long uploads_from, long claims_from)
{
    if (nacked_uploads > uploads_from) {
        long n = count_listed("SELECT count(*) FROM uploads WHERE upload_key IN (", ")",
                              uploads_from, nacked_uploads, upload_item);
        cr_expect_eq(n, nacked_uploads - uploads_from, "%ld of %ld acknowledged uploads stored", n,
                     nacked_uploads - uploads_from);
    }
    if (nacked_claims > claims_from) {
        /* A claim is recorded when its job's attempt counter reached the attempt handed out. */
        long n = count_listed("SELECT count(*) FROM jobs j JOIN (VALUES ",
                              ") v(id, attempt) ON j.id = v.id AND j.attempt >= v.attempt",
                              claims_from, nacked_claims, claim_item);
        cr_expect_eq(n, nacked_claims - claims_from, "%ld of %ld acknowledged claims recorded", n,
                     nacked_claims - claims_from);
    }
}

/* Something to download and the workers that claim. */
static void prepare(void)
{
    char body[1024];
    upload(-1);
    cr_assert_eq(nacked_uploads, 1, "the first upload was refused");
    frt_resp r = hx_req(&h, "GET", "/v1/categories", h.reader, NULL, 0);
    json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
    const char *cat = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "categories"), 0), "id"));
    cr_assert(cat, "GET /v1/categories: %ld %s", r.status, r.body);
    snprintf(cache_path, sizeof cache_path, "/v1/cache?category=%s", cat);
    json_decref(j);
    frt_resp_free(&r);
    for (int k = 0; k < CLAIMERS; k++) {
        snprintf(
            body, sizeof body,
            "{\"name\":\"stop-%d\",\"host\":\"shutdown\",\"pool\":\"stop\",\"fingerprint\":%s}", k,
            fingerprint);
        r = hx_req(&h, "POST", "/v1/workers", h.worker, body, strlen(body));
        cr_assert_eq(r.status, 201, "%s", r.body);
        j = json_loads(r.body, 0, NULL);
        worker_ids[k] = json_integer_value(json_object_get(j, "id"));
        json_decref(j);
        frt_resp_free(&r);
    }
}

Test(shutdown, sigterm_under_load_exits_cleanly_and_loses_nothing)
{
    const char *re = getenv("FASTRUN_SHUTDOWN_ROUNDS");
    int rounds = re ? (int)strtol(re, NULL, 10) : 5;
    cr_assert(rounds >= 1 && rounds <= 1000);
    curl_global_init(CURL_GLOBAL_ALL);
    cr_assert_eq(hx_start(&h, NULL), 0);
    prepare();
    long total = 0, slowest_stop_ms = 0;
    for (round_no = 0; round_no < rounds; round_no++) {
        if (round_no > 0) cr_assert_eq(frt_server_start(&h.srv, h.conninfo, NULL), 0);
        atomic_store(&signalled, false);
        atomic_store(&done, false);
        atomic_store(&requests, 0);
        long uploads_from = round_no ? nacked_uploads : 0, claims_from = nacked_claims;
        pthread_t th[CLIENTS];
        for (int i = 0; i < CLIENTS; i++)
            cr_assert_eq(pthread_create(&th[i], NULL, client, (void *)(intptr_t)i), 0);
        /* The signal once every kind of client is under way (however slow the machine), then
         * at a different point of the load each round. */
        for (int waited = 0; atomic_load(&requests) < 4 * CLIENTS && waited < 15000; waited += 10)
            sleep_ms(10);
        sleep_ms(97 * round_no % 400);
        long before = atomic_load(&requests);
        atomic_store(&signalled, true);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int st = frt_stop(&h.srv.proc, SIGTERM, false, 20000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > slowest_stop_ms) slowest_stop_ms = ms;
        atomic_store(&done, true);
        for (int i = 0; i < CLIENTS; i++)
            pthread_join(th[i], NULL);
        char *log = frt_read_file(h.srv.log, NULL);
        const char *report = sanitizer_report(log);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "round %d: the server ended with %s %d; log:\n%s", round_no,
                  WIFSIGNALED(st) ? "signal" : "status",
                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), log ? log : "");
        cr_expect_null(report, "round %d: the server's log holds '%s':\n%s", round_no, report,
                       log ? log : "");
        free(log);
        frt_rmtree(h.srv.dir);
        h.srv.dir[0] = '\0';
        cr_expect_eq(atomic_load(&early_5xx), 0, "round %d: %ld 5xx before the signal, e.g. %s",
                     round_no, atomic_load(&early_5xx), first_5xx);
        cr_expect_geq(before, 4 * CLIENTS, "round %d: only %ld requests answered in 15 s", round_no,
                      before);
        total += atomic_load(&requests);
        check_nothing_lost(uploads_from, claims_from);
    }
    cr_log_info("%d rounds, %ld requests, %ld uploads and %ld claims acknowledged, slowest stop "
                "%ld ms",
                rounds, total, nacked_uploads, nacked_claims, slowest_stop_ms);
    curl_global_cleanup();
}
