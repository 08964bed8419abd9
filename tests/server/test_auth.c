/*
 * test_auth.c - every auth case: no token, malformed, unknown, revoked (401); a role the route
 * does not allow (403); every role a route allows; token administration; open reads, and reads
 * behind --read-token. Tokens are stored as hashes only.
 */
#include "fixture.h"

#include "fr_common.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fx f;

static void teardown(void)
{
    fx_stop(&f);
}

static void setup(void)
{
    cr_assert_eq(fx_start(&f, NULL), 0, "fixture did not start");
}

static void setup_read_token(void)
{
    const char *extra[] = {"--read-token", NULL};
    cr_assert_eq(fx_start(&f, extra), 0, "fixture did not start");
}

TestSuite(auth, .timeout = 60);

/* A small valid upload whose host makes it distinct. */
static char *upload_body(const char *host)
{
    char key[FR_MAX_KEY_LEN];
    fx_matmul_key(32, 32, 32, key, sizeof key);
    const char *keys[] = {key, NULL};
    fx_result r = {"matmul.blas", "REPRODUCIBLE", 1.5, 0};
    return fx_upload(host, "2026-03-04T05:06:07Z", fx_fingerprint("auth cpu"), keys, &r, 1);
}

static void expect(const char *method, const char *path, const char *token, const char *body,
                   long status, const char *code)
{
    frt_resp r = fx_req(&f, method, path, token, body);
    cr_assert_eq(r.status, status, "%s %s with %s: %ld %s", method, path,
                 token ? "a token" : "no token", r.status, r.body);
    if (code) cr_assert_str_eq(fx_error_code(&r), code, "%s", r.body);
    if (status == 401) {
        char h[128];
        cr_assert_not_null(frt_header(&r, "WWW-Authenticate", h, sizeof h));
    }
    frt_resp_free(&r);
}

Test(auth, writes_need_a_token_of_an_allowed_role, .init = setup, .fini = teardown)
{
    char *body = upload_body("h1");
    expect("POST", "/v1/results", NULL, body, 401, "unauthorized");
    expect("POST", "/v1/results",
           "frt_0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
           "abcdef",
           body, 401, "unauthorized");
    expect("POST", "/v1/results", "not-a-token", body, 401, "unauthorized");
    expect("POST", "/v1/results", f.reader, body, 403, "forbidden");
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM uploads"), 0);
    expect("POST", "/v1/results", f.submitter, body, 201, NULL);
    free(body);
    body = upload_body("h2");
    expect("POST", "/v1/results", f.worker, body, 201, NULL);
    free(body);
    body = upload_body("h3");
    expect("POST", "/v1/results", f.admin, body, 201, NULL);
    free(body);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM uploads"), 3);

    /* A header that is not "Bearer <token>". */
    char url[256];
    snprintf(url, sizeof url, "%s/v1/results", f.srv.url);
    const char *h[] = {"Authorization: Basic dXNlcjpwYXNz", "Content-Type: application/json", NULL};
    frt_resp r;
    frt_http("POST", url, h, "{}", 2, &r);
    cr_assert_eq(r.status, 401);
    frt_resp_free(&r);
}

Test(auth, token_administration_is_for_admins, .init = setup, .fini = teardown)
{
    expect("GET", "/v1/tokens", NULL, NULL, 401, "unauthorized");
    expect("GET", "/v1/tokens", f.submitter, NULL, 403, "forbidden");
    expect("GET", "/v1/tokens", f.worker, NULL, 403, "forbidden");
    expect("POST", "/v1/tokens", f.reader, "{\"role\":\"admin\",\"name\":\"x\"}", 403, "forbidden");
    expect("POST", "/v1/tokens", f.admin, "{\"role\":\"emperor\",\"name\":\"x\"}", 400,
           "bad_request");

    frt_resp r = fx_req(&f, "GET", "/v1/tokens", f.admin, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_null(strstr(r.body, "frt_"), "token texts must never be listed");
    json_t *j = fx_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "tokens")), 4);
    json_decref(j);
    frt_resp_free(&r);

    /* Only hashes are stored. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tokens WHERE hash LIKE '%%%s%%'",
             f.submitter + 4);
    cr_assert_eq(fx_count(&f, sql), 0);

    /* A revoked token is unknown from then on. */
    char extra[96];
    cr_assert_eq(fx_token(&f, "submitter", extra, sizeof extra), 0);
    r = fx_req(&f, "GET", "/v1/tokens", f.admin, NULL);
    j = fx_json(&r);
    json_t *tokens = json_object_get(j, "tokens");
    json_int_t id = json_integer_value(
        json_object_get(json_array_get(tokens, json_array_size(tokens) - 1), "id"));
    json_decref(j);
    frt_resp_free(&r);
    char path[64], *body = upload_body("revoked");
    snprintf(path, sizeof path, "/v1/tokens/%lld", (long long)id);
    expect("DELETE", path, f.submitter, NULL, 403, "forbidden");
    expect("DELETE", path, f.admin, NULL, 204, NULL);
    expect("DELETE", path, f.admin, NULL, 404, "not_found");
    expect("POST", "/v1/results", extra, body, 401, "unauthorized");
    free(body);
}

Test(auth, reads_are_open_by_default, .init = setup, .fini = teardown)
{
    expect("GET", "/v1/categories", NULL, NULL, 200, NULL);
    expect("GET", "/v1/cache?category=0123456789abcdef", NULL, NULL, 404, "not_found");
}

Test(auth, reads_need_a_token_with_read_token, .init = setup_read_token, .fini = teardown)
{
    expect("GET", "/v1/categories", NULL, NULL, 401, "unauthorized");
    expect("GET", "/v1/categories", "frt_nope", NULL, 401, "unauthorized");
    expect("GET", "/v1/categories", f.reader, NULL, 200, NULL);
    expect("GET", "/v1/categories", f.worker, NULL, 200, NULL);
    expect("GET", "/v1/cache?category=0123456789abcdef", NULL, NULL, 401, "unauthorized");
    expect("POST", "/v1/coverage?category=0123456789abcdef", NULL, "{}", 401, "unauthorized");
    /* Probes stay open for the orchestrator. */
    expect("GET", "/healthz", NULL, NULL, 200, NULL);
    expect("GET", "/readyz", NULL, NULL, 200, NULL);
}
