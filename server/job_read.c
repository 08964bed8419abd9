/*
 * job_read.c - reading jobs (shapes in job_view.c):
 *   GET /v1/jobs/{id}[?wait=S][&require=done]
 *       the job with every operator and attempt. With wait (seconds, at most FRS_JOB_WAIT_MAX_S)
 *       the answer comes as soon as the job has ended (done, failed, cancelled) or when the
 *       time is up, whichever is first. require=done turns any outcome but done into an HTTP
 *       error, so `curl --fail-with-body` fails a CI step by itself: 409 (code "conflict") when
 *       the job failed or was cancelled, with the reason; 504 (code "timeout") when it is still
 *       queued or running at the end of the wait.
 *   GET /v1/jobs[?state=queued,running][&target=T][&category=ID][&limit=N][&before=ID]
 *       summaries, newest first; "next" is the URL of the next page (or null).
 *   GET /v1/jobs/{id}/cache[?reproducible=1&exclude=naive&max_workspace=N]
 *       the merged cache of the categories that hold the job's results: exactly GET /v1/cache
 *       for them (same document, ETag, policy parameters). 409 while the job is not done.
 *
 * Waiting holds no database connection: the state is polled with one short borrow every
 * WAIT_STEP_US.
 */
#include "jobs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_STEP_US 250000u
#define LIST_DEFAULT 50
#define LIST_MAX 200

/* The job's state and error into state / error ("" when none). */
static fr_err job_state(frs_server *s, int64_t id, char *state, size_t slen, char *error,
                        size_t elen, fr_diag *d)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    const char *p[] = {sid};
    frs_conn *c;
    PGresult *res;
    fr_err e = frs_db_borrow(s->db, &c, d);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_job_state, 1, p, &res, d);
    frs_db_return(s->db, c);
    if (e != FR_ERR_OK) return e;
    if (PQntuples(res) == 0)
        e = fr_diag_set(d, FR_ERR_NOT_FOUND, "no job %s", sid);
    else {
        snprintf(state, slen, "%s", PQgetvalue(res, 0, 0));
        snprintf(error, elen, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return e;
}

fr_err frs_jobs_get(frs_req *r)
{
    static const char *const allowed[] = {"wait", "require", NULL};
    int64_t id = 0;
    double wait;
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = frs__path_id(r, 0, "job id", &id);
    if (e == FR_ERR_OK) e = frs__param_seconds(r, "wait", FRS_JOB_WAIT_MAX_S, &wait);
    const char *require = frs_param(r, "require");
    if (e == FR_ERR_OK && require && strcmp(require, "done") != 0)
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "require: only 'done' is supported");
    if (e != FR_ERR_OK) return e;

    char state[16], error[1024];
    uint64_t deadline = frs_now_us() + (uint64_t)(wait * 1e6);
    for (;;) {
        e = job_state(r->srv, id, state, sizeof state, error, sizeof error, &r->diag);
        if (e != FR_ERR_OK) return e;
        if (frs__job_final(state) || frs_now_us() >= deadline || frs_jobs_stopping() ||
            frs__client_gone(r))
            break;
        frs__sleep_until(deadline, WAIT_STEP_US);
    }
    if (require && !strcmp(state, "failed"))
        return fr_diag_set(&r->diag, FR_ERR_CONFLICT, "job %lld failed: %s", (long long)id, error);
    if (require && !strcmp(state, "cancelled"))
        return fr_diag_set(&r->diag, FR_ERR_CONFLICT, "job %lld was %s", (long long)id, error);
    if (require && strcmp(state, "done") != 0)
        return fr_diag_set(&r->diag, FR_ERR_TIMEOUT,
                           "job %lld is still %s after waiting %g s "
                           "(GET /v1/jobs/%lld shows its progress)",
                           (long long)id, state, wait, (long long)id);
    json_t *job;
    frs_conn *c;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs__job_json(r->srv, c, id, true, &job, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    frs_reply_json(r, 200, job);
    return FR_ERR_OK;
}

/* "queued,running" -> PostgreSQL array text "{queued,running}", every name checked. */
static fr_err states_param(frs_req *r, char *out, size_t len)
{
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    const char *v = frs_param(r, "state");
    size_t used = 0;
    out[used++] = '{';
    for (const char *p = v; p && *p;) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (size_t k = 0; k < 5 && !known; k++)
            known = strlen(names[k]) == n && !strncmp(names[k], p, n);
        if (!known)
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                               "state '%.*s': expected queued, "
                               "running, done, failed or cancelled",
                               (int)(n > 32 ? 32 : n), p);
        if (used + n + 2 >= len) return fr_diag_set(&r->diag, FR_ERR_TOO_LARGE, "state: too long");
        if (used > 1) out[used++] = ',';
        memcpy(out + used, p, n);
        used += n;
        p += n + (p[n] == ',');
    }
    out[used++] = '}';
    out[used] = '\0';
    return FR_ERR_OK;
}

static fr_err int_param(frs_req *r, const char *name, long long lo, long long hi, long long *out)
{
    const char *v = frs_param(r, name);
    if (!v) return FR_ERR_OK;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "%s: expected an integer from %lld to "
                           "%lld, got '%.32s'",
                           name, lo, hi, v);
    *out = n;
    return FR_ERR_OK;
}

fr_err frs_jobs_list(frs_req *r)
{
    static const char *const allowed[] = {"state", "target", "category", "limit", "before", NULL};
    char states[96], limit_s[16], before_s[24];
    long long limit = LIST_DEFAULT, before = 0;
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK && frs_param(r, "state")) e = states_param(r, states, sizeof states);
    if (e == FR_ERR_OK) e = int_param(r, "limit", 1, LIST_MAX, &limit);
    if (e == FR_ERR_OK) e = int_param(r, "before", 1, INT64_MAX, &before);
    if (e != FR_ERR_OK) return e;
    snprintf(limit_s, sizeof limit_s, "%lld", limit);
    snprintf(before_s, sizeof before_s, "%lld", before);
    const char *p[] = {frs_param(r, "state") ? states : NULL, frs_param(r, "target"),
                       frs_param(r, "category"), before ? before_s : NULL, limit_s};
    frs_conn *c;
    PGresult *res;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_jobs_list, 5, p, &res, &r->diag);
    if (e != FR_ERR_OK) {
        frs_db_return(r->srv->db, c);
        return e;
    }
    json_t *list = json_array();
    int n = PQntuples(res);
    for (int i = 0; list && i < n; i++) {
        if (json_array_append_new(list, frs__job_summary(r->srv, c, res, i)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    frs_db_return(r->srv->db, c);
    json_t *next = json_null();
    if (n == limit) {
        /* The same filters, from the last id of this page. */
        char url[512];
        int len = snprintf(url, sizeof url, "/v1/jobs?limit=%lld&before=%s", limit,
                           PQgetvalue(res, n - 1, 0));
        static const char *const keep[] = {"state", "target", "category"};
        for (size_t k = 0; k < 3; k++)
            if (frs_param(r, keep[k]) && len > 0 && (size_t)len < sizeof url)
                len += snprintf(url + len, sizeof url - (size_t)len, "&%s=%s", keep[k],
                                frs_param(r, keep[k]));
        next = json_string(url);
    }
    PQclear(res);
    json_t *out = list ? json_pack("{s:o,s:o}", "jobs", list, "next", next) : NULL;
    if (!out) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "building the list");
    frs_reply_json(r, 200, out);
    return FR_ERR_OK;
}

fr_err frs_jobs_cache(frs_req *r)
{
    static const char *const allowed[] = {"reproducible", "exclude", "max_workspace", NULL};
    int64_t id = 0;
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = frs__path_id(r, 0, "job id", &id);
    if (e != FR_ERR_OK) return e;
    char state[16], error[1024], sid[24];
    e = job_state(r->srv, id, state, sizeof state, error, sizeof error, &r->diag);
    if (e != FR_ERR_OK) return e;
    if (strcmp(state, "done") != 0)
        return fr_diag_set(&r->diag, FR_ERR_CONFLICT,
                           "job %lld is %s%s%s: its cache is "
                           "served once it is done",
                           (long long)id, state, error[0] ? ": " : "", error);
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    const char *p[] = {sid};
    frs_conn *c;
    PGresult *res;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_job_categories, 1, p, &res, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    /* GET /v1/cache with these categories and the caller's policy parameters: the handler
     * reads them from req->params, so they are swapped in for the call. */
    char ids[FRS_MAX_CATEGORIES_PER_REQUEST * 17 + 1] = "";
    size_t used = 0;
    for (int i = 0; i < PQntuples(res) && i < FRS_MAX_CATEGORIES_PER_REQUEST; i++)
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%s", i ? "," : "",
                                 PQgetvalue(res, i, 0));
    PQclear(res);
    if (!used)
        return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "job %lld has no results", (long long)id);
    frs_kv saved[FRS_MAX_PARAMS];
    size_t nsaved = r->nparams;
    memcpy(saved, r->params, sizeof saved);
    if (r->nparams == FRS_MAX_PARAMS)
        return fr_diag_set(&r->diag, FR_ERR_TOO_LARGE, "too many parameters");
    r->params[r->nparams].name = "category";
    r->params[r->nparams].value = ids;
    r->nparams++;
    e = frs_cache_get(r);
    memcpy(r->params, saved, sizeof saved);
    r->nparams = nsaved;
    return e;
}
