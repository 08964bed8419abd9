/*
 * jobs_client.c - libcurl calls of the job protocol for fastrun-worker (jobs_client.h).
 * Requests go through http.h (one set-up and capped buffer for worker/); answers here are capped
 * at MAX_ANSWER bytes (a claim lists at most a model's operators).
 */
#include "jobs_client.h"
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANSWER (16u << 20)

fr_err frw_api_init(frw_api *a, const char *server, const char *token, const atomic_bool *stop,
                    fr_diag *d)
{
    memset(a, 0, sizeof *a);
    size_t len = strlen(server);
    while (len && server[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof a->base ||
        (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0))
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT, "--server '%s': expected http://HOST:PORT",
                           server);
    if (!token || !*token || strlen(token) > 128 || strpbrk(token, "\r\n"))
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT,
                           "a worker token is needed: --token T or "
                           "FASTRUN_TOKEN");
    memcpy(a->base, server, len);
    a->base[len] = '\0';
    snprintf(a->token, sizeof a->token, "%s", token);
    a->stop = stop;
    if (!(a->curl = curl_easy_init())) return fr_diag_set(d, FR_ERR_NOMEM, "curl_easy_init failed");
    return FR_ERR_OK;
}

void frw_api_cleanup(frw_api *a)
{
    if (a->curl) curl_easy_cleanup(a->curl);
    memset(a, 0, sizeof *a);
}

/* The fr_err named by an error body's code, e.g. "lease_lost". */
static fr_err err_of(const json_t *body, long status)
{
    const char *code = json_string_value(json_object_get(json_object_get(body, "error"), "code"));
    for (int e = 0; code && e < FR_ERR__COUNT; e++)
        if (!strcmp(fr_err_code((fr_err)e), code)) return (fr_err)e;
    return status >= 500 ? FR_ERR_UNAVAILABLE : FR_ERR_BAD_REQUEST;
}

fr_err frw_api_call(frw_api *a, const char *method, const char *path, const json_t *body,
                    long timeout_s, long *status, json_t **out, fr_diag *d)
{
    frw_http_answer ans = {.cap = MAX_ANSWER};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    *status = 0;
    if (out) *out = NULL;
    if (body && !text) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    frw_http_req r = {.base = a->base,
                      .token = a->token,
                      .body = text,
                      .timeout_s = timeout_s,
                      .handle = a->curl,
                      .stop = a->abortable ? a->stop : NULL};
    fr_err e = frw_http_request(&r, method, path, status, &ans, d);
    free(text);
    if (e == FR_ERR_OK) {
        json_t *j = ans.len ? json_loadb(ans.buf, ans.len, 0, NULL) : NULL;
        if (*status < 200 || *status >= 300) {
            const char *detail =
                json_string_value(json_object_get(json_object_get(j, "error"), "detail"));
            e = fr_diag_set(d, err_of(j, *status), "%s %s: HTTP %ld: %s", method, path, *status,
                            detail ? detail : (ans.buf ? ans.buf : ""));
            json_decref(j);
        } else if (out) {
            *out = j;
        } else {
            json_decref(j);
        }
    }
    frw_http_answer_cleanup(&ans);
    return e;
}

fr_err frw_api_register(frw_api *a, const char *name, const char *host, const char *pool,
                        const frc_fingerprint *fp, int64_t *id, char *category, fr_diag *d)
{
    void *fpj;
    fr_err e = frc_fingerprint_to_json(fp, &fpj);
    if (e != FR_ERR_OK) return fr_diag_set(d, e, "this machine's fingerprint is invalid");
    json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "name", name, "host", host, "pool", pool,
                             "fingerprint", (json_t *)fpj);
    if (!body) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    long status;
    json_t *out;
    e = frw_api_call(a, "POST", "/v1/workers", body, 30, &status, &out, d);
    json_decref(body);
    if (e != FR_ERR_OK) return e;
    const char *cat = json_string_value(json_object_get(out, "category"));
    json_int_t wid = json_integer_value(json_object_get(out, "id"));
    if (!cat || strlen(cat) != 16 || wid <= 0)
        e = fr_diag_set(d, FR_ERR_BAD_REQUEST, "POST /v1/workers: unexpected answer");
    else {
        *id = wid;
        memcpy(category, cat, 17);
    }
    json_decref(out);
    return e;
}

void frw_job_cleanup(frw_job *job)
{
    json_decref(job->json);
    memset(job, 0, sizeof *job);
}

fr_err frw_api_claim(frw_api *a, int64_t worker, int wait_s, frw_job *job, bool *got, fr_diag *d)
{
    char path[96];
    long status;
    json_t *out;
    memset(job, 0, sizeof *job);
    *got = false;
    snprintf(path, sizeof path, "/v1/workers/%lld/claim?wait=%d", (long long)worker, wait_s);
    a->abortable = true; /* a long-poll: SIGTERM must not wait it out */
    fr_err e = frw_api_call(a, "POST", path, NULL, wait_s + 30, &status, &out, d);
    a->abortable = false;
    if (e != FR_ERR_OK || status == 204) {
        json_decref(out);
        return e;
    }
    job->json = out;
    job->id = json_integer_value(json_object_get(out, "id"));
    job->attempt = (int)json_integer_value(json_object_get(out, "attempt"));
    const char *mode = json_string_value(json_object_get(out, "mode"));
    job->full = mode && !strcmp(mode, "full");
    job->wp = json_is_true(json_object_get(out, "weight_preprocess"));
    job->model = json_string_value(json_object_get(out, "model"));
    job->category = json_string_value(json_object_get(out, "category"));
    job->heartbeat_s = json_number_value(json_object_get(out, "heartbeat_seconds"));
    job->operators = json_object_get(out, "operators");
    if (job->id <= 0 || job->attempt <= 0 || !job->model || !job->category ||
        !json_is_array(job->operators) || !(job->heartbeat_s > 0)) {
        frw_job_cleanup(job);
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "%s: unexpected answer", path);
    }
    *got = true;
    return FR_ERR_OK;
}

/* {"worker_id", "attempt"} for a call on job. */
static json_t *fence(int64_t worker, const frw_job *job)
{
    return json_pack("{s:I,s:i}", "worker_id", (json_int_t)worker, "attempt", job->attempt);
}

fr_err frw_api_heartbeat(frw_api *a, int64_t worker, const frw_job *job, fr_diag *d)
{
    char path[64];
    long status;
    json_t *body = fence(worker, job);
    if (!body) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "/v1/jobs/%lld/heartbeat", (long long)job->id);
    fr_err e = frw_api_call(a, "POST", path, body, 10, &status, NULL, d);
    json_decref(body);
    return e;
}

/* The conditions of a measurement as the server keeps them; measured_from_ms / measured_to_ms
 * (milliseconds since the epoch, integers so no JSON printer rounds them) bound the time the
 * measurement lock was held, so overlaps between workers would show. */
static json_t *conditions_json(const frw_conditions *c, double from)
{
    char started[32];
    time_t t = (time_t)c->started_unix;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:i,s:f,s:b,s:f,s:s,s:f,s:I,s:I}", "threads", c->threads, "load1", c->load1,
                     "lock_waited", c->lock_waited, "lock_wait_s", c->lock_wait_s, "started_at",
                     started, "duration_s", c->duration_s, "measured_from_ms",
                     (json_int_t)(from * 1000.0), "measured_to_ms",
                     (json_int_t)((from + c->duration_s) * 1000.0 + 0.999));
}

fr_err frw_api_report(frw_api *a, int64_t worker, const frw_job *job, int index, const char *key,
                      const frc_result *results, size_t n, const char *heuristic,
                      const frw_conditions *cond, double measured_from, double seconds, fr_diag *d)
{
    json_t *list = json_array(), *body = fence(worker, job);
    bool ok = list && body;
    for (size_t i = 0; ok && i < n; i++) {
        void *r;
        ok =
            frc_result_to_json(&results[i], &r) == FR_ERR_OK && json_array_append_new(list, r) == 0;
    }
    ok = ok && !json_object_set_new(body, "key", json_string(key)) &&
         !json_object_set_new(body, "results", list) &&
         !json_object_set_new(body, "conditions", conditions_json(cond, measured_from)) &&
         !json_object_set_new(body, "profile", json_pack("{s:f}", "seconds", seconds)) &&
         (!heuristic || !json_object_set_new(body, "heuristic", json_string(heuristic)));
    if (!ok) {
        json_decref(body);
        return fr_diag_set(d, FR_ERR_NOMEM, "building the report");
    }
    char path[96];
    long status;
    snprintf(path, sizeof path, "/v1/jobs/%lld/operators/%d", (long long)job->id, index);
    fr_err e = frw_api_call(a, "POST", path, body, 60, &status, NULL, d);
    json_decref(body);
    return e;
}

fr_err frw_api_finish(frw_api *a, int64_t worker, const frw_job *job, const char *verb,
                      const char *reason, fr_diag *d)
{
    char path[96];
    long status;
    json_t *body = fence(worker, job);
    if (body && reason) json_object_set_new(body, "reason", json_string(reason));
    if (!body) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "/v1/jobs/%lld/%s", (long long)job->id, verb);
    fr_err e = frw_api_call(a, "POST", path, body, 30, &status, NULL, d);
    json_decref(body);
    return e;
}

fr_err frw_api_signoff(frw_api *a, int64_t worker, fr_diag *d)
{
    char path[64];
    long status;
    snprintf(path, sizeof path, "/v1/workers/%lld", (long long)worker);
    return frw_api_call(a, "DELETE", path, NULL, 10, &status, NULL, d);
}
