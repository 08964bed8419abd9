/*
 * lease.c - what a worker holding a job may do, each call fenced (role worker; body
 * {"worker_id", "attempt", ...}):
 *   POST /v1/jobs/{id}/heartbeat   -> 200 {"lease_expires_at", "lease_seconds"}: the lease runs
 *                                     a full lease_seconds from now;
 *   POST /v1/jobs/{id}/complete    -> 200 the job (done); 409 conflict while operators are
 *                                     still pending;
 *   POST /v1/jobs/{id}/release     {"reason"?} -> 200 the job, back in the queue at once: the
 *                                     worker is stopping (SIGTERM); not a failed attempt;
 *   POST /v1/jobs/{id}/fail        {"reason"} -> 200 the job: a failed attempt (re-queued after
 *                                     a backoff, or failed for good once max_failures is hit).
 * The per-operator report is in job_report.c.
 *
 * The fence: every call names (worker_id, attempt) and is refused with 409 code "lease_lost"
 * unless the job is running with that worker and attempt under an unexpired lease, checked
 * with the job's row locked. A worker whose lease lapsed (it was paused, cut off, or too slow
 * to heartbeat) can therefore never report, heartbeat or complete again: the job has moved on
 * to another attempt, and its late calls are refused rather than mixed into it.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fr_err frs__fence(frs_conn *c, int64_t job_id, int64_t worker_id, int attempt, frs__lease *out,
                  fr_diag *d)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)job_id);
    const char *p[] = {sid};
    PGresult *res;
    fr_err e = frs_db_exec(c, FRS_Q_job_lock, 1, p, &res, d);
    if (e != FR_ERR_OK) return e;
    enum { STATE, WORKER, ATTEMPT, VALID, CAT, FAILURES, MAXF, LEASE };
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fr_diag_set(d, FR_ERR_NOT_FOUND, "no job %s", sid);
    }
    const char *state = PQgetvalue(res, 0, STATE);
    long long holder =
        PQgetisnull(res, 0, WORKER) ? 0 : strtoll(PQgetvalue(res, 0, WORKER), NULL, 10);
    int now = (int)strtol(PQgetvalue(res, 0, ATTEMPT), NULL, 10);
    if (strcmp(state, "running") != 0 && frs__job_final(state))
        e = fr_diag_set(d, FR_ERR_LEASE_LOST, "job %s is %s", sid, state);
    else if (strcmp(state, "running") != 0)
        e = fr_diag_set(d, FR_ERR_LEASE_LOST,
                        "job %s is back in the queue: attempt %d lost its "
                        "lease",
                        sid, now);
    else if (holder != worker_id || now != attempt)
        e = fr_diag_set(d, FR_ERR_LEASE_LOST,
                        "job %s is now attempt %d of worker %lld, not "
                        "attempt %d of worker %lld",
                        sid, now, holder, attempt, (long long)worker_id);
    else if (PQgetvalue(res, 0, VALID)[0] != 't')
        e = fr_diag_set(d, FR_ERR_LEASE_LOST, "the lease of attempt %d of job %s expired at %s",
                        attempt, sid, PQgetvalue(res, 0, LEASE));
    if (e == FR_ERR_OK) {
        out->job_id = job_id;
        out->worker_id = worker_id;
        out->attempt = attempt;
        snprintf(out->category, sizeof out->category, "%s", PQgetvalue(res, 0, CAT));
        out->failures = (int)strtol(PQgetvalue(res, 0, FAILURES), NULL, 10);
        out->max_failures = (int)strtol(PQgetvalue(res, 0, MAXF), NULL, 10);
    }
    PQclear(res);
    return e;
}

fr_err frs__lease_args(frs_req *r, json_t **body, int64_t *worker_id, int *attempt)
{
    int64_t a;
    fr_err e = frs_body_object(r, body);
    if (e == FR_ERR_OK) e = frs__json_int(*body, "worker_id", 1, INT64_MAX, worker_id, &r->diag);
    if (e == FR_ERR_OK) e = frs__json_int(*body, "attempt", 1, 1000000, &a, &r->diag);
    if (e == FR_ERR_OK) *attempt = (int)a;
    return e;
}

fr_err frs__attempt_failed(frs_conn *c, int64_t job_id, int attempt, int failures, int max_failures,
                           const char *outcome, const char *detail, bool *out_failed, fr_diag *d)
{
    char id[24], att[16], reason[1200];
    snprintf(id, sizeof id, "%lld", (long long)job_id);
    snprintf(att, sizeof att, "%d", attempt);
    const char *end[] = {id, att, outcome, detail};
    fr_err e = frs_db_exec(c, FRS_Q_job_attempt_end, 4, end, NULL, d);
    bool last = failures + 1 >= max_failures;
    if (out_failed) *out_failed = last;
    if (e != FR_ERR_OK) return e;
    if (last) {
        snprintf(reason, sizeof reason, "gave up after %d failed attempts; the last: %s",
                 failures + 1, detail);
        const char *fin[] = {id, "failed", reason};
        return frs_db_exec(c, FRS_Q_job_finish, 3, fin, NULL, d);
    }
    char backoff[32];
    snprintf(backoff, sizeof backoff, "%g", frs__backoff_s(failures + 1));
    snprintf(reason, sizeof reason, "attempt %d: %s", attempt, detail);
    const char *rq[] = {id, "1", backoff, reason};
    return frs_db_exec(c, FRS_Q_job_requeue, 4, rq, NULL, d);
}

/* Everything a fenced call starts with: arguments, the worker (same token), a transaction, and
 * the fence. On success the caller owns *c (in a transaction) and returns it. */
static fr_err begin_fenced(frs_req *r, json_t **body, frs_conn **c, frs__lease *lease,
                           frs__worker *w)
{
    int64_t job_id, worker_id;
    int attempt;
    memset(w, 0, sizeof *w);
    *c = NULL;
    fr_err e = frs__path_id(r, 0, "job id", &job_id);
    if (e == FR_ERR_OK) e = frs__lease_args(r, body, &worker_id, &attempt);
    if (e == FR_ERR_OK) e = frs_db_borrow(r->srv->db, c, &r->diag);
    if (e == FR_ERR_OK) e = frs__worker_seen(*c, worker_id, &r->who, w, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_begin(*c, false, &r->diag);
    if (e == FR_ERR_OK) e = frs__fence(*c, job_id, worker_id, attempt, lease, &r->diag);
    if (e != FR_ERR_OK) {
        frs_db_return(r->srv->db, *c);
        *c = NULL;
        frs__worker_cleanup(w);
    }
    return e;
}

/* Commits, then answers with the job's JSON. Always returns c. */
static fr_err commit_reply_job(frs_req *r, frs_conn *c, int64_t job_id, fr_err e)
{
    json_t *job = NULL;
    if (e == FR_ERR_OK) e = frs_db_commit(c, &r->diag);
    if (e == FR_ERR_OK) e = frs__job_json(r->srv, c, job_id, false, &job, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    frs_reply_json(r, 200, job);
    return FR_ERR_OK;
}

/* The optional or required "reason" of release and fail, cut to fit. */
static fr_err reason_of(frs_req *r, const json_t *body, bool required, char *out, size_t len)
{
    const json_t *v = json_object_get(body, "reason");
    out[0] = '\0';
    if (!v && !required) return FR_ERR_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "reason: expected a non-empty string");
    snprintf(out, len, "%s", json_string_value(v));
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    return FR_ERR_OK;
}

fr_err frs_jobs_heartbeat(frs_req *r)
{
    json_t *body;
    frs_conn *c;
    frs__lease lease;
    frs__worker w;
    fr_err e = begin_fenced(r, &body, &c, &lease, &w);
    if (e != FR_ERR_OK) return e;
    frs__worker_cleanup(&w);
    char id[24], secs[32];
    snprintf(id, sizeof id, "%lld", (long long)lease.job_id);
    snprintf(secs, sizeof secs, "%g", r->srv->cfg.lease_s);
    const char *p[] = {id, secs};
    PGresult *res = NULL;
    e = frs_db_exec(c, FRS_Q_job_lease_extend, 2, p, &res, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_commit(c, &r->diag);
    frs_db_return(r->srv->db, c);
    json_t *out = e == FR_ERR_OK ? json_pack("{s:s,s:f}", "lease_expires_at", PQgetvalue(res, 0, 0),
                                             "lease_seconds", r->srv->cfg.lease_s)
                                 : NULL;
    PQclear(res);
    if (e != FR_ERR_OK) return e;
    if (!out) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    frs_reply_json(r, 200, out);
    return FR_ERR_OK;
}

fr_err frs_jobs_complete(frs_req *r)
{
    json_t *body;
    frs_conn *c;
    frs__lease lease;
    frs__worker w;
    fr_err e = begin_fenced(r, &body, &c, &lease, &w);
    if (e != FR_ERR_OK) return e;
    char id[24], att[16], detail[300];
    snprintf(id, sizeof id, "%lld", (long long)lease.job_id);
    snprintf(att, sizeof att, "%d", lease.attempt);
    snprintf(detail, sizeof detail, "completed by worker '%s'", w.name);
    frs__worker_cleanup(&w);
    const char *p[] = {id};
    PGresult *res = NULL;
    e = frs_db_exec(c, FRS_Q_job_progress, 1, p, &res, &r->diag);
    long long pending = e == FR_ERR_OK ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (e == FR_ERR_OK && pending > 0)
        e = fr_diag_set(&r->diag, FR_ERR_CONFLICT,
                        "%lld operators of job %s are still pending: "
                        "report them first",
                        pending, id);
    const char *end[] = {id, att, "completed", detail};
    const char *fin[] = {id, "done", NULL};
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_attempt_end, 4, end, NULL, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_finish, 3, fin, NULL, &r->diag);
    return commit_reply_job(r, c, lease.job_id, e);
}

fr_err frs_jobs_release(frs_req *r)
{
    json_t *body;
    frs_conn *c;
    frs__lease lease;
    frs__worker w;
    fr_err e = begin_fenced(r, &body, &c, &lease, &w);
    if (e != FR_ERR_OK) return e;
    char id[24], att[16], reason[600], detail[900];
    snprintf(id, sizeof id, "%lld", (long long)lease.job_id);
    snprintf(att, sizeof att, "%d", lease.attempt);
    e = reason_of(r, body, false, reason, sizeof reason);
    snprintf(detail, sizeof detail, "handed back by worker '%s'%s%s", w.name, reason[0] ? ": " : "",
             reason);
    frs__worker_cleanup(&w);
    const char *end[] = {id, att, "released", detail};
    const char *rq[] = {id, "0", "0", NULL};
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_attempt_end, 4, end, NULL, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_requeue, 4, rq, NULL, &r->diag);
    e = commit_reply_job(r, c, lease.job_id, e);
    if (e == FR_ERR_OK) frs_jobs_ring();
    return e;
}

fr_err frs_jobs_fail(frs_req *r)
{
    json_t *body;
    frs_conn *c;
    frs__lease lease;
    frs__worker w;
    fr_err e = begin_fenced(r, &body, &c, &lease, &w);
    if (e != FR_ERR_OK) return e;
    char reason[600], detail[900];
    e = reason_of(r, body, true, reason, sizeof reason);
    snprintf(detail, sizeof detail, "worker '%s' (id %lld, host %s) failed: %s", w.name,
             (long long)w.id, w.host, reason);
    frs__worker_cleanup(&w);
    if (e == FR_ERR_OK)
        e = frs__attempt_failed(c, lease.job_id, lease.attempt, lease.failures, lease.max_failures,
                                "failed", detail, NULL, &r->diag);
    e = commit_reply_job(r, c, lease.job_id, e);
    if (e == FR_ERR_OK) frs_jobs_ring();
    return e;
}
