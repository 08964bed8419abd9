/*
 * job_view.c - a job as JSON, the one shape every jobs route answers with (and the dashboard
 * reads). The summary (GET /v1/jobs lists it, POST and DELETE answer it):
 *   {"id", "url", "cache_url", "state": "queued|running|done|failed|cancelled",
 *    "model", "target", "target_kind": "pool|category", "mode": "fast|full",
 *    "weight_preprocess", "priority", "force", "category" (or null),
 *    "attempt", "failures", "max_failures", "worker": {"id","name","host"} or null,
 *    "lease_expires_at", "not_before", "error" (or null), "created_at", "started_at",
 *    "finished_at", "updated_at",
 *    "progress": {"total","pending","cached","done","percent"}, "note" (or null)}
 * With details (GET /v1/jobs/{id}) also
 *   "operators": [{"index","name","key","state": "pending|cached|done","category","attempt",
 *                  "worker_id","reports","candidates","failed_candidates",
 *                  "best": {"algorithm","median_ms"} or null,"duration_s","conditions",
 *                  "finished_at"}],
 *   "attempts": [{"attempt","worker": {"id","name","host"},"category","started_at","ended_at",
 *                 "outcome": "running|completed|released|lease_expired|failed|cancelled",
 *                 "detail"}],
 *   "errors": [the detail of every attempt that failed, oldest first].
 * The note says why a job is not moving: "no live worker in pool 'gpu'", a backoff, a lapsed
 * lease.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of job_get and jobs_list (sql/queries/jobs.sql). */
enum {
    C_ID,
    C_STATE,
    C_MODEL,
    C_TARGET_KIND,
    C_TARGET,
    C_MODE,
    C_WP,
    C_PRIORITY,
    C_FORCE,
    C_CATEGORY,
    C_ATTEMPT,
    C_FAILURES,
    C_MAX_FAILURES,
    C_WORKER_ID,
    C_WORKER_NAME,
    C_WORKER_HOST,
    C_LEASE,
    C_NOT_BEFORE,
    C_ERROR,
    C_CREATED,
    C_STARTED,
    C_FINISHED,
    C_UPDATED,
    C_PENDING,
    C_CACHED,
    C_DONE,
    C_TOTAL,
    C_LAPSED
};

bool frs__job_final(const char *state)
{
    return !strcmp(state, "done") || !strcmp(state, "failed") || !strcmp(state, "cancelled");
}

static json_t *col_str(PGresult *res, int i, int c)
{
    return PQgetisnull(res, i, c) ? json_null() : json_string(PQgetvalue(res, i, c));
}

static json_t *col_int(PGresult *res, int i, int c)
{
    return PQgetisnull(res, i, c) ? json_null()
                                  : json_integer(strtoll(PQgetvalue(res, i, c), NULL, 10));
}

static json_t *col_real(PGresult *res, int i, int c)
{
    return PQgetisnull(res, i, c) ? json_null() : json_real(strtod(PQgetvalue(res, i, c), NULL));
}

static bool col_bool(PGresult *res, int i, int c)
{
    return !PQgetisnull(res, i, c) && PQgetvalue(res, i, c)[0] == 't';
}

static json_t *col_json(PGresult *res, int i, int c)
{
    if (PQgetisnull(res, i, c)) return json_null();
    json_t *v = json_loads(PQgetvalue(res, i, c), 0, NULL);
    return v ? v : json_null();
}

/* Why a job is not moving, or "" when it is. */
static void note_of(frs_server *s, frs_conn *c, PGresult *res, int i, char *out, size_t len)
{
    const char *state = PQgetvalue(res, i, C_STATE);
    bool pool = !strcmp(PQgetvalue(res, i, C_TARGET_KIND), "pool");
    const char *target = PQgetvalue(res, i, C_TARGET);
    out[0] = '\0';
    if (!strcmp(state, "running") && col_bool(res, i, C_LAPSED)) {
        snprintf(out, len,
                 "the lease of worker '%s' expired at %s: it stopped heartbeating; "
                 "the job goes back to the queue",
                 PQgetvalue(res, i, C_WORKER_NAME), PQgetvalue(res, i, C_LEASE));
        return;
    }
    if (strcmp(state, "queued") != 0) return;
    char window[32];
    snprintf(window, sizeof window, "%g", frs__live_window_s(&s->cfg));
    const char *p[] = {pool ? target : NULL, target, window};
    PGresult *live;
    fr_diag ignored;
    if (frs_db_exec(c, FRS_Q_workers_live, 3, p, &live, &ignored) != FR_ERR_OK) return;
    bool none = strtoll(PQgetvalue(live, 0, 0), NULL, 10) == 0;
    PQclear(live);
    if (none)
        snprintf(out, len, pool ? "no live worker in pool '%s'" : "no live worker of category %s",
                 target);
    else if (!PQgetisnull(res, i, C_ERROR))
        snprintf(out, len, "retrying after %s (not before %s)", PQgetvalue(res, i, C_ERROR),
                 PQgetvalue(res, i, C_NOT_BEFORE));
    else
        snprintf(out, len, "waiting for a worker %s %s", pool ? "in pool" : "of category", target);
}

json_t *frs__job_summary(frs_server *s, frs_conn *c, PGresult *res, int i)
{
    long long id = strtoll(PQgetvalue(res, i, C_ID), NULL, 10);
    char url[48], cache_url[56], note[512];
    snprintf(url, sizeof url, "/v1/jobs/%lld", id);
    snprintf(cache_url, sizeof cache_url, "/v1/jobs/%lld/cache", id);
    note_of(s, c, res, i, note, sizeof note);
    long long total = strtoll(PQgetvalue(res, i, C_TOTAL), NULL, 10);
    long long finished = strtoll(PQgetvalue(res, i, C_CACHED), NULL, 10) +
                         strtoll(PQgetvalue(res, i, C_DONE), NULL, 10);
    json_t *worker =
        PQgetisnull(res, i, C_WORKER_ID)
            ? json_null()
            : json_pack("{s:o,s:o,s:o}", "id", col_int(res, i, C_WORKER_ID), "name",
                        col_str(res, i, C_WORKER_NAME), "host", col_str(res, i, C_WORKER_HOST));
    json_t *progress = json_pack("{s:o,s:o,s:o,s:o,s:f}", "total", col_int(res, i, C_TOTAL),
                                 "pending", col_int(res, i, C_PENDING), "cached",
                                 col_int(res, i, C_CACHED), "done", col_int(res, i, C_DONE),
                                 "percent", total ? 100.0 * (double)finished / (double)total : 0);
    return json_pack(
        "{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
        "s:o,s:o,s:o,s:o}",
        "id", (json_int_t)id, "url", url, "cache_url", cache_url, "state", col_str(res, i, C_STATE),
        "model", col_str(res, i, C_MODEL), "target", col_str(res, i, C_TARGET), "target_kind",
        col_str(res, i, C_TARGET_KIND), "mode", col_str(res, i, C_MODE), "weight_preprocess",
        col_bool(res, i, C_WP), "priority", col_int(res, i, C_PRIORITY), "force",
        col_bool(res, i, C_FORCE), "category", col_str(res, i, C_CATEGORY), "attempt",
        col_int(res, i, C_ATTEMPT), "failures", col_int(res, i, C_FAILURES), "max_failures",
        col_int(res, i, C_MAX_FAILURES), "worker", worker, "lease_expires_at",
        col_str(res, i, C_LEASE), "not_before", col_str(res, i, C_NOT_BEFORE), "error",
        col_str(res, i, C_ERROR), "created_at", col_str(res, i, C_CREATED), "started_at",
        col_str(res, i, C_STARTED), "finished_at", col_str(res, i, C_FINISHED), "updated_at",
        col_str(res, i, C_UPDATED), "progress", progress, "note",
        note[0] ? json_string(note) : json_null());
}

static json_t *operator_json(PGresult *res, int i)
{
    enum {
        IDX,
        NAME,
        KEY,
        STATE,
        CAT,
        ATTEMPT,
        WORKER,
        REPORTS,
        CANDS,
        FAILED,
        BEST,
        BEST_MS,
        DURATION,
        CONDITIONS,
        FINISHED
    };
    json_t *best = PQgetisnull(res, i, BEST)
                       ? json_null()
                       : json_pack("{s:o,s:o}", "algorithm", col_str(res, i, BEST), "median_ms",
                                   col_real(res, i, BEST_MS));
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "index",
                     col_int(res, i, IDX), "name", col_str(res, i, NAME), "key",
                     col_str(res, i, KEY), "state", col_str(res, i, STATE), "category",
                     col_str(res, i, CAT), "attempt", col_int(res, i, ATTEMPT), "worker_id",
                     col_int(res, i, WORKER), "reports", col_int(res, i, REPORTS), "candidates",
                     col_int(res, i, CANDS), "failed_candidates", col_int(res, i, FAILED), "best",
                     best, "duration_s", col_real(res, i, DURATION), "conditions",
                     col_json(res, i, CONDITIONS), "finished_at", col_str(res, i, FINISHED));
}

static json_t *attempt_json(PGresult *res, int i)
{
    enum { ATTEMPT, WORKER, NAME, HOST, CAT, STARTED, ENDED, OUTCOME, DETAIL };
    return json_pack("{s:o,s:{s:o,s:o,s:o},s:o,s:o,s:o,s:o,s:o}", "attempt",
                     col_int(res, i, ATTEMPT), "worker", "id", col_int(res, i, WORKER), "name",
                     col_str(res, i, NAME), "host", col_str(res, i, HOST), "category",
                     col_str(res, i, CAT), "started_at", col_str(res, i, STARTED), "ended_at",
                     col_str(res, i, ENDED), "outcome", col_str(res, i, OUTCOME), "detail",
                     col_str(res, i, DETAIL));
}

/* Adds "operators", "attempts" and "errors" to job. */
static fr_err add_details(frs_conn *c, const char *id, json_t *job, fr_diag *d)
{
    const char *p[] = {id};
    PGresult *ops = NULL, *atts = NULL;
    fr_err e = frs_db_exec(c, FRS_Q_job_operators_list, 1, p, &ops, d);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_attempts_list, 1, p, &atts, d);
    json_t *jo = json_array(), *ja = json_array(), *je = json_array();
    bool ok = e == FR_ERR_OK && jo && ja && je;
    for (int i = 0; ok && i < PQntuples(ops); i++)
        ok = json_array_append_new(jo, operator_json(ops, i)) == 0;
    for (int i = 0; ok && i < PQntuples(atts); i++) {
        ok = json_array_append_new(ja, attempt_json(atts, i)) == 0;
        const char *outcome = PQgetvalue(atts, i, 7);
        if (ok && (!strcmp(outcome, "lease_expired") || !strcmp(outcome, "failed"))) {
            char line[1200];
            snprintf(line, sizeof line, "attempt %s: %s", PQgetvalue(atts, i, 0),
                     PQgetvalue(atts, i, 8));
            ok = json_array_append_new(je, json_string(line)) == 0;
        }
    }
    PQclear(ops);
    PQclear(atts);
    if (ok)
        ok = !json_object_set_new(job, "operators", jo) &&
             !json_object_set_new(job, "attempts", ja) && !json_object_set_new(job, "errors", je);
    else {
        json_decref(jo);
        json_decref(ja);
        json_decref(je);
    }
    if (e == FR_ERR_OK && !ok) e = fr_diag_set(d, FR_ERR_NOMEM, "building the job's JSON");
    return e;
}

fr_err frs__job_json(frs_server *s, frs_conn *c, int64_t id, bool details, json_t **out, fr_diag *d)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    const char *p[] = {sid};
    PGresult *res;
    *out = NULL;
    fr_err e = frs_db_exec(c, FRS_Q_job_get, 1, p, &res, d);
    if (e != FR_ERR_OK) return e;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fr_diag_set(d, FR_ERR_NOT_FOUND, "no job %s", sid);
    }
    json_t *job = frs__job_summary(s, c, res, 0);
    PQclear(res);
    if (!job) return fr_diag_set(d, FR_ERR_NOMEM, "building the job's JSON");
    if (details) e = add_details(c, sid, job, d);
    if (e != FR_ERR_OK) {
        json_decref(job);
        return e;
    }
    *out = job;
    return FR_ERR_OK;
}
