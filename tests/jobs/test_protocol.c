/*
 * test_protocol.c - the worker protocol driven by hand over HTTP (no fastrun-worker), so each
 * race can be staged exactly: a worker whose lease lapsed is fenced (its late report,
 * heartbeat and completion are refused and store nothing), another worker's token cannot act
 * for it, attempts are capped, the server-side resume skips covered operators, and submissions
 * are validated, and a long-poll whose token is revoked while it waits is handed nothing.
 */
#include "jobs_fx.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char model[] =
    "{\"name\": \"two\", \"operators\": ["
    "{\"name\": \"a\", \"op\": \"matmul\", \"batch\": 1, \"m\": 8, \"n\": 8, \"k\": 8},"
    "{\"name\": \"b\", \"op\": \"matmul\", \"batch\": 1, \"m\": 16, \"n\": 8, \"k\": 8}]}";

static const char fingerprint[] =
    "{\"format_version\": 1, \"kernel_set\": 1, \"cpu\": \"protocol test\", \"isa\": \"avx2\", "
    "\"threads\": 1, \"blas\": \"none\", \"blas_core\": \"none\"}";

/* Registers a worker of pool with token; returns its id. */
static long long register_worker(jfx *f, const char *token, const char *name, const char *pool)
{
    char body[512];
    json_t *out;
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"host\": \"test\", \"pool\": \"%s\", "
             "\"fingerprint\": %s}",
             name, pool, fingerprint);
    cr_assert_eq(jfx_req(f, "POST", "/v1/workers", token, body, &out), 201);
    long long id = jfx_int(out, "id");
    json_decref(out);
    return id;
}

/* Claims for worker id; returns the claim (new reference) or NULL on 204. */
static json_t *claim(jfx *f, const char *token, long long id, int wait)
{
    char path[96];
    json_t *out;
    snprintf(path, sizeof path, "/v1/workers/%lld/claim?wait=%d", id, wait);
    long status = jfx_req(f, "POST", path, token, NULL, &out);
    cr_assert(status == 200 || status == 204, "claim: HTTP %ld", status);
    return status == 200 ? out : NULL;
}

/* A fenced call; returns the status and the error code in code (may be NULL). */
static long call(jfx *f, const char *token, long job, const char *what, long long worker,
                 long long attempt, const char *extra, char *code, size_t len)
{
    char path[96], body[1024];
    json_t *out;
    snprintf(path, sizeof path, "/v1/jobs/%ld/%s", job, what);
    snprintf(body, sizeof body, "{\"worker_id\": %lld, \"attempt\": %lld%s}", worker, attempt,
             extra ? extra : "");
    long status = jfx_req(f, "POST", path, token, body, &out);
    if (code) snprintf(code, len, "%s", jfx_str(out, "error.code"));
    json_decref(out);
    return status;
}

/* The body fields of a report of operator key with one measured result. */
static void report_fields(const char *key, double ms, char *out, size_t len)
{
    snprintf(out, len,
             ", \"key\": \"%s\", \"conditions\": {\"threads\": 1}, \"results\": "
             "[{\"algorithm\": \"matmul.naive\", \"attributes\": [\"NAIVE\"], \"workspace\": 0, "
             "\"median_ms\": %g, \"min_ms\": %g, \"samples\": 7, \"reports\": 1, "
             "\"spread_ms\": 0}]",
             key, ms, ms);
}

Test(protocol, lapsed_lease_is_fenced, .timeout = 60)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    char other[96], code[64], fields[1024];
    cr_assert_eq(frt_token(f.conninfo, "worker", "other", other, sizeof other), 0);
    long long a = register_worker(&f, f.worker, "a", "fence");
    long long b = register_worker(&f, other, "b", "fence");
    long id = jfx_submit(&f, model, "target=fence");
    json_t *c1 = claim(&f, f.worker, a, 5);
    cr_assert_not_null(c1);
    cr_assert_eq(jfx_int(c1, "attempt"), 1);
    const char *key0 = jfx_str(json_array_get(json_object_get(c1, "operators"), 0), "key");
    report_fields(key0, 1.0, fields, sizeof fields);
    /* b cannot act for a: another token, or a's attempt under b's id. */
    cr_assert_eq(call(&f, other, id, "heartbeat", a, 1, NULL, code, sizeof code), 403);
    cr_assert_eq(call(&f, other, id, "heartbeat", b, 1, NULL, code, sizeof code), 409);
    cr_assert_str_eq(code, "lease_lost");
    cr_assert_eq(call(&f, f.worker, id, "heartbeat", a, 1, NULL, NULL, 0), 200);

    /* a goes silent: its lease (3 s) lapses, and b takes the job over as attempt 2. */
    json_t *c2 = NULL;
    for (int i = 0; i < 20 && !c2; i++)
        c2 = claim(&f, other, b, 1);
    cr_assert_not_null(c2, "the lapsed job was not handed to b");
    cr_assert_eq(jfx_int(c2, "attempt"), 2);

    /* a's late calls are all refused with lease_lost, and store nothing. */
    char path[96];
    snprintf(path, sizeof path, "operators/%lld",
             jfx_int(json_array_get(json_object_get(c1, "operators"), 0), "index"));
    cr_assert_eq(call(&f, f.worker, id, path, a, 1, fields, code, sizeof code), 409);
    cr_assert_str_eq(code, "lease_lost");
    cr_assert_eq(call(&f, f.worker, id, "heartbeat", a, 1, NULL, code, sizeof code), 409);
    cr_assert_eq(call(&f, f.worker, id, "complete", a, 1, NULL, code, sizeof code), 409);
    cr_assert_eq(call(&f, f.worker, id, "release", a, 1, NULL, code, sizeof code), 409);
    cr_assert_str_eq(code, "lease_lost");
    char n[32];
    cr_assert_eq(frt_pg_sql(f.conninfo, "SELECT count(*) FROM reports", n, sizeof n), 0);
    cr_assert_str_eq(n, "0", "a fenced report stored results");

    /* b, the holder, reports; completing early is refused; then both reports land. */
    cr_assert_eq(call(&f, other, id, path, b, 2, fields, NULL, 0), 200);
    cr_assert_eq(call(&f, other, id, path, b, 2, fields, NULL, 0), 200, "a retry is idempotent");
    cr_assert_eq(call(&f, other, id, "complete", b, 2, NULL, code, sizeof code), 409);
    cr_assert_str_eq(code, "conflict");
    const char *key1 = jfx_str(json_array_get(json_object_get(c2, "operators"), 1), "key");
    report_fields(key1, 2.0, fields, sizeof fields);
    cr_assert_eq(call(&f, other, id, "operators/1", b, 2, fields, NULL, 0), 200);
    cr_assert_eq(call(&f, other, id, "complete", b, 2, NULL, NULL, 0), 200);
    cr_assert_eq(frt_pg_sql(f.conninfo, "SELECT count(*) FROM reports", n, sizeof n), 0);
    cr_assert_str_eq(n, "2");
    json_t *job = jfx_job(&f, id);
    cr_assert_str_eq(jfx_str(job, "state"), "done");
    cr_assert_str_eq(jfx_str(json_array_get(json_object_get(job, "attempts"), 0), "outcome"),
                     "lease_expired");
    cr_assert_eq(json_array_size(json_object_get(job, "errors")), 1);
    json_decref(job);
    json_decref(c1);
    json_decref(c2);

    /* Resubmitted: both operators now have results for b's category, so a claim finds the job
     * done at once (server-side resume) unless force. */
    long again = jfx_submit(&f, model, "target=fence");
    cr_assert_null(claim(&f, other, b, 1));
    job = jfx_job(&f, again);
    cr_assert_str_eq(jfx_str(job, "state"), "done");
    cr_assert_eq(jfx_int(job, "progress.cached"), 2);
    json_decref(job);
    long forced = jfx_submit(&f, model, "target=fence&force=1");
    json_t *c3 = claim(&f, other, b, 1);
    cr_assert_not_null(c3);
    cr_assert_eq(jfx_int(c3, "id"), forced);
    cr_assert_eq(json_array_size(json_object_get(c3, "operators")), 2);
    json_decref(c3);
    jfx_stop(&f);
}

Test(protocol, attempts_are_capped, .timeout = 60)
{
    const char *extra[] = {"--max-attempts", "2", NULL};
    jfx f;
    cr_assert_eq(jfx_start(&f, extra), 0);
    long long a = register_worker(&f, f.worker, "a", "cap");
    long id = jfx_submit(&f, model, "target=cap");
    char code[64];
    json_t *c = claim(&f, f.worker, a, 5);
    cr_assert_not_null(c);
    json_decref(c);
    /* A worker-reported failure counts; a hand-back does not. */
    cr_assert_eq(
        call(&f, f.worker, id, "fail", a, 1, ", \"reason\": \"out of memory\"", code, sizeof code),
        200);
    json_t *job = jfx_job(&f, id);
    cr_assert_str_eq(jfx_str(job, "state"), "queued");
    cr_assert_eq(jfx_int(job, "failures"), 1);
    cr_assert(strstr(jfx_str(job, "note"), "retrying after attempt 1"), "%s", jfx_str(job, "note"));
    json_decref(job);
    c = NULL;
    for (int i = 0; i < 10 && !c; i++)
        c = claim(&f, f.worker, a, 1); /* after the backoff */
    cr_assert_not_null(c);
    cr_assert_eq(call(&f, f.worker, id, "release", a, 2, NULL, NULL, 0), 200);
    json_decref(c);
    c = claim(&f, f.worker, a, 5);
    cr_assert_not_null(c);
    cr_assert_eq(jfx_int(c, "attempt"), 3);
    json_decref(c);
    /* Now silent: the lease lapses, the second failure fails the job with the reason. */
    bool ok;
    job = jfx_until(&f, id, jfx_state_is, "failed", 15, &ok);
    cr_assert(ok, "state %s", jfx_str(job, "state"));
    cr_assert(strstr(jfx_str(job, "error"), "gave up after 2 failed attempts") &&
                  strstr(jfx_str(job, "error"), "stopped heartbeating"),
              "%s", jfx_str(job, "error"));
    json_decref(job);
    jfx_stop(&f);
}

Test(protocol, submissions_are_validated_and_listed, .timeout = 60)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    json_t *out;
    cr_assert_eq(jfx_req(&f, "POST", "/v1/jobs?target=p", NULL, model, NULL), 401);
    cr_assert_eq(jfx_req(&f, "POST", "/v1/jobs?target=p", f.worker, model, NULL), 403);
    cr_assert_eq(jfx_req(&f, "POST", "/v1/jobs", f.submitter, model, &out), 400);
    cr_assert(strstr(jfx_str(out, "error.detail"), "target"));
    json_decref(out);
    cr_assert_eq(jfx_req(&f, "POST", "/v1/jobs?target=p&mode=quick", f.submitter, model, NULL),
                 400);
    cr_assert_eq(jfx_req(&f, "POST", "/v1/jobs?target=p", f.submitter,
                         "{\"name\": \"x\", \"operators\": [{\"name\": \"a\", \"op\": \"fft\"}]}",
                         &out),
                 400);
    cr_assert_str_eq(jfx_str(out, "error.code"), "bad_model");
    json_decref(out);
    /* The envelope form, with a category target. */
    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\": %s, \"target\": \"0123456789abcdef\", \"mode\": "
             "\"full\", \"priority\": 5}",
             model);
    cr_assert_eq(jfx_req(&f, "POST", "/v1/jobs", f.submitter, body, &out), 201);
    cr_assert_str_eq(jfx_str(out, "target_kind"), "category");
    cr_assert_str_eq(jfx_str(out, "mode"), "full");
    cr_assert_str_eq(jfx_str(out, "note"), "no live worker of category 0123456789abcdef");
    json_decref(out);
    for (int i = 0; i < 3; i++)
        cr_assert_gt(jfx_submit(&f, model, "target=p"), 0);
    cr_assert_eq(jfx_req(&f, "GET", "/v1/jobs?state=queued&limit=3", NULL, NULL, &out), 200);
    cr_assert_eq(json_array_size(json_object_get(out, "jobs")), 3);
    char next[256];
    snprintf(next, sizeof next, "%s", jfx_str(out, "next"));
    json_decref(out);
    cr_assert(strstr(next, "before="), "next page: '%s'", next);
    cr_assert_eq(jfx_req(&f, "GET", next, NULL, NULL, &out), 200);
    cr_assert_eq(json_array_size(json_object_get(out, "jobs")), 1);
    cr_assert_eq(jfx_int(json_array_get(json_object_get(out, "jobs"), 0), "priority"), 5);
    json_decref(out);
    cr_assert_eq(jfx_req(&f, "GET", "/v1/jobs?state=sleeping", NULL, NULL, NULL), 400);
    cr_assert_eq(jfx_req(&f, "GET", "/v1/jobs/999", NULL, NULL, NULL), 404);
    jfx_stop(&f);
}

typedef struct {
    jfx *f;
    const char *token;
    long long worker;
    long status;
} claim_arg;

static void *claim_thread(void *p)
{
    claim_arg *a = p;
    char path[96];
    snprintf(path, sizeof path, "/v1/workers/%lld/claim?wait=4", a->worker);
    a->status = jfx_req(a->f, "POST", path, a->token, NULL, NULL);
    return NULL;
}

/* Issue 17 item 5: a claim long-poll begun before its worker's token was revoked must not be
 * handed a job queued after the revocation (before, it received one 2.5 s later). */
Test(protocol, a_revoked_token_ends_a_waiting_claim_empty_handed, .timeout = 60)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    char tok[96], idtext[32];
    cr_assert_eq(frt_token(f.conninfo, "worker", "revokee", tok, sizeof tok), 0);
    cr_assert_eq(
        frt_pg_sql(f.conninfo, "SELECT id FROM tokens WHERE name = 'revokee'", idtext, sizeof idtext),
        0);
    long long w = register_worker(&f, tok, "r", "revoked-pool");
    claim_arg a = {&f, tok, w, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, claim_thread, &a), 0);
    usleep(500 * 1000); /* the claim is waiting */
    char path[64];
    snprintf(path, sizeof path, "/v1/tokens/%s", idtext);
    long rs = jfx_req(&f, "DELETE", path, f.admin, NULL, NULL);
    long id = jfx_submit(&f, model, "target=revoked-pool");
    pthread_join(th, NULL);
    cr_assert(rs == 200 || rs == 204, "revoking the token: HTTP %ld", rs);
    cr_assert_gt(id, 0);
    cr_assert_eq(a.status, 204, "the waiting claim of a revoked token got HTTP %ld", a.status);
    json_t *job = jfx_job(&f, id);
    cr_assert_str_eq(jfx_str(job, "state"), "queued", "the job left the queue");
    json_decref(job);
    snprintf(path, sizeof path, "/v1/workers/%lld/claim?wait=0", w);
    cr_assert_eq(jfx_req(&f, "POST", path, tok, NULL, NULL), 401);
    jfx_stop(&f);
}
