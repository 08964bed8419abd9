/*
 * workers.c - the workers that run jobs:
 *   POST   /v1/workers       (role worker) {"name", "host", "pool", "fingerprint": {...}}
 *          -> 201 {"id", "name", "host", "pool", "category", "registered_at", "lease_seconds",
 *                  "heartbeat_seconds", "claim_wait_max"}
 *          The category is computed here from the fingerprint (never taken from the client), so
 *          a worker's results always land in the category its fingerprint names.
 *   GET    /v1/workers[?all=1]
 *          -> {"workers": [{"id", "name", "host", "pool", "category", "fingerprint",
 *                           "registered_at", "last_seen", "stopped_at", "live",
 *                           "job": {"id", "attempt", "model"} or null}]}
 *          live: seen (claim poll, heartbeat) within the live window and not signed off.
 *          Without all=1: the live ones, and any still holding a job.
 *   DELETE /v1/workers/{id}  (role worker, the token that registered it) -> 204: signs off.
 * Claims are in claim.c.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void frs__worker_cleanup(frs__worker *w)
{
    free(w->fingerprint);
    memset(w, 0, sizeof *w);
}

fr_err frs__worker_seen(frs_conn *c, int64_t id, const frs_principal *who, frs__worker *out,
                        fr_diag *d)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    const char *p[] = {sid};
    PGresult *res;
    memset(out, 0, sizeof *out);
    fr_err e = frs_db_exec(c, FRS_Q_worker_seen, 1, p, &res, d);
    if (e != FR_ERR_OK) return e;
    enum { POOL, CAT, TOKEN, FP, NAME, HOST };
    if (PQntuples(res) == 0) {
        e = fr_diag_set(d, FR_ERR_NOT_FOUND,
                        "no worker %s (never registered, or signed off): "
                        "register again with POST /v1/workers",
                        sid);
    } else if (PQgetisnull(res, 0, TOKEN) ||
               strtoll(PQgetvalue(res, 0, TOKEN), NULL, 10) != who->token_id) {
        e = fr_diag_set(d, FR_ERR_FORBIDDEN, "worker %s was registered with another token", sid);
    } else {
        out->id = id;
        snprintf(out->pool, sizeof out->pool, "%s", PQgetvalue(res, 0, POOL));
        snprintf(out->category, sizeof out->category, "%s", PQgetvalue(res, 0, CAT));
        snprintf(out->name, sizeof out->name, "%s", PQgetvalue(res, 0, NAME));
        snprintf(out->host, sizeof out->host, "%s", PQgetvalue(res, 0, HOST));
        out->fingerprint = strdup(PQgetvalue(res, 0, FP));
        if (!out->fingerprint) e = fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    }
    PQclear(res);
    return e;
}

/* A printable string field of 1..max bytes. */
static fr_err text_field(const json_t *body, const char *field, size_t max, const char **out,
                         fr_diag *d)
{
    const json_t *v = json_object_get(body, field);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "%s: expected a string of 1 to %zu bytes", field,
                           max);
    for (const char *s = json_string_value(v); *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "%s: control character", field);
    *out = json_string_value(v);
    return FR_ERR_OK;
}

fr_err frs_workers_post(frs_req *r)
{
    json_t *body;
    const char *name, *host, *pool, *k;
    json_t *v;
    fr_err e = frs_body_object(r, &body);
    if (e != FR_ERR_OK) return e;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "name") && strcmp(k, "host") && strcmp(k, "pool") && strcmp(k, "fingerprint"))
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "%.64s: unknown field", k);
    }
    e = text_field(body, "name", 128, &name, &r->diag);
    if (e == FR_ERR_OK) e = text_field(body, "host", 255, &host, &r->diag);
    if (e == FR_ERR_OK) e = text_field(body, "pool", 64, &pool, &r->diag);
    if (e == FR_ERR_OK) e = frs__check_pool(pool, &r->diag);
    if (e != FR_ERR_OK) return e;
    frc_fingerprint fp = {0};
    e = frc_fingerprint_from_json(json_object_get(body, "fingerprint"), "fingerprint", &fp,
                                  &r->diag);
    if (e != FR_ERR_OK) return e == FR_ERR_NOMEM ? e : FR_ERR_BAD_REQUEST;
    char id[17], token[24];
    frc_category_id(&fp, id);
    void *fpj = NULL;
    e = frc_fingerprint_to_json(&fp, &fpj);
    frc_fingerprint_cleanup(&fp);
    char *fptext = e == FR_ERR_OK ? json_dumps(fpj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(fpj);
    if (!fptext) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    snprintf(token, sizeof token, "%lld", (long long)r->who.token_id);
    const char *p[] = {name, host, pool, id, fptext, token};
    frs_conn *c;
    PGresult *res = NULL;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_worker_insert, 6, p, &res, &r->diag);
    frs_db_return(r->srv->db, c);
    free(fptext);
    if (e != FR_ERR_OK) return e;
    const frs_config *cfg = &r->srv->cfg;
    json_t *out = json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:i}", "id",
        (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "name", name, "host", host, "pool",
        pool, "category", id, "registered_at", PQgetvalue(res, 0, 1), "lease_seconds", cfg->lease_s,
        "heartbeat_seconds", cfg->lease_s / 3, "claim_wait_max", FRS_CLAIM_WAIT_MAX_S);
    PQclear(res);
    if (!out) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    frs_reply_json(r, 201, out);
    return FR_ERR_OK;
}

static json_t *str_or_null(PGresult *res, int i, int c)
{
    return PQgetisnull(res, i, c) ? json_null() : json_string(PQgetvalue(res, i, c));
}

static json_t *worker_json(PGresult *res, int i)
{
    enum { ID, NAME, HOST, POOL, CAT, FP, REGISTERED, SEEN, STOPPED, LIVE, JOB, ATTEMPT, MODEL };
    json_t *fp = json_loads(PQgetvalue(res, i, FP), 0, NULL);
    json_t *job = PQgetisnull(res, i, JOB)
                      ? json_null()
                      : json_pack("{s:I,s:I,s:s}", "id",
                                  (json_int_t)strtoll(PQgetvalue(res, i, JOB), NULL, 10), "attempt",
                                  (json_int_t)strtoll(PQgetvalue(res, i, ATTEMPT), NULL, 10),
                                  "model", PQgetvalue(res, i, MODEL));
    return json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:b,s:o}", "id",
        (json_int_t)strtoll(PQgetvalue(res, i, ID), NULL, 10), "name", PQgetvalue(res, i, NAME),
        "host", PQgetvalue(res, i, HOST), "pool", PQgetvalue(res, i, POOL), "category",
        PQgetvalue(res, i, CAT), "fingerprint", fp ? fp : json_null(), "registered_at",
        PQgetvalue(res, i, REGISTERED), "last_seen", PQgetvalue(res, i, SEEN), "stopped_at",
        str_or_null(res, i, STOPPED), "live", PQgetvalue(res, i, LIVE)[0] == 't', "job", job);
}

fr_err frs_workers_list(frs_req *r)
{
    static const char *const allowed[] = {"all", NULL};
    fr_err e = frs_params_only(r, allowed);
    const char *all = frs_param(r, "all");
    if (e == FR_ERR_OK && all && strcmp(all, "1") && strcmp(all, "0") && strcmp(all, "true") &&
        strcmp(all, "false"))
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "all: expected 1 or 0");
    if (e != FR_ERR_OK) return e;
    char window[32];
    snprintf(window, sizeof window, "%g", frs__live_window_s(&r->srv->cfg));
    const char *p[] = {all && (!strcmp(all, "1") || !strcmp(all, "true")) ? "true" : "false",
                       window};
    frs_conn *c;
    PGresult *res;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_workers_list, 2, p, &res, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    json_t *list = json_array();
    for (int i = 0; list && i < PQntuples(res); i++) {
        if (json_array_append_new(list, worker_json(res, i)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    PQclear(res);
    json_t *out = list ? json_pack("{s:o,s:f}", "workers", list, "live_window_seconds",
                                   frs__live_window_s(&r->srv->cfg))
                       : NULL;
    if (!out) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "out of memory");
    frs_reply_json(r, 200, out);
    return FR_ERR_OK;
}

fr_err frs_workers_stop(frs_req *r)
{
    static const char *const allowed[] = {NULL};
    int64_t id = 0;
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = frs__path_id(r, 0, "worker id", &id);
    if (e != FR_ERR_OK) return e;
    frs_conn *c;
    frs__worker w = {0};
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    if (e == FR_ERR_OK) e = frs_db_begin(c, false, &r->diag);
    if (e == FR_ERR_OK) e = frs__worker_seen(c, id, &r->who, &w, &r->diag);
    char sid[24], detail[300];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    snprintf(detail, sizeof detail, "handed back when worker '%s' signed off", w.name);
    frs__worker_cleanup(&w);
    const char *p[] = {sid};
    PGresult *held = NULL;
    size_t released = 0;
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_worker_jobs_held, 1, p, &held, &r->diag);
    for (int i = 0; e == FR_ERR_OK && i < PQntuples(held); i++) {
        /* As POST /v1/jobs/{id}/release: not a failed attempt, back in the queue at once. */
        const char *job = PQgetvalue(held, i, 0), *att = PQgetvalue(held, i, 1);
        const char *end[] = {job, att, "released", detail};
        const char *rq[] = {job, "0", "0", NULL};
        e = frs_db_exec(c, FRS_Q_job_attempt_end, 4, end, NULL, &r->diag);
        if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_requeue, 4, rq, NULL, &r->diag);
        released++;
    }
    PQclear(held);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_worker_stop, 1, p, NULL, &r->diag);
    if (e == FR_ERR_OK) e = frs_db_commit(c, &r->diag);
    frs_db_return(r->srv->db, c); /* rolls back an open transaction on error */
    if (e != FR_ERR_OK) return e;
    if (released) frs_jobs_ring();
    frs_reply_empty(r, 204);
    return FR_ERR_OK;
}
