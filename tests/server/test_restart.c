/*
 * test_restart.c - PostgreSQL stopped under a running server, then started again: meanwhile the
 * server stays alive (/healthz 200) and answers 503 db_unavailable wherever it needs the
 * database; afterwards it recovers by itself, without a restart, serving the same data.
 * This test owns its cluster (stopping the shared one would disturb the other tests).
 */
#include "fixture.h"

#include "fr_common.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static frt_pg pg;
static fx f;

static void teardown(void)
{
    fx_stop(&f);
    frt_pg_destroy(&pg);
}

TestSuite(restart, .fini = teardown, .timeout = 90);

static long status_of(const char *method, const char *path, const char *token, const char *body,
                      char *code, size_t code_len)
{
    frt_resp r = fx_req(&f, method, path, token, body);
    long s = r.status;
    if (code) snprintf(code, code_len, "%s", fx_error_code(&r));
    frt_resp_free(&r);
    return s;
}

Test(restart, postgres_down_then_back)
{
    cr_assert_eq(frt_pg_create(&pg), 0);
    memset(&f, 0, sizeof f);
    frt_pg_conninfo(&pg, NULL, f.conninfo, sizeof f.conninfo);
    /* Fail fast while the database is down rather than wait for a pooled connection. */
    const char *extra[] = {"--db-wait-ms", "500", NULL};
    cr_assert_eq(frt_server_start(&f.srv, f.conninfo, extra), 0);
    cr_assert_eq(frt_token(f.conninfo, "submitter", "restart", f.submitter, sizeof f.submitter), 0);

    char key[FR_MAX_KEY_LEN], path[128], code[64];
    fx_matmul_key(20, 30, 40, key, sizeof key);
    const char *keys[] = {key, NULL};
    fx_result res = {"matmul.blas", "REPRODUCIBLE", 2.5, 0};
    char *body =
        fx_upload("h", "2026-05-06T07:08:09Z", fx_fingerprint("restart cpu"), keys, &res, 1);
    frt_resp r = fx_req(&f, "POST", "/v1/results", f.submitter, body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *j = fx_json(&r);
    snprintf(path, sizeof path, "/v1/cache?category=%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(j, "categories"), 0), "id")));
    json_decref(j);
    frt_resp_free(&r);
    cr_assert_eq(status_of("GET", path, NULL, NULL, NULL, 0), 200);

    cr_assert_eq(frt_pg_stop(&pg), 0);
    cr_assert_eq(status_of("GET", "/healthz", NULL, NULL, NULL, 0), 200);
    cr_assert_eq(status_of("GET", "/readyz", NULL, NULL, code, sizeof code), 503);
    cr_assert_str_eq(code, "db_unavailable");
    cr_assert_eq(status_of("GET", path, NULL, NULL, code, sizeof code), 503);
    cr_assert_str_eq(code, "db_unavailable");
    cr_assert_eq(status_of("GET", "/v1/categories", NULL, NULL, code, sizeof code), 503);
    cr_assert_eq(status_of("POST", "/v1/results", f.submitter, body, code, sizeof code), 503);
    cr_assert_str_eq(code, "db_unavailable");
    cr_assert(frt_alive(&f.srv.proc, NULL), "the server must survive the database going away");

    cr_assert_eq(frt_pg_start(&pg), 0);
    long ready = 0;
    for (int i = 0; i < 100 && ready != 200; i++) { /* 10 s */
        ready = status_of("GET", "/readyz", NULL, NULL, NULL, 0);
        if (ready != 200) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert_eq(ready, 200, "the server did not recover after PostgreSQL came back");
    cr_assert(frt_alive(&f.srv.proc, NULL), "recovered without a restart");
    frt_resp after = fx_req(&f, "GET", path, NULL, NULL);
    cr_assert_eq(after.status, 200);
    cr_assert(strstr(after.body, key), "the data is still served");
    frt_resp_free(&after);
    /* The upload that failed during the outage can be sent again and is stored once. */
    cr_assert_eq(status_of("POST", "/v1/results", f.submitter, body, NULL, 0), 200);
    free(body);
    frt_resp m = fx_req(&f, "GET", "/metrics", NULL, NULL);
    cr_assert(strstr(m.body, "fastrun_db_errors_total{kind=\"unavailable\"} "), "%s", m.body);
    cr_assert_null(strstr(m.body, "fastrun_db_errors_total{kind=\"unavailable\"} 0\n"));
    frt_resp_free(&m);
}
