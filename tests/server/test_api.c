/*
 * test_api.c - fastrun-server's API as a client sees it, against a real PostgreSQL: upload and
 * download (policies, ranking, the document format), idempotent uploads, conditional GETs,
 * categories, coverage, and the error shape. Each test gets a fresh database and server on the
 * binary's shared cluster (hooks.c).
 */
#include "fixture.h"

#include "cache.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fx f;
static char key_a[FR_MAX_KEY_LEN], key_b[FR_MAX_KEY_LEN], key_c[FR_MAX_KEY_LEN];

static void setup(void)
{
    cr_assert_eq(fx_start(&f, NULL), 0, "fixture did not start");
    fx_matmul_key(64, 512, 512, key_a, sizeof key_a);
    fx_matmul_key(128, 256, 64, key_b, sizeof key_b);
    fx_matmul_key(7, 9, 5, key_c, sizeof key_c);
}

static void teardown(void)
{
    fx_stop(&f);
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 60);

/* Three algorithms: the fastest is not REPRODUCIBLE; naive is REPRODUCIBLE and NAIVE. */
static const fx_result three[] = {
    {"matmul.blas", "REPRODUCIBLE,USES_BLAS", 2.0, 0},
    {"matmul.packed_simd", "", 1.0, 4096},
    {"matmul.naive", "REPRODUCIBLE,NAIVE", 9.0, 0},
};

/* Uploads three[] for key_a and key_b as host; returns the category id. */
static void upload_three(const char *host, double scale, char id[17])
{
    fx_result rs[3];
    memcpy(rs, three, sizeof rs);
    for (int i = 0; i < 3; i++)
        rs[i].median_ms *= scale;
    const char *keys[] = {key_a, key_b, NULL};
    char *body =
        fx_upload(host, "2026-01-02T03:04:05Z", fx_fingerprint("api test cpu"), keys, rs, 3);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    cr_assert_eq(r.status, 201, "upload: %ld %s", r.status, r.body);
    json_t *j = fx_json(&r);
    json_t *cats = json_object_get(j, "categories");
    cr_assert_eq(json_array_size(cats), 1);
    snprintf(id, 17, "%s", json_string_value(json_object_get(json_array_get(cats, 0), "id")));
    cr_assert_eq(json_integer_value(json_object_get(j, "reports_added")), 6);
    json_decref(j);
    frt_resp_free(&r);
    free(body);
}

/* GET /v1/cache with query; asserts 200 and a valid document, returns it parsed. */
static void download(const char *query, frc_doc *doc, char *etag, size_t etag_len)
{
    char path[512];
    snprintf(path, sizeof path, "/v1/cache?%s", query);
    frt_resp r = fx_req(&f, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    fr_diag d = {""};
    frc_doc_init(doc);
    cr_assert_eq(frc_doc_parse(r.body, r.len, "download", doc, &d), FR_ERR_OK,
                 "the download is not a valid cache document: %s", d.msg);
    if (etag) cr_assert_not_null(frt_header(&r, "ETag", etag, etag_len));
    frt_resp_free(&r);
}

static void assert_algorithms(const frc_doc *doc, const char *key, const char *const *want)
{
    cr_assert_eq(doc->ncats, 1);
    const frc_entry *e = frc_category_find(&doc->cats[0], key);
    cr_assert_not_null(e, "key %s missing", key);
    size_t n = 0;
    while (want[n])
        n++;
    cr_assert_eq(e->nresults, n, "%s: %zu results, want %zu", key, e->nresults, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(e->results[i].algorithm, want[i], "%s: results[%zu]", key, i);
}

Test(api, probes_and_metrics)
{
    frt_resp r = fx_req(&f, "GET", "/healthz", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"ok\""));
    frt_resp_free(&r);
    r = fx_req(&f, "GET", "/readyz", NULL, NULL);
    cr_assert_eq(r.status, 200);
    frt_resp_free(&r);
    r = fx_req(&f, "GET", "/metrics", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "fastrun_http_requests_total{route=\"GET /readyz\",status=\"200\"}"),
              "%s", r.body);
    cr_assert(strstr(r.body, "fastrun_http_request_duration_seconds_bucket"));
    cr_assert(strstr(r.body, "fastrun_cache_not_modified_total"));
    cr_assert(strstr(r.body, "fastrun_db_errors_total"));
    frt_resp_free(&r);
}

Test(api, upload_then_download_ranked_and_filtered)
{
    char id[17], q[256];
    frc_doc doc;
    upload_three("host-a", 1.0, id);

    snprintf(q, sizeof q, "category=%s", id);
    download(q, &doc, NULL, 0);
    cr_assert_eq(doc.revision, 1);
    const char *all[] = {"matmul.packed_simd", "matmul.blas", "matmul.naive", NULL};
    assert_algorithms(&doc, key_a, all);
    assert_algorithms(&doc, key_b, all);
    frc_doc_cleanup(&doc);

    snprintf(q, sizeof q, "category=%s&reproducible=1", id);
    download(q, &doc, NULL, 0);
    const char *repro[] = {"matmul.blas", "matmul.naive", NULL};
    assert_algorithms(&doc, key_a, repro);
    for (size_t i = 0; i < doc.cats[0].nentries; i++)
        for (size_t k = 0; k < doc.cats[0].entries[i].nresults; k++)
            cr_assert(doc.cats[0].entries[i].results[k].attrs & FR_ATTR_REPRODUCIBLE);
    frc_doc_cleanup(&doc);

    snprintf(q, sizeof q, "category=%s&reproducible=1&exclude=naive", id);
    download(q, &doc, NULL, 0);
    const char *best[] = {"matmul.blas", NULL};
    assert_algorithms(&doc, key_b, best);
    frc_doc_cleanup(&doc);

    snprintf(q, sizeof q, "category=%s&max_workspace=1024", id);
    download(q, &doc, NULL, 0);
    const char *small[] = {"matmul.blas", "matmul.naive", NULL};
    assert_algorithms(&doc, key_a, small);
    frc_doc_cleanup(&doc);
}

Test(api, same_upload_twice_changes_nothing)
{
    char id[17];
    upload_three("host-a", 1.0, id);
    long reports = fx_count(&f, "SELECT count(*) FROM reports");
    const char *keys[] = {key_a, key_b, NULL};
    char *body =
        fx_upload("host-a", "2026-01-02T03:04:05Z", fx_fingerprint("api test cpu"), keys, three, 3);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = fx_json(&r);
    cr_assert(json_is_true(json_object_get(j, "duplicate")));
    cr_assert_eq(json_integer_value(json_object_get(j, "reports_added")), 0);
    json_decref(j);
    frt_resp_free(&r);
    free(body);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM reports"), reports);
    cr_assert_eq(fx_count(&f, "SELECT revision FROM categories"), 1);
}

Test(api, conditional_get_304_then_200_after_upload)
{
    char id[17], etag[64], etag2[64], path[256], inm[128];
    frc_doc doc;
    upload_three("host-a", 1.0, id);
    snprintf(path, sizeof path, "category=%s", id);
    download(path, &doc, etag, sizeof etag);
    frc_doc_cleanup(&doc);

    char url[512];
    snprintf(url, sizeof url, "%s/v1/cache?category=%s", f.srv.url, id);
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *h[] = {inm, NULL};
    frt_resp r;
    frt_http("GET", url, h, NULL, 0, &r);
    cr_assert_eq(r.status, 304, "%ld %s", r.status, r.body);
    cr_assert_eq(r.len, 0);
    frt_resp_free(&r);

    upload_three("host-b", 3.0, id); /* a second machine, three times slower */
    frt_http("GET", url, h, NULL, 0, &r);
    cr_assert_eq(r.status, 200, "after an upload the old ETag must not match");
    cr_assert_not_null(frt_header(&r, "ETag", etag2, sizeof etag2));
    cr_assert_str_neq(etag, etag2);
    frt_resp_free(&r);

    download(path, &doc, NULL, 0);
    cr_assert_eq(doc.revision, 2);
    const frc_entry *e = frc_category_find(&doc.cats[0], key_a);
    const frc_result *ps = &e->results[0];
    cr_assert_str_eq(ps->algorithm, "matmul.packed_simd");
    cr_assert_eq(ps->reports, 2);
    cr_assert_float_eq(ps->median_ms, 1.0, 1e-6, "lower median of {1, 3}");
    cr_assert_float_eq(ps->spread_ms, 2.0, 1e-6);
    cr_assert_eq(ps->samples, 40);
    frc_doc_cleanup(&doc);
}

Test(api, categories_list)
{
    char id[17];
    upload_three("host-a", 1.0, id);
    frt_resp r = fx_req(&f, "GET", "/v1/categories", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = fx_json(&r), *c = json_array_get(json_object_get(j, "categories"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(c, "id")), id);
    cr_assert_eq(json_integer_value(json_object_get(c, "keys")), 2);
    cr_assert_eq(json_integer_value(json_object_get(c, "results")), 6);
    cr_assert_eq(json_integer_value(json_object_get(c, "revision")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "fingerprint"), "cpu")),
                     "api test cpu");
    cr_assert(json_is_string(json_object_get(c, "updated_at")));
    json_decref(j);
    frt_resp_free(&r);
}

Test(api, coverage_of_a_model)
{
    char id[17], path[256];
    upload_three("host-a", 1.0, id);
    /* key_c has only a non-reproducible result. */
    const char *keys[] = {key_c, NULL};
    fx_result fast = {"matmul.packed_simd", "", 0.5, 0};
    char *body =
        fx_upload("host-a", "2026-01-02T03:04:05Z", fx_fingerprint("api test cpu"), keys, &fast, 1);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.worker, body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    frt_resp_free(&r);
    free(body);

    const char *model =
        "{\"name\":\"cov\",\"operators\":["
        "{\"name\":\"a\",\"op\":\"matmul\",\"batch\":1,\"m\":64,\"n\":512,\"k\":512},"
        "{\"name\":\"c\",\"op\":\"matmul\",\"batch\":1,\"m\":7,\"n\":9,\"k\":5},"
        "{\"name\":\"missing\",\"op\":\"matmul\",\"batch\":1,\"m\":3,\"n\":3,\"k\":3}]}";
    snprintf(path, sizeof path, "/v1/coverage?category=%s&reproducible=1", id);
    r = fx_req(&f, "POST", path, NULL, model);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = fx_json(&r), *ops = json_object_get(j, "operators");
    json_t *sum = json_object_get(j, "summary");
    cr_assert_eq(json_integer_value(json_object_get(sum, "operators")), 3);
    cr_assert_eq(json_integer_value(json_object_get(sum, "covered")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "missing")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "none_accepted")), 1);
    cr_assert(json_is_false(json_object_get(sum, "complete")));
    json_t *a = json_array_get(ops, 0);
    cr_assert(json_is_true(json_object_get(a, "covered")));
    cr_assert_str_eq(json_string_value(json_object_get(a, "algorithm")), "matmul.blas");
    cr_assert_str_eq(json_string_value(json_object_get(a, "key")), key_a);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ops, 1), "status")),
                     "none_accepted");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ops, 2), "status")), "miss");
    json_decref(j);
    frt_resp_free(&r);

    /* Without the policy, c is covered by its non-reproducible result. */
    snprintf(path, sizeof path, "/v1/coverage?category=%s", id);
    r = fx_req(&f, "POST", path, NULL, model);
    j = fx_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "covered")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(j, "operators"), 0), "algorithm")),
                     "matmul.packed_simd");
    json_decref(j);
    frt_resp_free(&r);

    /* A bad model is a 400 naming the field. */
    r = fx_req(&f, "POST", path, NULL, "{\"name\":\"x\",\"operators\":[{\"name\":\"a\"}]}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    frt_resp_free(&r);
}

Test(api, error_shapes)
{
    struct {
        const char *method, *path;
        long status;
        const char *code;
    } cases[] = {
        {"GET", "/no/such/path", 404, "not_found"},
        {"PUT", "/v1/results", 405, "method_not_allowed"},
        {"GET", "/v1/cache", 400, "bad_request"},
        {"GET", "/v1/cache?category=XYZ", 400, "bad_request"},
        {"GET", "/v1/cache?category=0123456789abcdef", 404, "not_found"},
        {"GET", "/v1/cache?category=0123456789abcdef&colour=red", 400, "bad_request"},
        {"GET", "/v1/cache?category=0123456789abcdef&exclude=shiny", 400, "bad_request"},
        {"GET",
         "/v1/categories?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14"
         "&o=15&p=16&q=17&r=18&s=19&t=20&u=21&v=22&w=23&x=24&y=25&z=26&aa=27&ab=28"
         "&ac=29&ad=30&ae=31&af=32&ag=33",
         413, "too_large"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        frt_resp r = fx_req(&f, cases[i].method, cases[i].path, NULL, NULL);
        cr_assert_eq(r.status, cases[i].status, "%s %s: %ld %s", cases[i].method, cases[i].path,
                     r.status, r.body);
        json_t *j = fx_json(&r), *e = json_object_get(j, "error");
        cr_assert_str_eq(json_string_value(json_object_get(e, "code")), cases[i].code);
        cr_assert(json_is_string(json_object_get(e, "message")));
        cr_assert(json_is_string(json_object_get(e, "detail")));
        if (cases[i].status == 405) {
            char allow[64];
            cr_assert_str_eq(frt_header(&r, "Allow", allow, sizeof allow), "POST");
        }
        json_decref(j);
        frt_resp_free(&r);
    }
}

/* Many clients polling the same category at once: every one gets the whole current document
 * (concurrent revision checks are shared: server/revcheck.c), and after an upload every one sees
 * the new revision. */
#define POLLERS 8
#define POLLS 15

typedef struct {
    char url[512];
    char etag[POLLS][64];
    long status[POLLS];
    size_t len[POLLS];
} poller;

static void *poll_cache(void *arg)
{
    poller *p = arg;
    for (int i = 0; i < POLLS; i++) {
        frt_resp r;
        frt_http("GET", p->url, NULL, NULL, 0, &r);
        p->status[i] = r.status;
        p->len[i] = r.len;
        if (!frt_header(&r, "ETag", p->etag[i], sizeof p->etag[i])) p->etag[i][0] = '\0';
        frt_resp_free(&r);
    }
    return NULL;
}

static void poll_all(poller *ps, const char *id)
{
    pthread_t t[POLLERS];
    for (int k = 0; k < POLLERS; k++) {
        snprintf(ps[k].url, sizeof ps[k].url, "%s/v1/cache?category=%s", f.srv.url, id);
        pthread_create(&t[k], NULL, poll_cache, &ps[k]);
    }
    for (int k = 0; k < POLLERS; k++)
        pthread_join(t[k], NULL);
}

Test(api, concurrent_polls_see_the_current_revision)
{
    char id[17], url[512], etag1[64], etag2[64];
    upload_three("host-a", 1.0, id);
    frt_resp r;
    snprintf(url, sizeof url, "%s/v1/cache?category=%s", f.srv.url, id);
    frt_http("GET", url, NULL, NULL, 0, &r); /* also initialises libcurl before the threads */
    cr_assert_not_null(frt_header(&r, "ETag", etag1, sizeof etag1));
    size_t len1 = r.len;
    frt_resp_free(&r);

    static poller ps[POLLERS];
    poll_all(ps, id);
    for (int k = 0; k < POLLERS; k++)
        for (int i = 0; i < POLLS; i++) {
            cr_assert_eq(ps[k].status[i], 200);
            cr_assert_str_eq(ps[k].etag[i], etag1);
            cr_assert_eq(ps[k].len[i], len1);
        }

    upload_three("host-b", 2.0, id);
    frt_http("GET", url, NULL, NULL, 0, &r);
    cr_assert_not_null(frt_header(&r, "ETag", etag2, sizeof etag2));
    cr_assert_str_neq(etag1, etag2);
    frt_resp_free(&r);
    poll_all(ps, id);
    for (int k = 0; k < POLLERS; k++)
        for (int i = 0; i < POLLS; i++) {
            cr_assert_eq(ps[k].status[i], 200);
            cr_assert_str_eq(ps[k].etag[i], etag2, "a poll after the upload saw the old revision");
        }

    r = fx_req(&f, "GET", "/metrics", NULL, NULL);
    const char *m = strstr(r.body, "\nfastrun_cache_revision_queries_total ");
    cr_assert_not_null(m);
    long queries = strtol(m + strlen("\nfastrun_cache_revision_queries_total "), NULL, 10);
    cr_assert(queries >= 3 && queries <= 2 * POLLERS * POLLS + 2, "revision queries: %ld", queries);
    frt_resp_free(&r);
}

/* Uploads one result {algorithm, median} for key_c as host, claiming `reports` reports (0: the
 * field left out, i.e. 1); returns the HTTP status and, on success, the category id. */
static long upload_claiming(const char *host, double median, long long reports, char id[17])
{
    const fx_result one = {"matmul.blas", "REPRODUCIBLE,USES_BLAS", median, 0};
    const char *keys[] = {key_c, NULL};
    char *text = fx_upload(host, "2026-01-02T03:04:05Z", fx_fingerprint("poison test cpu"), keys,
                           &one, 1);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(j);
    json_t *res = json_array_get(json_object_get(json_array_get(json_object_get(j, "entries"), 0),
                                                 "results"),
                                 0);
    if (reports) json_object_set_new(res, "reports", json_integer(reports));
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    long status = r.status;
    if (status != 201) cr_log_info("upload from %s: %ld %s", host, r.status, r.body);
    json_t *a = fx_json(&r);
    json_t *cat = json_array_get(json_object_get(a, "categories"), 0);
    if (cat) snprintf(id, 17, "%s", json_string_value(json_object_get(cat, "id")));
    json_decref(a);
    frt_resp_free(&r);
    free(body);
    return status;
}

/* Issue 17, items 3 and 4: one upload claiming 2^31-3 reports of 1e-6 ms is one upload on the
 * server. Before, it outvoted two honest reports of 2.0 and 2.1 ms (the server served 1e-6 ms),
 * and every later honest upload of the key failed 400 with PostgreSQL's "out of range for type
 * integer". */
Test(api, a_claimed_report_count_does_not_outvote_the_fleet)
{
    char id[17] = "", path[64];
    cr_assert_eq(upload_claiming("honest-a", 2.0, 0, id), 201);
    cr_assert_eq(upload_claiming("honest-b", 2.1, 0, id), 201);
    cr_assert_eq(upload_claiming("poisoner", 1e-6, 2147483645LL, id), 201);
    cr_assert_eq(upload_claiming("honest-c", 2.05, 0, id), 201,
                 "an honest upload is refused because of earlier data");
    frc_doc doc;
    snprintf(path, sizeof path, "category=%s", id);
    download(path, &doc, NULL, 0);
    const frc_entry *e = NULL;
    for (size_t i = 0; i < doc.ncats && !e; i++) e = frc_category_find(&doc.cats[i], key_c);
    cr_assert_not_null(e);
    cr_assert_float_eq(e->results[0].median_ms, 2.0, 1e-6,
                       "served median %g: lower median of {1e-6, 2.0, 2.05, 2.1} is 2.0",
                       e->results[0].median_ms);
    cr_assert_eq(e->results[0].reports, 4, "four uploads, %lld reports",
                 (long long)e->results[0].reports);
    frc_doc_cleanup(&doc);
}

/* Issue 17 item 7: a submitter cannot claim its upload came from a profiling worker. */
Test(api, worker_provenance_needs_a_worker_token)
{
    const char *keys[] = {key_a, NULL};
    char *text = fx_upload("liar", "2026-01-02T03:04:05Z", fx_fingerprint("provenance test cpu"),
                           keys, three, 1);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(j);
    json_object_set_new(json_object_get(j, "provenance"), "source", json_string("worker"));
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    cr_assert_eq(r.status, 403, "%ld %s", r.status, r.body);
    cr_assert_str_eq(fx_error_code(&r), "forbidden");
    frt_resp_free(&r);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM reports"), 0, "the upload was stored");
    r = fx_req(&f, "POST", "/v1/results", f.worker, body); /* a worker's token may say so */
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    frt_resp_free(&r);
    free(body);
}

/* Issue 17 item 4: a database error reaches the client as the project's error with the query and
 * the SQLSTATE, never PostgreSQL's own text (which names tables, constraints and values). The
 * test adds a constraint PostgreSQL will refuse an upload on. */
Test(api, database_errors_do_not_leak_postgresql_text)
{
    cr_assert_eq(frt_pg_sql(f.conninfo,
                            "ALTER TABLE uploads ADD CONSTRAINT leak_probe CHECK (host <> 'refused')",
                            NULL, 0),
                 0);
    const char *keys[] = {key_a, NULL};
    char *body = fx_upload("refused", "2026-01-02T03:04:05Z", fx_fingerprint("leak test cpu"),
                           keys, three, 1);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    free(body);
    cr_assert_eq(r.status, 409, "%ld %s", r.status, r.body);
    cr_assert_str_eq(fx_error_code(&r), "conflict");
    cr_assert_not_null(strstr(r.body, "SQLSTATE 23514"), "%s", r.body);
    cr_assert_null(strstr(r.body, "leak_probe"), "PostgreSQL's text reached the client: %s", r.body);
    cr_assert_null(strstr(r.body, "violates"), "PostgreSQL's text reached the client: %s", r.body);
    frt_resp_free(&r);
}

/* Issue 17 item 7: a median of 1e19 ms is refused at upload with a detail naming the field.
 * Before, it was stored, and jsonb gave it back as an integer jansson cannot read: every later
 * upload and download of the key failed 422 with an empty detail. */
Test(api, an_absurd_median_is_refused_at_upload)
{
    char id[17] = "";
    const fx_result huge = {"matmul.blas", "REPRODUCIBLE,USES_BLAS", 1e19, 0};
    const char *keys[] = {key_c, NULL};
    char *body = fx_upload("absurd", "2026-01-02T03:04:05Z", fx_fingerprint("absurd test cpu"),
                           keys, &huge, 1);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    free(body);
    cr_assert_eq(r.status, 422, "%ld %s", r.status, r.body);
    cr_assert_not_null(strstr(r.body, "median_ms"), "%s", r.body);
    frt_resp_free(&r);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM reports"), 0);
    cr_assert_eq(upload_claiming("sane", 2.0, 0, id), 201);
}
