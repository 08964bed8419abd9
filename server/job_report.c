/*
 * job_report.c - POST /v1/jobs/{id}/operators/{index} (role worker): one profiled operator.
 *
 * Body: {"worker_id", "attempt",            the fence (lease.c)
 *        "key": "conv2d n=1 ...",           must be the operator's key
 *        "results": [{...}, ...],           as in a cache document (1 to 64, failures included)
 *        "conditions": {"threads", "load1", "lock_waited", "lock_wait_s", "started_at",
 *                       "duration_s"},      how it was measured (any flat object, kept as is)
 *        "profile": {"candidates", "failed", "seconds"}}   (optional)
 * -> 200 {"index", "state": "done", "operators": [indexes marked done], "pending",
 *         "upload_id", "reports_added", "lease_expires_at"}
 *
 * One transaction: the fence, the operator's row, the results stored exactly as POST
 * /v1/results stores an upload (store.c: the upload with its provenance, the raw reports, the
 * re-merge, the category's revision), the upload's conditions, the operator marked done (with
 * every other pending operator of the job that has the same key), and the lease extended. A
 * fenced-out worker therefore stores nothing. The upload id "job-J-op-I-attempt-A" makes a
 * retried report (its answer was lost) find the first one; a report for an operator already
 * done by the same attempt answers the same way without storing anything.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int64_t job_id, worker_id;
    int index, attempt;
    const char *key;
    frc_result results[FRC_MAX_RESULTS_PER_ENTRY];
    size_t nresults;
    const char *heuristic; /* the heuristic's pick, NULL if not reported (borrowed) */
    char *conditions;      /* owned JSON text, or NULL */
    long long candidates, failed;
    double seconds;
} report;

static void report_cleanup(report *rp)
{
    for (size_t i = 0; i < rp->nresults; i++)
        frc_result_cleanup(&rp->results[i]);
    free(rp->conditions);
}

static fr_err parse_report(frs_req *r, report *rp)
{
    json_t *body;
    int64_t index;
    fr_err e = frs__path_id(r, 0, "job id", &rp->job_id);
    if (e == FR_ERR_OK && !strcmp(r->path_params[1], "0"))
        index = 0;
    else if (e == FR_ERR_OK)
        e = frs__path_id(r, 1, "operator index", &index);
    if (e == FR_ERR_OK) e = frs__lease_args(r, &body, &rp->worker_id, &rp->attempt);
    if (e != FR_ERR_OK) return e;
    rp->index = (int)index;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "worker_id") && strcmp(k, "attempt") && strcmp(k, "key") &&
            strcmp(k, "results") && strcmp(k, "conditions") && strcmp(k, "profile") &&
            strcmp(k, "heuristic"))
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "%.64s: unknown field", k);
    }
    const json_t *key = json_object_get(body, "key"), *res = json_object_get(body, "results");
    const json_t *pick = json_object_get(body, "heuristic");
    if (pick && !json_is_string(pick))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "heuristic: expected an algorithm name");
    rp->heuristic = pick ? json_string_value(pick) : NULL; /* borrowed from the body */
    const json_t *cond = json_object_get(body, "conditions"),
                 *prof = json_object_get(body, "profile");
    if (!json_is_string(key) || json_string_length(key) >= FR_MAX_KEY_LEN)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "key: expected the operator's key");
    rp->key = json_string_value(key);
    size_t n = json_array_size(res);
    if (!json_is_array(res) || n == 0 || n > FRC_MAX_RESULTS_PER_ENTRY)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "results: expected an array of 1 to %d "
                           "results",
                           FRC_MAX_RESULTS_PER_ENTRY);
    for (size_t i = 0; i < n; i++, rp->nresults++) {
        char path[32];
        snprintf(path, sizeof path, "results[%zu]", i);
        e = frc_result_from_json(json_array_get(res, i), path, &rp->results[i], &r->diag);
        if (e != FR_ERR_OK) return e == FR_ERR_NOMEM ? e : FR_ERR_BAD_REQUEST;
    }
    if (!json_is_object(cond))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "conditions: expected an object (how "
                           "the results were measured)");
    json_object_foreach((json_t *)cond, k, v)
    {
        if (json_is_object(v) || json_is_array(v))
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                               "conditions.%.64s: expected a "
                               "number, string or boolean",
                               k);
    }
    if (!(rp->conditions = json_dumps(cond, JSON_COMPACT | JSON_SORT_KEYS)))
        return fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    if (prof && !json_is_object(prof))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "profile: expected an object");
    rp->candidates = (long long)n;
    for (size_t i = 0; i < n; i++)
        rp->failed += rp->results[i].failure != NULL;
    rp->seconds = json_number_value(json_object_get(prof, "seconds"));
    return FR_ERR_OK;
}

/* The results as a one-category document for store.c, in the worker's category. */
static fr_err report_doc(frs_req *r, const report *rp, const frs__worker *w, frc_doc *doc)
{
    json_t *fpj = json_loads(w->fingerprint, 0, NULL);
    frc_fingerprint fp = {0};
    frc_category *cat;
    fr_err e = fpj ? frc_fingerprint_from_json(fpj, "worker fingerprint", &fp, &r->diag)
                   : fr_diag_set(&r->diag, FR_ERR_CORRUPT,
                                 "worker %lld: stored fingerprint "
                                 "unreadable",
                                 (long long)w->id);
    json_decref(fpj);
    if (e == FR_ERR_OK) e = frc_doc_category(doc, &fp, &cat);
    frc_fingerprint_cleanup(&fp);
    if (e == FR_ERR_OK) e = frc_category_put(cat, rp->key, rp->results, rp->nresults);
    if (e == FR_ERR_OK && rp->heuristic &&
        frc_entry_set_heuristic(frc_category_find(cat, rp->key), rp->heuristic))
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                        "heuristic: '%.64s' is not an algorithm "
                        "name",
                        rp->heuristic);
    return e;
}

/* The best measured result (results are ranked by frc_category_put's copy; search anyway). */
static const frc_result *best_of(const report *rp)
{
    const frc_result *best = NULL;
    for (size_t i = 0; i < rp->nresults; i++)
        if (!rp->results[i].failure && (!best || rp->results[i].median_ms < best->median_ms))
            best = &rp->results[i];
    return best;
}

/* Checks the operator row: its key, and whether this report was already accepted. */
static fr_err check_operator(frs_req *r, frs_conn *c, const report *rp, bool *already)
{
    char id[24], idx[16];
    snprintf(id, sizeof id, "%lld", (long long)rp->job_id);
    snprintf(idx, sizeof idx, "%d", rp->index);
    const char *p[] = {id, idx};
    PGresult *res;
    *already = false;
    fr_err e = frs_db_exec(c, FRS_Q_job_operator_lock, 2, p, &res, &r->diag);
    if (e != FR_ERR_OK) return e;
    enum { KEY, STATE, ATTEMPT, WORKER };
    if (PQntuples(res) == 0)
        e = fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "job %s has no operator %s", id, idx);
    else if (strcmp(PQgetvalue(res, 0, KEY), rp->key) != 0)
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                        "operator %s of job %s has key '%s', not "
                        "'%.200s'",
                        idx, id, PQgetvalue(res, 0, KEY), rp->key);
    else if (strcmp(PQgetvalue(res, 0, STATE), "pending") != 0) {
        *already = !strcmp(PQgetvalue(res, 0, STATE), "done") &&
                   strtol(PQgetvalue(res, 0, ATTEMPT), NULL, 10) == rp->attempt &&
                   strtoll(PQgetvalue(res, 0, WORKER), NULL, 10) == rp->worker_id;
        if (!*already)
            e = fr_diag_set(&r->diag, FR_ERR_CONFLICT, "operator %s of job %s is already %s", idx,
                            id, PQgetvalue(res, 0, STATE));
    }
    PQclear(res);
    return e;
}

/* Stores the results and marks the operator done; fills the answer. Inside the transaction. */
static fr_err store_report(frs_req *r, frs_conn *c, const report *rp, const frs__worker *w,
                           json_t *answer)
{
    frs_provenance prov = {0};
    frs_store_result st = {0};
    frc_doc doc;
    frc_doc_init(&doc);
    snprintf(prov.source, sizeof prov.source, "worker");
    snprintf(prov.host, sizeof prov.host, "%s", w->host);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(prov.time, sizeof prov.time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(prov.upload_id, sizeof prov.upload_id, "job-%lld-op-%d-attempt-%d",
             (long long)rp->job_id, rp->index, rp->attempt);
    fr_err e = report_doc(r, rp, w, &doc);
    if (e == FR_ERR_OK) e = frs_store_upload_in(c, &r->who, &prov, &doc, &st, &r->diag);
    frc_doc_cleanup(&doc);
    char id[24], idx[16], att[16], wid[24], upload[24], cands[24], failed[24], best_ms[32],
        secs[32];
    snprintf(id, sizeof id, "%lld", (long long)rp->job_id);
    snprintf(idx, sizeof idx, "%d", rp->index);
    snprintf(att, sizeof att, "%d", rp->attempt);
    snprintf(wid, sizeof wid, "%lld", (long long)rp->worker_id);
    snprintf(upload, sizeof upload, "%lld", (long long)st.upload_id);
    snprintf(cands, sizeof cands, "%lld", rp->candidates);
    snprintf(failed, sizeof failed, "%lld", rp->failed);
    snprintf(secs, sizeof secs, "%.6g", rp->seconds);
    const frc_result *best = best_of(rp);
    if (best) snprintf(best_ms, sizeof best_ms, "%.9g", best->median_ms);
    const char *cond[] = {upload, rp->conditions};
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_upload_conditions, 2, cond, NULL, &r->diag);
    const char *done[] = {id,
                          idx,
                          w->category,
                          att,
                          wid,
                          upload,
                          cands,
                          failed,
                          best ? best->algorithm : NULL,
                          best ? best_ms : NULL,
                          rp->conditions,
                          secs,
                          rp->key};
    PGresult *res = NULL;
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_operator_done, 13, done, &res, &r->diag);
    json_t *marked = json_array();
    for (int i = 0; e == FR_ERR_OK && marked && i < PQntuples(res); i++)
        json_array_append_new(marked, json_integer(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
    PQclear(res);
    if (e == FR_ERR_OK &&
        (!marked || json_object_set_new(answer, "operators", marked) ||
         json_object_set_new(answer, "upload_id", json_integer(st.upload_id)) ||
         json_object_set_new(answer, "reports_added", json_integer((json_int_t)st.added))))
        e = fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    else if (e != FR_ERR_OK)
        json_decref(marked);
    json_decref(st.categories);
    if (e == FR_ERR_OK)
        atomic_fetch_add_explicit(&r->srv->metrics.reports_added, st.added, memory_order_relaxed);
    return e;
}

fr_err frs_jobs_report(frs_req *r)
{
    static const char *const allowed[] = {NULL};
    report rp = {0};
    frs__worker w = {0};
    frs__lease lease;
    frs_conn *c = NULL;
    bool already = false;
    json_t *answer = json_object();
    fr_err e = answer ? frs_params_only(r, allowed) : FR_ERR_NOMEM;
    if (e == FR_ERR_OK) e = parse_report(r, &rp);
    if (e == FR_ERR_OK) e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e == FR_ERR_OK) e = frs__worker_seen(c, rp.worker_id, &r->who, &w, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_begin(c, false, &r->diag);
    if (e == FR_ERR_OK) e = frs__fence(c, rp.job_id, rp.worker_id, rp.attempt, &lease, &r->diag);
    if (e == FR_ERR_OK && strcmp(lease.category, w.category) != 0)
        e = fr_diag_set(&r->diag, FR_ERR_CONFLICT,
                        "worker %lld's category %s is not the "
                        "attempt's %s",
                        (long long)w.id, w.category, lease.category);
    if (e == FR_ERR_OK) e = check_operator(r, c, &rp, &already);
    if (e == FR_ERR_OK && !already) e = store_report(r, c, &rp, &w, answer);
    char id[24], secs[32];
    snprintf(id, sizeof id, "%lld", (long long)rp.job_id);
    snprintf(secs, sizeof secs, "%g", r->srv->cfg.lease_s);
    const char *p[] = {id, secs};
    PGresult *lres = NULL, *pres = NULL;
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_lease_extend, 2, p, &lres, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_progress, 1, p, &pres, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_commit(c, &r->diag);
    frs_db_return(r->srv->db, c);
    report_cleanup(&rp);
    frs__worker_cleanup(&w);
    if (e == FR_ERR_OK &&
        (json_object_set_new(answer, "index", json_integer(rp.index)) ||
         json_object_set_new(answer, "state", json_string("done")) ||
         json_object_set_new(answer, "duplicate", json_boolean(already)) ||
         json_object_set_new(answer, "pending",
                             json_integer(strtoll(PQgetvalue(pres, 0, 0), NULL, 10))) ||
         json_object_set_new(answer, "lease_expires_at", json_string(PQgetvalue(lres, 0, 0)))))
        e = fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    PQclear(lres);
    PQclear(pres);
    if (e != FR_ERR_OK) {
        json_decref(answer);
        return e;
    }
    frs_reply_json(r, 200, answer);
    return FR_ERR_OK;
}
