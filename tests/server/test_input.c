/*
 * test_input.c - malformed and oversized uploads: each is rejected whole with the 4xx that says
 * what is wrong, and nothing is stored (no upload, report, profile or category row).
 */
#include "fixture.h"

#include "fr_common.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fx f;
static char key[FR_MAX_KEY_LEN];

static void setup(void)
{
    const char *extra[] = {"--max-body", "65536", "--max-upload-results", "5", NULL};
    cr_assert_eq(fx_start(&f, extra), 0, "fixture did not start");
    fx_matmul_key(16, 16, 16, key, sizeof key);
}

static void teardown(void)
{
    fx_stop(&f);
}

TestSuite(input, .init = setup, .fini = teardown, .timeout = 60);

static void nothing_stored(void)
{
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM uploads"), 0);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM reports"), 0);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM profiles"), 0);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM categories"), 0);
}

static void rejected(const char *body, long status, const char *code, const char *detail_part)
{
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    cr_assert_eq(r.status, status, "%.200s -> %ld %s", body, r.status, r.body);
    cr_assert_str_eq(fx_error_code(&r), code, "%s", r.body);
    if (detail_part)
        cr_assert(strstr(r.body, detail_part), "detail should name '%s': %s", detail_part, r.body);
    frt_resp_free(&r);
}

/* A valid upload body with the provenance replaced by prov (JSON text). */
static char *with_provenance(const char *prov)
{
    char buf[2048];
    snprintf(
        buf, sizeof buf,
        "{\"provenance\":%s,\"fingerprint\":{\"format_version\":1,\"kernel_set\":1,"
        "\"cpu\":\"x\",\"isa\":\"avx2\",\"threads\":1,\"blas\":\"b\",\"blas_core\":\"c\"},"
        "\"entries\":[{\"key\":\"%s\",\"results\":[{\"algorithm\":\"matmul.blas\","
        "\"attributes\":[],\"workspace\":0,\"median_ms\":1.0,\"min_ms\":1.0,\"samples\":3}]}]}",
        prov, key);
    return strdup(buf);
}

Test(input, malformed_json_and_shapes)
{
    rejected("{\"provenance\":", 400, "bad_json", "line 1");
    rejected("[1,2,3]", 400, "bad_request", "JSON object");
    rejected(
        "{\"provenance\":{\"source\":\"user\",\"host\":\"h\",\"time\":\"2026-01-01T00:00:00Z\"}}",
        400, "bad_request", "document");
    rejected("{\"surprise\":1}", 400, "bad_request", "surprise");
    char *b =
        with_provenance("{\"source\":\"robot\",\"host\":\"h\",\"time\":\"2026-01-01T00:00:00Z\"}");
    rejected(b, 400, "bad_request", "provenance.source");
    free(b);
    b = with_provenance("{\"source\":\"user\",\"time\":\"2026-01-01T00:00:00Z\"}");
    rejected(b, 400, "bad_request", "provenance.host");
    free(b);
    b = with_provenance("{\"source\":\"user\",\"host\":\"h\",\"time\":\"yesterday\"}");
    rejected(b, 400, "bad_request", "yesterday");
    free(b);
    nothing_stored();
}

Test(input, bad_results_reject_the_whole_upload)
{
    /* The first entry is fine, the second is not: nothing at all is stored. */
    char body[4096];
    const char *fp = "{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"x\",\"isa\":\"avx2\","
                     "\"threads\":1,\"blas\":\"b\",\"blas_core\":\"c\"}";
    const char *prov = "{\"source\":\"user\",\"host\":\"h\",\"time\":\"2026-01-01T00:00:00Z\"}";
    const char *good = "{\"algorithm\":\"matmul.blas\",\"attributes\":[],\"workspace\":0,"
                       "\"median_ms\":1.0,\"min_ms\":1.0,\"samples\":3}";
    struct {
        const char *key, *result;
        long status;
        const char *code, *detail;
    } cases[] = {
        {"matmul m=1", good, 400, "bad_request", "entries[1].key"},
        {"matmul batch=1 m=8 n=8 k=8 f32 wp=0",
         "{\"algorithm\":\"matmul.blas\",\"attributes\":[],\"workspace\":0,\"median_ms\":-1,"
         "\"min_ms\":1.0,\"samples\":3}",
         422, "corrupt", "median_ms"},
        {"matmul batch=1 m=8 n=8 k=8 f32 wp=0",
         "{\"algorithm\":\"matmul.blas\",\"attributes\":[\"SHINY\"],\"workspace\":0,"
         "\"median_ms\":1,\"min_ms\":1.0,\"samples\":3}",
         422, "corrupt", "SHINY"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"provenance\":%s,\"fingerprint\":%s,\"entries\":[{\"key\":\"%s\","
                 "\"results\":[%s]},{\"key\":\"%s\",\"results\":[%s]}]}",
                 prov, fp, key, good, cases[i].key, cases[i].result);
        rejected(body, cases[i].status, cases[i].code, cases[i].detail);
    }
    /* A key longer than FR_MAX_KEY_LEN. */
    char longkey[400];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    snprintf(
        body, sizeof body,
        "{\"provenance\":%s,\"fingerprint\":%s,\"entries\":[{\"key\":\"%s\",\"results\":[%s]}]}",
        prov, fp, longkey, good);
    rejected(body, 413, "too_large", "key");
    nothing_stored();
}

Test(input, limits)
{
    /* More results than --max-upload-results 5. */
    char keys[6][FR_MAX_KEY_LEN];
    const char *list[7];
    for (int i = 0; i < 6; i++) {
        fx_matmul_key(8 + i, 8, 8, keys[i], sizeof keys[i]);
        list[i] = keys[i];
    }
    list[6] = NULL;
    fx_result r = {"matmul.blas", "", 1.0, 0};
    char *body = fx_upload("h", "2026-01-01T00:00:00Z", fx_fingerprint("limits"), list, &r, 1);
    rejected(body, 413, "too_large", "limit is 5");
    free(body);

    /* A body over --max-body 65536 (known from Content-Length before it is read). */
    size_t big = 100000;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"x\":1", 6);
    huge[big - 1] = '}';
    huge[big] = '\0';
    rejected(huge, 413, "too_large", "65536");
    free(huge);

    /* Nesting deeper than the limit. */
    char deep[256] = "";
    for (int i = 0; i < 40; i++)
        deep[i] = '[';
    for (int i = 40; i < 80; i++)
        deep[i] = ']';
    rejected(deep, 413, "too_large", "deeper");

    /* Not JSON by its content type. */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/results", f.srv.url);
    char auth[160];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", f.submitter);
    const char *h[] = {auth, "Content-Type: text/plain", NULL};
    frt_resp resp;
    frt_http("POST", url, h, "{}", 2, &resp);
    cr_assert_eq(resp.status, 415, "%s", resp.body);
    frt_resp_free(&resp);

    /* A body on a route that takes none. */
    frt_resp g = fx_req(&f, "GET", "/v1/categories", NULL, "{\"a\":1}");
    cr_assert_eq(g.status, 413, "%s", g.body);
    frt_resp_free(&g);
    nothing_stored();
}
