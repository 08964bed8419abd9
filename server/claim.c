/*
 * claim.c - handing jobs to workers, and taking them back when a lease lapses.
 *
 *   POST /v1/workers/{id}/claim[?wait=S]   (role worker, S at most FRS_CLAIM_WAIT_MAX_S)
 *     -> 200 {"id", "url", "attempt", "mode", "weight_preprocess", "model", "category",
 *             "lease_seconds", "heartbeat_seconds", "lease_expires_at",
 *             "operators": [{"index", "name", "key"}]}   (the operators still to profile)
 *     -> 204 when no job came within S seconds.
 *
 * A claim is one transaction: lapsed leases are ended first (frs__expire_leases), then
 * job_claim takes the first queued job of the worker's pool or exact category, by priority
 * then age, FOR UPDATE SKIP LOCKED: two claims running at once never see the same row, so no
 * job goes to two workers. job_start moves the attempt number on (fencing every earlier
 * holder) and starts the lease; the server-side resume marks cached the pending operators
 * that already have results in the claiming worker's category; a job left with nothing to
 * profile is done at once and the claim looks for another.
 *
 * Long-poll without holding a connection: between tries the handler waits on the bell (a
 * condition variable rung when this process queues or hands back a job) for at most
 * WAIT_STEP_US, so jobs queued through another server are seen within that step too. Before
 * each try it checks that the worker is still connected: a worker that was killed or gave up
 * while its long-poll waited must not be handed a job nobody would receive (what is left is
 * the few milliseconds of one try; a job lost there comes back when its lease lapses, like the
 * job of any worker that dies).
 *
 * The sweeper: a thread that ends lapsed leases every second even when no worker is polling,
 * so a job whose worker died shows "queued" (or "failed") instead of "running" forever.
 *
 * Process-wide state (the bell, the sweeper): one fastrun-server process serves one frs_server;
 * neither holds any fact (PostgreSQL does), only wake-ups.
 */
#include "jobs_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_STEP_US 250000u
#define SEEN_EVERY_US 5000000u
#define SWEEP_EVERY_S 1

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long gen;
    bool stopping;
    bool sweeper_running;
    pthread_t sweeper;
    frs_server *srv;
} bell = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false, 0, NULL};

void frs_jobs_ring(void)
{
    pthread_mutex_lock(&bell.mu);
    bell.gen++;
    pthread_cond_broadcast(&bell.cv);
    pthread_mutex_unlock(&bell.mu);
}

bool frs_jobs_stopping(void)
{
    pthread_mutex_lock(&bell.mu);
    bool s = bell.stopping;
    pthread_mutex_unlock(&bell.mu);
    return s;
}

/* Waits until the bell rings, the server stops, or us microseconds pass. */
static void wait_bell(uint64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the static condition variable uses CLOCK_REALTIME */
    ts.tv_sec += (time_t)(us / 1000000u);
    ts.tv_nsec += (long)(us % 1000000u) * 1000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&bell.mu);
    unsigned long gen = bell.gen;
    while (gen == bell.gen && !bell.stopping)
        if (pthread_cond_timedwait(&bell.cv, &bell.mu, &ts) != 0) break;
    pthread_mutex_unlock(&bell.mu);
}

/* ---------------------------------------------------------------------------------------------
 * Lapsed leases
 * ------------------------------------------------------------------------------------------- */
fr_err frs__expire_leases(frs_server *s, size_t *out_n, fr_diag *d)
{
    frs_conn *c;
    PGresult *res = NULL;
    *out_n = 0;
    fr_err e = frs_db_borrow(s->db, &c, d);
    if (e != FR_ERR_OK) return e;
    e = frs_db_begin(c, false, d);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_jobs_expired, 0, NULL, &res, d);
    enum { ID, ATTEMPT, FAILURES, MAXF, WORKER, NAME, HOST, LEASE };
    int n = e == FR_ERR_OK ? PQntuples(res) : 0;
    for (int i = 0; e == FR_ERR_OK && i < n; i++) {
        char detail[700];
        snprintf(detail, sizeof detail,
                 "lease expired at %s: worker '%s' (id %s, host %s) "
                 "stopped heartbeating",
                 PQgetvalue(res, i, LEASE), PQgetvalue(res, i, NAME), PQgetvalue(res, i, WORKER),
                 PQgetvalue(res, i, HOST));
        e = frs__attempt_failed(c, strtoll(PQgetvalue(res, i, ID), NULL, 10),
                                (int)strtol(PQgetvalue(res, i, ATTEMPT), NULL, 10),
                                (int)strtol(PQgetvalue(res, i, FAILURES), NULL, 10),
                                (int)strtol(PQgetvalue(res, i, MAXF), NULL, 10), "lease_expired",
                                detail, NULL, d);
    }
    PQclear(res);
    if (e == FR_ERR_OK && n > 0) e = frs_db_commit(c, d);
    frs_db_return(s->db, c);
    if (e == FR_ERR_OK && n > 0) {
        *out_n = (size_t)n;
        frs_jobs_ring();
    }
    return e;
}

static void *sweeper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&bell.mu);
    while (!bell.stopping) {
        pthread_mutex_unlock(&bell.mu);
        size_t n;
        fr_diag d = {""};
        fr_err e = frs__expire_leases(bell.srv, &n, &d);
        if (e != FR_ERR_OK && e != FR_ERR_DB_UNAVAILABLE && !bell.srv->cfg.quiet)
            fprintf(stderr, "fastrun-server: ending lapsed leases: %s: %s\n", fr_err_message(e),
                    d.msg);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SWEEP_EVERY_S;
        pthread_mutex_lock(&bell.mu);
        if (!bell.stopping) pthread_cond_timedwait(&bell.cv, &bell.mu, &ts);
    }
    pthread_mutex_unlock(&bell.mu);
    return NULL;
}

fr_err frs_jobs_start(frs_server *srv, fr_diag *d)
{
    pthread_mutex_lock(&bell.mu);
    bell.stopping = false;
    bell.srv = srv;
    int rc = bell.sweeper_running ? 0 : pthread_create(&bell.sweeper, NULL, sweeper_main, NULL);
    if (rc == 0) bell.sweeper_running = true;
    pthread_mutex_unlock(&bell.mu);
    return rc == 0 ? FR_ERR_OK : fr_diag_set(d, FR_ERR_INTERNAL, "cannot start the lease sweeper");
}

void frs_jobs_stop(void)
{
    pthread_mutex_lock(&bell.mu);
    bell.stopping = true;
    pthread_cond_broadcast(&bell.cv);
    bool join = bell.sweeper_running;
    bell.sweeper_running = false;
    pthread_mutex_unlock(&bell.mu);
    if (join) pthread_join(bell.sweeper, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * The claim
 * ------------------------------------------------------------------------------------------- */
/* The pending operators of a started job as the claim's answer. */
static fr_err claim_json(frs_server *s, frs_conn *c, const char *id, PGresult *start,
                         const frs__worker *w, json_t **out, fr_diag *d)
{
    const char *p[] = {id};
    PGresult *ops;
    fr_err e = frs_db_exec(c, FRS_Q_job_operators_pending, 1, p, &ops, d);
    if (e != FR_ERR_OK) return e;
    json_t *list = json_array();
    for (int i = 0; list && i < PQntuples(ops); i++) {
        json_t *o = json_pack("{s:I,s:s,s:s}", "index",
                              (json_int_t)strtoll(PQgetvalue(ops, i, 0), NULL, 10), "name",
                              PQgetvalue(ops, i, 1), "key", PQgetvalue(ops, i, 2));
        if (json_array_append_new(list, o) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    PQclear(ops);
    enum { ATTEMPT, LEASE, MODE, WP, MODEL, FORCE };
    char url[48];
    snprintf(url, sizeof url, "/v1/jobs/%s", id);
    *out = list ? json_pack("{s:I,s:s,s:I,s:s,s:b,s:s,s:s,s:f,s:f,s:s,s:o}", "id",
                            (json_int_t)strtoll(id, NULL, 10), "url", url, "attempt",
                            (json_int_t)strtoll(PQgetvalue(start, 0, ATTEMPT), NULL, 10), "mode",
                            PQgetvalue(start, 0, MODE), "weight_preprocess",
                            PQgetvalue(start, 0, WP)[0] == 't', "model",
                            PQgetvalue(start, 0, MODEL), "category", w->category, "lease_seconds",
                            s->cfg.lease_s, "heartbeat_seconds", s->cfg.lease_s / 3,
                            "lease_expires_at", PQgetvalue(start, 0, LEASE), "operators", list)
                : NULL;
    return *out ? FR_ERR_OK : fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
}

/* One try: claims a job for w in one transaction. *out stays NULL when there was none. */
static fr_err try_claim(frs_server *s, const frs__worker *w, json_t **out, fr_diag *d)
{
    char wid[24], lease[32];
    snprintf(wid, sizeof wid, "%lld", (long long)w->id);
    snprintf(lease, sizeof lease, "%g", s->cfg.lease_s);
    *out = NULL;
    frs_conn *c;
    fr_err e = frs_db_borrow(s->db, &c, d);
    while (e == FR_ERR_OK && !*out) {
        PGresult *res = NULL, *start = NULL, *cached = NULL;
        const char *cp[] = {w->pool, w->category, wid};
        e = frs_db_begin(c, false, d);
        if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_claim, 3, cp, &res, d);
        if (e != FR_ERR_OK || PQntuples(res) == 0) {
            PQclear(res);
            break; /* nothing to claim; frs_db_return rolls back */
        }
        char id[24];
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        const char *sp[] = {id, wid, w->category, lease};
        e = frs_db_exec(c, FRS_Q_job_start, 4, sp, &start, d);
        const char *rp[] = {id, w->category};
        bool force = e == FR_ERR_OK && PQgetvalue(start, 0, 5)[0] == 't';
        if (e == FR_ERR_OK && !force)
            e = frs_db_exec(c, FRS_Q_job_operators_cache, 2, rp, &cached, d);
        PQclear(cached);
        const char *ap[] = {id, e == FR_ERR_OK ? PQgetvalue(start, 0, 0) : "0", wid, w->category};
        if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_attempt_insert, 4, ap, NULL, d);
        json_t *job = NULL;
        if (e == FR_ERR_OK) e = claim_json(s, c, id, start, w, &job, d);
        if (e == FR_ERR_OK && json_array_size(json_object_get(job, "operators")) == 0) {
            /* Everything was cached for this category: done without profiling anything. */
            const char *end[] = {id, ap[1], "completed",
                                 "every operator already had results for this category"};
            const char *fin[] = {id, "done", NULL};
            e = frs_db_exec(c, FRS_Q_job_attempt_end, 4, end, NULL, d);
            if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_job_finish, 3, fin, NULL, d);
            json_decref(job);
            job = NULL;
        }
        PQclear(start);
        if (e == FR_ERR_OK) e = frs_db_commit(c, d);
        if (e == FR_ERR_OK)
            *out = job;
        else
            json_decref(job);
    }
    frs_db_return(s->db, c);
    return e;
}

fr_err frs_workers_claim(frs_req *r)
{
    static const char *const allowed[] = {"wait", NULL};
    int64_t id = 0;
    double wait;
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = frs__path_id(r, 0, "worker id", &id);
    if (e == FR_ERR_OK) e = frs__param_seconds(r, "wait", FRS_CLAIM_WAIT_MAX_S, &wait);
    if (e != FR_ERR_OK) return e;
    uint64_t deadline = frs_now_us() + (uint64_t)(wait * 1e6), seen = 0;
    frs__worker w = {0};
    json_t *job = NULL;
    for (;;) {
        if (!seen || frs_now_us() - seen >= SEEN_EVERY_US) {
            frs__worker_cleanup(&w);
            frs_conn *c;
            e = frs_db_borrow(r->srv->db, &c, &r->diag);
            if (e == FR_ERR_OK) e = frs__worker_seen(c, id, &r->who, &w, &r->diag);
            frs_db_return(r->srv->db, c);
            seen = frs_now_us();
        }
        size_t expired;
        if (frs__client_gone(r)) break; /* nobody would receive the job */
        if (e == FR_ERR_OK) e = frs__expire_leases(r->srv, &expired, &r->diag);
        if (e == FR_ERR_OK) e = try_claim(r->srv, &w, &job, &r->diag);
        if (e != FR_ERR_OK || job || frs_now_us() >= deadline || frs_jobs_stopping()) break;
        uint64_t left = deadline - frs_now_us();
        wait_bell(left < WAIT_STEP_US ? left : WAIT_STEP_US);
    }
    frs__worker_cleanup(&w);
    if (e != FR_ERR_OK) return e;
    if (!job)
        frs_reply_empty(r, 204);
    else
        frs_reply_json(r, 200, job);
    return FR_ERR_OK;
}
