/*
 * jobs.c - profiling jobs, the submitter's side:
 *   POST   /v1/jobs        submit a model for a target (a worker pool, or an exact category);
 *   DELETE /v1/jobs/{id}   cancel a queued or running job.
 * Reading jobs (GET, wait, list, the job's cache) is in job_read.c; the workers' side in
 * workers.c, claim.c, lease.c and job_report.c.
 *
 * A submission is one of two bodies (Content-Type: application/json):
 *   the model file itself, with the options in the query string, so CI needs only curl:
 *     POST /v1/jobs?target=default&mode=fast  --data-binary @resnet50-b1.json
 *   or {"model": {...}, "target": "...", "mode": "fast"|"full", "weight_preprocess": false,
 *       "priority": 0, "force": false} with no query string.
 * target is a category id (16 lowercase hex digits, `fastrun info`) or a pool name
 * ([A-Za-z0-9][A-Za-z0-9._-]{0,63}; never 16 hex digits, so the two cannot be confused).
 *
 * The server-side resume: unless force, operators whose key already has results in the job's
 * category are marked cached and never handed to a worker. For a category target that happens
 * here; for a pool target the category is known only when a worker claims (claim.c). A job whose
 * operators are all cached is done at once.
 */
#include "jobs_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------------------------------------------------------------------------------------------
 * Helpers shared by the jobs files (jobs_int.h)
 * ------------------------------------------------------------------------------------------- */
double frs__live_window_s(const frs_config *cfg)
{
    /* An idle worker polls at least every FRS_CLAIM_WAIT_MAX_S; a busy one heartbeats every
     * third of a lease. Three missed polls or leases mean it is gone. */
    double lease = 3 * cfg->lease_s, poll = 3.0 * FRS_CLAIM_WAIT_MAX_S;
    return lease > poll ? lease : poll;
}

double frs__backoff_s(int failures)
{
    double s = 1;
    for (int i = 1; i < failures && s < 60; i++)
        s *= 2;
    return s < 60 ? s : 60;
}

fr_err frs__path_id(frs_req *r, size_t i, const char *what, int64_t *out)
{
    const char *s = r->path_params[i];
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v <= 0)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "%s: expected a positive integer, "
                           "got '%.32s'",
                           what, s ? s : "");
    *out = v;
    return FR_ERR_OK;
}

fr_err frs__json_int(const json_t *obj, const char *field, int64_t lo, int64_t hi, int64_t *out,
                     fr_diag *d)
{
    const json_t *v = json_object_get(obj, field);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "%s: expected an integer from %lld to %lld",
                           field, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return FR_ERR_OK;
}

fr_err frs__param_seconds(frs_req *r, const char *name, double max, double *out)
{
    const char *v = frs_param(r, name);
    *out = 0;
    if (!v) return FR_ERR_OK;
    char *end;
    errno = 0;
    double s = strtod(v, &end);
    if (!*v || *end || errno || !(s >= 0) || s > max)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "%s: expected seconds from 0 to %g, "
                           "got '%.32s'",
                           name, max, v);
    *out = s;
    return FR_ERR_OK;
}

bool frs__client_gone(const frs_req *r)
{
    if (r->client_fd < 0) return false;
    struct pollfd p = {.fd = r->client_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void frs__sleep_until(uint64_t deadline_us, uint64_t step_us)
{
    uint64_t now = frs_now_us();
    if (now >= deadline_us) return;
    uint64_t us = deadline_us - now < step_us ? deadline_us - now : step_us;
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------------------------------------
 * POST /v1/jobs
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const json_t *model; /* borrowed from the body */
    char target[65];
    bool is_category;
    bool full, wp, force;
    int priority;
} submission;

static bool is_category_id(const char *s)
{
    if (strlen(s) != 16) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

fr_err frs__check_pool(const char *pool, fr_diag *d)
{
    size_t len = strlen(pool);
    bool ok = len >= 1 && len <= 64 && !is_category_id(pool);
    for (size_t i = 0; ok && i < len; i++) {
        char c = pool[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
    }
    if (ok) return FR_ERR_OK;
    return fr_diag_set(d, FR_ERR_BAD_REQUEST,
                       "pool '%.64s': expected 1 to 64 of A-Z a-z 0-9 . _ - "
                       "(starting with a letter or digit, and not 16 hex digits)",
                       pool);
}

static fr_err set_target(submission *s, const char *target, fr_diag *d)
{
    if (!target || !*target)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST,
                           "target: missing (a worker pool name, or a "
                           "category id from `fastrun info`)");
    if (strlen(target) >= sizeof s->target)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "target: longer than 64 characters");
    s->is_category = is_category_id(target);
    if (!s->is_category) {
        fr_err e = frs__check_pool(target, d);
        if (e != FR_ERR_OK) return e;
    }
    snprintf(s->target, sizeof s->target, "%s", target);
    return FR_ERR_OK;
}

static fr_err set_mode(submission *s, const char *mode, fr_diag *d)
{
    if (!mode || !strcmp(mode, "fast"))
        s->full = false;
    else if (!strcmp(mode, "full"))
        s->full = true;
    else
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "mode: expected fast or full, got '%.32s'", mode);
    return FR_ERR_OK;
}

static fr_err param_bool(frs_req *r, const char *name, bool *out)
{
    const char *v = frs_param(r, name);
    if (!v) return FR_ERR_OK;
    if (!strcmp(v, "1") || !strcasecmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false"))
        *out = false;
    else
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "%s: expected 1 or 0, got '%.32s'", name,
                           v);
    return FR_ERR_OK;
}

/* The model file as the body, options in the query string. */
static fr_err from_query(frs_req *r, const json_t *body, submission *s)
{
    static const char *const allowed[] = {"target",   "mode",  "weight_preprocess",
                                          "priority", "force", NULL};
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = set_target(s, frs_param(r, "target"), &r->diag);
    if (e == FR_ERR_OK) e = set_mode(s, frs_param(r, "mode"), &r->diag);
    if (e == FR_ERR_OK) e = param_bool(r, "weight_preprocess", &s->wp);
    if (e == FR_ERR_OK) e = param_bool(r, "force", &s->force);
    const char *p = frs_param(r, "priority");
    if (e == FR_ERR_OK && p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (!*p || *end || errno || v < -1000 || v > 1000)
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                               "priority: expected an integer "
                               "from -1000 to 1000, got '%.32s'",
                               p);
        s->priority = (int)v;
    }
    s->model = body;
    return e;
}

/* {"model": {...}, "target": ..., ...}. */
static fr_err from_envelope(frs_req *r, const json_t *body, submission *s)
{
    const char *k;
    json_t *v;
    if (r->nparams)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "give the options either in the query "
                           "string (with the model file as the body) or in the body, not both");
    json_object_foreach((json_t *)body, k, v)
    {
        if (strcmp(k, "model") && strcmp(k, "target") && strcmp(k, "mode") &&
            strcmp(k, "weight_preprocess") && strcmp(k, "priority") && strcmp(k, "force"))
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "%.64s: unknown field", k);
    }
    const json_t *target = json_object_get(body, "target"), *mode = json_object_get(body, "mode");
    if (!json_is_string(target))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "target: expected a string");
    if (mode && !json_is_string(mode))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "mode: expected \"fast\" or \"full\"");
    fr_err e = set_target(s, json_string_value(target), &r->diag);
    if (e == FR_ERR_OK) e = set_mode(s, mode ? json_string_value(mode) : NULL, &r->diag);
    static const char *const flags[] = {"weight_preprocess", "force"};
    bool *dst[] = {&s->wp, &s->force};
    for (size_t i = 0; e == FR_ERR_OK && i < 2; i++) {
        const json_t *f = json_object_get(body, flags[i]);
        if (f && !json_is_boolean(f))
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "%s: expected true or false",
                               flags[i]);
        *dst[i] = json_is_true(f);
    }
    int64_t prio = 0;
    if (e == FR_ERR_OK && json_object_get(body, "priority"))
        e = frs__json_int(body, "priority", -1000, 1000, &prio, &r->diag);
    s->priority = (int)prio;
    s->model = json_object_get(body, "model");
    return e;
}

/* The operators' names and keys as a JSON array for job_operators_insert. */
static fr_err operators_json(const fr_model *m, bool wp, char **out)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < m->nops; i++) {
        char key[FR_MAX_KEY_LEN];
        fr_op_key(&m->ops[i].op, wp, key, sizeof key);
        if (json_array_append_new(
                arr, json_pack("{s:s,s:s}", "name", m->ops[i].name, "key", key)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    *out = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return *out ? FR_ERR_OK : FR_ERR_NOMEM;
}

/* Inserts the job and its operators, resumes against a category target, in one transaction. */
static fr_err insert_job(frs_req *r, const submission *s, const fr_model *m, int64_t *out_id)
{
    char *model = json_dumps(s->model, JSON_COMPACT), *ops = NULL;
    char prio[16], maxf[16], token[24], id[24];
    fr_err e = model ? operators_json(m, s->wp, &ops) : FR_ERR_NOMEM;
    if (e != FR_ERR_OK) {
        free(model);
        return fr_diag_set(&r->diag, e, "out of memory");
    }
    snprintf(prio, sizeof prio, "%d", s->priority);
    snprintf(maxf, sizeof maxf, "%u", r->srv->cfg.max_failures);
    snprintf(token, sizeof token, "%lld", (long long)r->who.token_id);
    const char *ins[] = {m->name,
                         model,
                         s->is_category ? "category" : "pool",
                         s->target,
                         s->full ? "full" : "fast",
                         s->wp ? "true" : "false",
                         prio,
                         s->force ? "true" : "false",
                         maxf,
                         r->who.token_id ? token : NULL,
                         s->is_category ? s->target : NULL};
    frs_conn *c;
    PGresult *res = NULL;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_begin(c, false, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_insert, 11, ins, &res, &r->diag);
    if (e == FR_ERR_OK) {
        *out_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(id, sizeof id, "%lld", (long long)*out_id);
        const char *p[] = {id, ops};
        e = frs_db_exec(c, FRS_Q_job_operators_insert, 2, p, NULL, &r->diag);
    }
    PQclear(res);
    res = NULL;
    if (e == FR_ERR_OK && s->is_category && !s->force) {
        const char *p[] = {id, s->target};
        e = frs_db_exec(c, FRS_Q_job_operators_cache, 2, p, &res, &r->diag);
        bool all = e == FR_ERR_OK && strtoll(PQgetvalue(res, 0, 0), NULL, 10) == (long long)m->nops;
        const char *fin[] = {id, "done", NULL};
        if (all) e = frs_db_exec(c, FRS_Q_job_finish, 3, fin, NULL, &r->diag);
    }
    PQclear(res);
    if (e == FR_ERR_OK) e = frs_db_commit(c, &r->diag);
    frs_db_return(r->srv->db, c);
    free(model);
    free(ops);
    return e;
}

fr_err frs_jobs_post(frs_req *r)
{
    json_t *body;
    submission s = {0};
    fr_model m = {0};
    int64_t id = 0;
    fr_err e = frs_body_object(r, &body);
    if (e != FR_ERR_OK) return e;
    if (json_object_get(body, "operators"))
        e = from_query(r, body, &s);
    else if (json_object_get(body, "model"))
        e = from_envelope(r, body, &s);
    else
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                        "expected a model file (with "
                        "\"operators\") or {\"model\": {...}, \"target\": ...}");
    if (e == FR_ERR_OK && !json_is_object(s.model))
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "model: expected a JSON object");
    if (e == FR_ERR_OK) e = fr_model_from_json(s.model, "model", &m, &r->diag);
    if (e == FR_ERR_OK) e = insert_job(r, &s, &m, &id);
    fr_model_cleanup(&m);
    if (e != FR_ERR_OK) return e;
    frs_jobs_ring();

    json_t *job;
    frs_conn *c;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs__job_json(r->srv, c, id, false, &job, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    char url[48];
    snprintf(url, sizeof url, "/v1/jobs/%lld", (long long)id);
    frs_reply_json(r, 201, job);
    frs_reply_header(r, "Location", url);
    return FR_ERR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * DELETE /v1/jobs/{id}
 * ------------------------------------------------------------------------------------------- */
fr_err frs_jobs_cancel(frs_req *r)
{
    static const char *const allowed[] = {NULL};
    int64_t id = 0;
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = frs__path_id(r, 0, "job id", &id);
    if (e != FR_ERR_OK) return e;
    char sid[24], why[200];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    snprintf(why, sizeof why, "cancelled by '%s'", r->who.name);
    frs_conn *c;
    PGresult *res = NULL;
    const char *p[] = {sid};
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_begin(c, false, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_lock, 1, p, &res, &r->diag);
    if (e == FR_ERR_OK && PQntuples(res) == 0)
        e = fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "no job %lld", (long long)id);
    if (e == FR_ERR_OK && frs__job_final(PQgetvalue(res, 0, 0)))
        e = fr_diag_set(&r->diag, FR_ERR_CONFLICT, "job %lld is already %s", (long long)id,
                        PQgetvalue(res, 0, 0));
    if (e == FR_ERR_OK && !strcmp(PQgetvalue(res, 0, 0), "running")) {
        const char *end[] = {sid, PQgetvalue(res, 0, 2), "cancelled", why};
        e = frs_db_exec(c, FRS_Q_job_attempt_end, 4, end, NULL, &r->diag);
    }
    const char *fin[] = {sid, "cancelled", why};
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_finish, 3, fin, NULL, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_commit(c, &r->diag);
    PQclear(res);
    json_t *job = NULL;
    if (e == FR_ERR_OK) e = frs__job_json(r->srv, c, id, false, &job, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    frs_reply_json(r, 200, job);
    return FR_ERR_OK;
}
