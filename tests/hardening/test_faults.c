/*
 * test_faults.c - the server and its database failing under traffic.
 *
 * server_killed_during_uploads: 4 clients send 1,000 uploads, each with its own upload_id;
 * the server is killed with SIGKILL twice in the middle of the stream and started again. A
 * client that got no answer retries the same upload (as after a timeout) until it gets a 2xx.
 * Afterwards every upload is stored exactly once (1,000 uploads, 1,000 reports), and sending
 * acknowledged uploads again changes nothing (200 "duplicate").
 *
 * postgres_stopped_under_load: 6 clients mix downloads, listings, uploads and probes while
 * PostgreSQL is stopped for 3 s and started again. Meanwhile every answer is a 2xx (probes) or
 * 503 "db_unavailable", quickly; afterwards everything succeeds again within seconds with the
 * same server process, and every acknowledged upload is stored.
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
#include <time.h>

static const char *fp =
    "{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"faults\",\"isa\":\"avx2\","
    "\"threads\":1,\"blas\":\"b\",\"blas_core\":\"c\"}";

/* The server's current base URL (it changes when the server is restarted). */
static pthread_mutex_t url_mu = PTHREAD_MUTEX_INITIALIZER;
static char base_url[64];

static void current_url(char *out, size_t len)
{
    pthread_mutex_lock(&url_mu);
    snprintf(out, len, "%s", base_url);
    pthread_mutex_unlock(&url_mu);
}

static void set_url(const char *url)
{
    pthread_mutex_lock(&url_mu);
    snprintf(base_url, sizeof base_url, "%s", url);
    pthread_mutex_unlock(&url_mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* An upload of one result for a key of its own, with upload_id id. */
static void upload_body(const char *id, int i, char *out, size_t len)
{
    snprintf(out, len,
             "{\"provenance\":{\"source\":\"user\",\"host\":\"faults\",\"time\":"
             "\"2026-02-03T04:05:06Z\",\"upload_id\":\"%s\"},\"fingerprint\":%s,\"entries\":"
             "[{\"key\":\"matmul batch=1 m=%d n=8 k=8 f32 wp=0\",\"results\":[{\"algorithm\":"
             "\"matmul.blas\",\"attributes\":[],\"workspace\":0,\"median_ms\":%d.5,"
             "\"min_ms\":1,\"samples\":3}]}]}",
             id, fp, 1 + i, 2 + i % 7);
}

/* POST /v1/results to the current server; the status (0: no answer) and "duplicate". */
static long post_upload(const char *token, const char *body, bool *duplicate)
{
    char url[128], auth[160];
    current_url(url, sizeof url);
    strncat(url, "/v1/results", sizeof url - strlen(url) - 1);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    frt_resp r;
    frt_http("POST", url, headers, body, strlen(body), &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (duplicate) *duplicate = json_is_true(json_object_get(j, "duplicate"));
    json_decref(j);
    long status = r.status;
    frt_resp_free(&r);
    return status;
}

/* ---------------------------------------------------------------------------------------------
 * SIGKILL during a stream of uploads
 * ------------------------------------------------------------------------------------------- */
enum { UPLOADS = 1000, CLIENTS = 4 };

static struct {
    const char *token;
    atomic_int acked, unanswered, duplicates, other;
    long status[UPLOADS];
} up;

static void *upload_client(void *arg)
{
    int first = (int)(intptr_t)arg;
    char body[2048], id[32];
    for (int i = first; i < UPLOADS; i += CLIENTS) {
        snprintf(id, sizeof id, "kill-%d", i);
        upload_body(id, i, body, sizeof body);
        double deadline = now_s() + 60;
        for (;;) {
            bool dup = false;
            long s = post_upload(up.token, body, &dup);
            if (s == 200 || s == 201) {
                up.status[i] = s;
                atomic_fetch_add(&up.acked, 1);
                if (dup) atomic_fetch_add(&up.duplicates, 1);
                break;
            }
            if (s == 0)
                atomic_fetch_add(&up.unanswered, 1);
            else
                atomic_fetch_add(&up.other, 1); /* 503 while PostgreSQL... any other is wrong */
            if (now_s() > deadline) {
                up.status[i] = s;
                break;
            }
            sleep_ms(20); /* the client's back-off, then the same upload again */
        }
    }
    return NULL;
}

static hx h;

static void stop_all(void)
{
    hx_stop(&h);
}

TestSuite(faults, .fini = stop_all, .timeout = 240);

Test(faults, server_killed_during_uploads)
{
    curl_global_init(CURL_GLOBAL_ALL);
    cr_assert_eq(hx_start(&h, NULL), 0);
    up.token = h.worker;
    set_url(h.srv.url);
    double t0 = now_s();
    pthread_t th[CLIENTS];
    for (int c = 0; c < CLIENTS; c++)
        cr_assert_eq(pthread_create(&th[c], NULL, upload_client, (void *)(intptr_t)c), 0);
    int kills = 0;
    for (int at = 250; at <= 600; at += 350) {
        while (atomic_load(&up.acked) < at)
            sleep_ms(2);
        cr_assert_eq(kill(-h.srv.proc.pid, SIGKILL), 0);
        frt_stop(&h.srv.proc, SIGKILL, true, 5000);
        kills++;
        frt_server_stop(&h.srv);
        cr_assert_eq(frt_server_start(&h.srv, h.conninfo, NULL), 0, "restart %d", kills);
        set_url(h.srv.url);
    }
    for (int c = 0; c < CLIENTS; c++)
        pthread_join(th[c], NULL);
    double secs = now_s() - t0;

    for (int i = 0; i < UPLOADS; i++)
        cr_assert(up.status[i] == 200 || up.status[i] == 201, "upload %d ended with %ld", i,
                  up.status[i]);
    cr_assert_eq(atomic_load(&up.other), 0, "answers other than 2xx or no answer");
    char sql[256], out[64];
    snprintf(sql, sizeof sql,
             "SELECT count(*) || '/' || count(DISTINCT upload_key) FROM uploads"
             " WHERE upload_key LIKE 'id:kill-%%'");
    cr_assert_eq(frt_pg_sql(h.conninfo, sql, out, sizeof out), 0);
    cr_assert_str_eq(out, "1000/1000", "uploads stored / distinct");
    cr_assert_eq(frt_pg_sql(h.conninfo, "SELECT count(*) FROM reports", out, sizeof out), 0);
    cr_assert_str_eq(out, "1000", "reports");

    /* Acknowledged uploads sent again, as a client that timed out would: no change. */
    char body[2048], id[32];
    for (int i = 0; i < UPLOADS; i += 10) {
        bool dup = false;
        snprintf(id, sizeof id, "kill-%d", i);
        upload_body(id, i, body, sizeof body);
        cr_assert_eq(post_upload(h.worker, body, &dup), 200, "retry of upload %d", i);
        cr_assert(dup, "retry of upload %d not reported as a duplicate", i);
    }
    cr_assert_eq(frt_pg_sql(h.conninfo, "SELECT count(*) FROM reports", out, sizeof out), 0);
    cr_assert_str_eq(out, "1000", "reports after retries");
    cr_log_info("server_killed_during_uploads: %d uploads by %d clients, %d SIGKILLs, %d "
                "requests unanswered and retried, %d retries found already stored, 0 lost, 0 "
                "duplicated, %.1f s",
                UPLOADS, CLIENTS, kills, atomic_load(&up.unanswered), atomic_load(&up.duplicates),
                secs);
}

/* ---------------------------------------------------------------------------------------------
 * PostgreSQL stopped under load
 * ------------------------------------------------------------------------------------------- */
enum { PHASES = 3, LOADERS = 6 };

static struct {
    char cache_path[128];
    atomic_int phase, stop, next_id;
    atomic_int ok[PHASES], unavailable[PHASES], wrong[PHASES], upload_ok, upload_unknown;
    atomic_long max_ms[PHASES];
    char wrong_example[256];
    pthread_mutex_t mu;
    long acked[4096];
    int nacked;
} ld = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *loader(void *arg)
{
    int me = (int)(intptr_t)arg;
    char url[256], base[64], body[2048], id[32], auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", h.submitter);
    for (int n = 0; !atomic_load(&ld.stop); n++) {
        int phase = atomic_load(&ld.phase), kind = (me + n) % 4, upload = -1;
        current_url(base, sizeof base);
        const char *headers[] = {auth, "Content-Type: application/json", NULL};
        frt_resp r;
        double t0 = now_s();
        if (kind == 0) {
            snprintf(url, sizeof url, "%s%s", base, ld.cache_path);
            frt_http("GET", url, NULL, NULL, 0, &r);
        } else if (kind == 1) {
            snprintf(url, sizeof url, "%s/v1/categories", base);
            frt_http("GET", url, NULL, NULL, 0, &r);
        } else if (kind == 2) {
            upload = atomic_fetch_add(&ld.next_id, 1);
            snprintf(id, sizeof id, "load-%d", upload);
            upload_body(id, 2000 + upload, body, sizeof body);
            snprintf(url, sizeof url, "%s/v1/results", base);
            frt_http("POST", url, headers, body, strlen(body), &r);
        } else {
            snprintf(url, sizeof url, "%s/healthz", base);
            frt_http("GET", url, NULL, NULL, 0, &r);
        }
        /* Phase 0 and 2 hold only requests that started and ended in them. */
        int end = atomic_load(&ld.phase);
        phase = phase == 0 && end == 0 ? 0 : phase == 2 ? 2 : 1;
        long ms = (long)((now_s() - t0) * 1000);
        if (ms > atomic_load(&ld.max_ms[phase])) atomic_store(&ld.max_ms[phase], ms);
        if (r.status >= 200 && r.status < 300) {
            atomic_fetch_add(&ld.ok[phase], 1);
            if (upload >= 0) {
                pthread_mutex_lock(&ld.mu);
                if (ld.nacked < 4096) ld.acked[ld.nacked++] = upload;
                pthread_mutex_unlock(&ld.mu);
            }
        } else if (r.status == 503 && !strcmp(hx_error_code(r.body), "db_unavailable")) {
            atomic_fetch_add(&ld.unavailable[phase], 1);
            /* PostgreSQL may stop between committing an upload and answering for it: the
             * client then cannot know, and retries with the same key (uploads are idempotent). */
            if (upload >= 0) atomic_fetch_add(&ld.upload_unknown, 1);
        } else {
            atomic_fetch_add(&ld.wrong[phase], 1);
            pthread_mutex_lock(&ld.mu);
            snprintf(ld.wrong_example, sizeof ld.wrong_example, "phase %d: %s -> %ld %.150s", phase,
                     url, r.status, r.body ? r.body : "");
            pthread_mutex_unlock(&ld.mu);
        }
        frt_resp_free(&r);
        if (phase == 1) sleep_ms(5); /* answers come fast while down; do not spin */
    }
    return NULL;
}

Test(faults, postgres_stopped_under_load)
{
    static frt_pg pg;
    curl_global_init(CURL_GLOBAL_ALL);
    cr_assert_eq(frt_pg_create(&pg), 0); /* its own cluster: the shared one keeps running */
    memset(&h, 0, sizeof h);
    frt_pg_conninfo(&pg, NULL, h.conninfo, sizeof h.conninfo);
    const char *extra[] = {"--db-wait-ms", "500", NULL};
    cr_assert_eq(frt_server_start(&h.srv, h.conninfo, extra), 0);
    cr_assert_eq(frt_token(h.conninfo, "submitter", "faults", h.submitter, sizeof h.submitter), 0);
    set_url(h.srv.url);
    char body[2048];
    upload_body("seed", 0, body, sizeof body);
    frt_resp r = hx_req(&h, "POST", "/v1/results", h.submitter, body, strlen(body));
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    snprintf(ld.cache_path, sizeof ld.cache_path, "/v1/cache?category=%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(j, "categories"), 0), "id")));
    json_decref(j);
    frt_resp_free(&r);
    pid_t pid = h.srv.proc.pid;

    pthread_t th[LOADERS];
    for (int i = 0; i < LOADERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, loader, (void *)(intptr_t)i), 0);
    sleep_ms(2000);
    atomic_store(&ld.phase, 1);
    cr_assert_eq(frt_pg_stop(&pg), 0);
    sleep_ms(3000);
    cr_assert_eq(frt_pg_start(&pg), 0);
    double up_at = now_s(), recovered = -1;
    /* Recovered when uploads and downloads succeed again (probes succeed all along). */
    while (now_s() - up_at < 15 && recovered < 0) {
        frt_resp c = hx_req(&h, "GET", ld.cache_path, NULL, NULL, 0);
        if (c.status == 200) recovered = now_s() - up_at;
        frt_resp_free(&c);
        if (recovered < 0) sleep_ms(50);
    }
    sleep_ms(1000); /* connections that failed a moment ago are retried at most every 200 ms */
    atomic_store(&ld.phase, 2);
    sleep_ms(2000);
    atomic_store(&ld.stop, 1);
    for (int i = 0; i < LOADERS; i++)
        pthread_join(th[i], NULL);

    cr_assert_geq(recovered, 0, "no recovery within 15 s of PostgreSQL's return");
    cr_assert_eq(h.srv.proc.pid, pid);
    cr_assert(frt_alive(&h.srv.proc, NULL), "the server died");
    for (int p = 0; p < PHASES; p++)
        cr_assert_eq(atomic_load(&ld.wrong[p]), 0, "%d wrong answers, e.g. %s",
                     atomic_load(&ld.wrong[p]), ld.wrong_example);
    cr_assert_eq(atomic_load(&ld.unavailable[0]), 0);
    cr_assert_gt(atomic_load(&ld.unavailable[1]), 0, "no 503 while PostgreSQL was down?");
    cr_assert_eq(atomic_load(&ld.unavailable[2]), 0, "503 after recovery");
    cr_assert_gt(atomic_load(&ld.ok[2]), 0);
    cr_assert_lt(atomic_load(&ld.max_ms[1]), 5000, "a request hung while PostgreSQL was down");
    /* Every acknowledged upload is stored, once. Beyond those only uploads answered 503 may be
     * (their commit can have happened just before PostgreSQL stopped). */
    static char keys[65536];
    cr_assert_eq(frt_pg_sql(h.conninfo,
                            "SELECT ',' || string_agg(upload_key, ',') || ',' FROM uploads "
                            "WHERE upload_key LIKE 'id:load-%'",
                            keys, sizeof keys),
                 0);
    int stored = 0;
    for (const char *k = strstr(keys, ",id:load-"); k; k = strstr(k + 1, ",id:load-"))
        stored++;
    for (int i = 0; i < ld.nacked; i++) {
        char want[48];
        snprintf(want, sizeof want, ",id:load-%ld,", ld.acked[i]);
        cr_assert(strstr(keys, want), "acknowledged upload load-%ld is not stored", ld.acked[i]);
    }
    cr_assert_leq(stored - ld.nacked, atomic_load(&ld.upload_unknown),
                  "stored %d uploads: %d acknowledged, only %d answered 503", stored, ld.nacked,
                  atomic_load(&ld.upload_unknown));
    cr_log_info("postgres_stopped_under_load: %d clients; before: %d ok; PostgreSQL down 3 s: %d "
                "ok (probes), %d x 503 db_unavailable, slowest %ld ms; recovered %.2f s after "
                "PostgreSQL returned, same server process; after: %d ok; %d uploads acknowledged, "
                "all stored; %d stored",
                LOADERS, atomic_load(&ld.ok[0]), atomic_load(&ld.ok[1]),
                atomic_load(&ld.unavailable[1]), atomic_load(&ld.max_ms[1]), recovered,
                atomic_load(&ld.ok[2]), ld.nacked, stored);
    hx_stop(&h);
    frt_pg_destroy(&pg);
}
