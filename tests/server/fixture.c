/*
 * fixture.c - the server tests' shared set-up (fixture.h).
 */
#include "fixture.h"

#include "fr_common.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int fx_start(fx *f, const char *const *extra)
{
    memset(f, 0, sizeof *f);
    if (frt_pg_shared(&f->pg) != 0 || frt_pg_fresh_db(&f->pg, f->conninfo, sizeof f->conninfo))
        return -1;
    if (frt_server_start(&f->srv, f->conninfo, extra) != 0) return -1;
    /* The first admin token as an operator makes it (the CLI), the others over the API. */
    if (frt_token(f->conninfo, "admin", "test-admin", f->admin, sizeof f->admin) ||
        fx_token(f, "submitter", f->submitter, sizeof f->submitter) ||
        fx_token(f, "worker", f->worker, sizeof f->worker) ||
        fx_token(f, "reader", f->reader, sizeof f->reader))
        return -1;
    return 0;
}

int fx_token(fx *f, const char *role, char *out, size_t len)
{
    char body[128];
    snprintf(body, sizeof body, "{\"role\":\"%s\",\"name\":\"test-%s\"}", role, role);
    frt_resp r = fx_req(f, "POST", "/v1/tokens", f->admin, body);
    json_t *j = r.status == 201 ? fx_json(&r) : NULL;
    const char *t = json_string_value(json_object_get(j, "token"));
    int rc = t ? 0 : -1;
    if (t)
        snprintf(out, len, "%s", t);
    else
        fprintf(stderr, "fixture: POST /v1/tokens: %ld %s\n", r.status, r.body);
    json_decref(j);
    frt_resp_free(&r);
    return rc;
}

void fx_stop(fx *f)
{
    char why[2400];
    cr_expect(frt_server_stop_clean(&f->srv, why, sizeof why), "%s", why);
}

frt_resp fx_req(fx *f, const char *method, const char *path, const char *token, const char *body)
{
    char url[2048], auth[160];
    const char *headers[3] = {NULL, NULL, NULL};
    size_t n = 0;
    snprintf(url, sizeof url, "%s%s", f->srv.url, path);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (body) headers[n++] = "Content-Type: application/json";
    frt_resp r;
    frt_http(method, url, headers, body, body ? strlen(body) : 0, &r);
    return r;
}

json_t *fx_json(const frt_resp *r)
{
    return r->body ? json_loads(r->body, 0, NULL) : NULL;
}

const char *fx_error_code(const frt_resp *r)
{
    static char code[64];
    json_t *j = fx_json(r);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(code, sizeof code, "%s", c ? c : "");
    json_decref(j);
    return code;
}

long fx_count(fx *f, const char *sql)
{
    char out[64];
    if (frt_pg_sql(f->conninfo, sql, out, sizeof out) != 0) return -1;
    return strtol(out, NULL, 10);
}

json_t *fx_fingerprint(const char *cpu)
{
    return json_pack("{s:i,s:i,s:s,s:s,s:i,s:s,s:s}", "format_version", 1, "kernel_set", 1, "cpu",
                     cpu, "isa", "avx2", "threads", 4, "blas", "OpenBLAS 0.3.21", "blas_core",
                     "Haswell");
}

static json_t *result_json(const fx_result *r)
{
    json_t *attrs = json_array();
    char buf[128];
    snprintf(buf, sizeof buf, "%s", r->attrs);
    for (char *p = buf; *p;) {
        size_t len = strcspn(p, ",");
        json_array_append_new(attrs, json_stringn(p, len));
        p += len + (p[len] == ',');
    }
    return json_pack("{s:s,s:o,s:I,s:f,s:f,s:i}", "algorithm", r->algorithm, "attributes", attrs,
                     "workspace", (json_int_t)r->workspace, "median_ms", r->median_ms, "min_ms",
                     r->median_ms * 0.9, "samples", 20);
}

char *fx_upload(const char *host, const char *time, json_t *fp, const char *const *keys,
                const fx_result *results, size_t nresults)
{
    json_t *entries = json_array();
    for (size_t k = 0; keys[k]; k++) {
        json_t *rs = json_array();
        for (size_t i = 0; i < nresults; i++)
            json_array_append_new(rs, result_json(&results[i]));
        json_array_append_new(entries, json_pack("{s:s,s:o}", "key", keys[k], "results", rs));
    }
    json_t *body = json_pack("{s:{s:s,s:s,s:s},s:o,s:o}", "provenance", "source", "user", "host",
                             host, "time", time, "fingerprint", fp, "entries", entries);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

void fx_matmul_key(int m, int n, int k, char *buf, size_t len)
{
    fr_op op = {.kind = FR_OP_MATMUL};
    op.mm.batch = 1;
    op.mm.m = m;
    op.mm.n = n;
    op.mm.k = k;
    fr_op_key(&op, false, buf, len);
}
