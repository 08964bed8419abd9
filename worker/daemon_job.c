/*
 * daemon_job.c - one claimed job in fastrun-worker (daemon.h: frw_daemon_run_job).
 *
 * The heartbeat runs in its own thread with its own connection, every heartbeat_seconds (a
 * third of the lease), so a long operator - the profiler can spend seconds on one - never lets
 * the lease lapse, and profiling never waits for the network. When the server refuses a
 * heartbeat (409 lease_lost: the job was cancelled, or our lease lapsed and the job moved on),
 * the thread raises `lost`; the main thread stops after the operator in progress and reports
 * nothing more, since every later call would be refused anyway.
 *
 * Each operator is profiled with frw_profile_op, the profiler of `fastrun run`: it takes the
 * machine-wide measurement lock for the measurement (so two workers, or a worker and
 * `fastrun run`, never time at once on one machine) and records the conditions (threads, load,
 * lock waited), which go up with the results. A candidate that crashes, hangs or computes a
 * wrong answer is a failed result inside the report, not a failed job; only a failure of the
 * operator itself (its naive reference crashing, no memory) fails the attempt.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

#define REPORT_TRIES 30

typedef struct {
    frw_daemon *dm;
    const frw_job *job;
    frw_api api;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    atomic_bool lost;
    fr_diag why; /* why the lease was lost (written before lost is raised) */
} heartbeat;

static void *heartbeat_main(void *arg)
{
    heartbeat *hb = arg;
    double period = hb->job->heartbeat_s;
    pthread_mutex_lock(&hb->mu);
    while (!hb->done) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)period;
        ts.tv_nsec += (long)((period - (double)(time_t)period) * 1e9);
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&hb->cv, &hb->mu, &ts);
        if (hb->done) break;
        pthread_mutex_unlock(&hb->mu);
        fr_diag d = {""};
        fr_err e = frw_api_heartbeat(&hb->api, hb->dm->id, hb->job, &d);
        pthread_mutex_lock(&hb->mu);
        if (e == FR_ERR_LEASE_LOST || e == FR_ERR_NOT_FOUND) {
            hb->why = d;
            atomic_store(&hb->lost, true);
            break;
        }
        if (e != FR_ERR_OK) frw_daemon_log(hb->dm, "heartbeat failed (%s); trying again", d.msg);
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

static fr_err heartbeat_start(heartbeat *hb, frw_daemon *dm, const frw_job *job,
                              const char *token_src, fr_diag *d)
{
    memset(hb, 0, sizeof *hb);
    hb->dm = dm;
    hb->job = job;
    pthread_mutex_init(&hb->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Same server and token as the main connection: the token is read back from its header. */
    fr_err e = frw_api_init(&hb->api, dm->api.base, token_src, NULL, d);
    if (e == FR_ERR_OK && pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0)
        e = fr_diag_set(d, FR_ERR_INTERNAL, "cannot start the heartbeat thread");
    return e;
}

static void heartbeat_stop(heartbeat *hb)
{
    pthread_mutex_lock(&hb->mu);
    hb->done = true;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    frw_api_cleanup(&hb->api);
    pthread_cond_destroy(&hb->cv);
    pthread_mutex_destroy(&hb->mu);
}

/* Reports one operator, retrying while the server cannot be reached and the lease may still
 * hold. */
static fr_err report(frw_daemon *dm, heartbeat *hb, const frw_job *job, int index, const char *key,
                     const frc_result *res, size_t n, const frw_profile_log *log, fr_diag *d)
{
    fr_err e = FR_ERR_UNAVAILABLE;
    for (int i = 0; i < REPORT_TRIES && e == FR_ERR_UNAVAILABLE && !atomic_load(&hb->lost); i++) {
        if (i) sleep(1);
        e = frw_api_report(&dm->api, dm->id, job, index, key, res, n, log->heuristic, &log->cond,
                           log->cond.acquired_unix, log->total_s, d);
    }
    return e;
}

/* Profiles and reports operator i (of n) of the claim. */
static fr_err one_operator(frw_daemon *dm, heartbeat *hb, const frw_job *job, const json_t *o,
                           size_t i, size_t n, fr_diag *d)
{
    int index = (int)json_integer_value(json_object_get(o, "index"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *key = json_string_value(json_object_get(o, "key"));
    fr_op op;
    bool wp;
    if (!name || !key || fr_op_parse_key(key, &op, &wp, d) != FR_ERR_OK)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "operator #%d: unreadable key '%s'", index,
                           key ? key : "");
    frw_profile_opts opts;
    frw_profile_opts_default(&opts);
    opts.full = job->full;
    frc_result *res = NULL;
    size_t nres = 0;
    frw_profile_log log;
    fr_err e = frw_profile_op(&op, wp, &opts, &res, &nres, &log, d);
    if (e != FR_ERR_OK) {
        fr_diag_prefix(d, "operator '%s' (#%d)", name, index);
        return e;
    }
    if (atomic_load(&hb->lost)) {
        frw_results_free(res, nres);
        return FR_ERR_LEASE_LOST;
    }
    e = report(dm, hb, job, index, key, res, nres, &log, d);
    if (e == FR_ERR_OK) {
        const frc_result *best = nres && !res[0].failure ? &res[0] : NULL;
        frw_daemon_log(dm,
                       "job %lld attempt %d: operator #%d '%s' profiled and uploaded (%zu/%zu, "
                       "%zu candidates, %zu failed, best %s %.4g ms, %.1f s%s)",
                       (long long)job->id, job->attempt, index, name, i + 1, n, log.ncandidates,
                       log.nfailed, best ? best->algorithm : "-", best ? best->median_ms : 0.0,
                       log.total_s,
                       log.cond.lock_waited ? ", waited for the measurement lock" : "");
    }
    frw_results_free(res, nres);
    return e;
}

/* Whether key was reported before position i of this claim. */
static bool reported_before(const json_t *ops, size_t i, const bool *done)
{
    const char *key = json_string_value(json_object_get(json_array_get(ops, i), "key"));
    for (size_t k = 0; k < i; k++)
        if (done[k] && key &&
            !strcmp(key, json_string_value(json_object_get(json_array_get(ops, k), "key"))))
            return true;
    return false;
}

fr_err frw_daemon_run_job(frw_daemon *dm, frw_job *job)
{
    size_t n = json_array_size(job->operators), finished = 0;
    frw_daemon_log(dm,
                   "job %lld attempt %d: model '%s', %zu operators to profile (%s run%s), "
                   "category %s",
                   (long long)job->id, job->attempt, job->model, n, job->full ? "full" : "fast",
                   job->wp ? ", weight preprocessing" : "", job->category);
    heartbeat hb;
    fr_diag d = {""};
    bool *done = calloc(n ? n : 1, sizeof *done);
    const char *token = dm->api.token;
    fr_err e = done ? heartbeat_start(&hb, dm, job, token, &d) : FR_ERR_NOMEM;
    if (e != FR_ERR_OK) {
        frw_daemon_log(dm, "job %lld: %s", (long long)job->id, d.msg);
        free(done);
        return FR_ERR_OK; /* the lease lapses and another worker takes the job */
    }
    for (size_t i = 0; i < n && e == FR_ERR_OK; i++) {
        if (atomic_load(&dm->stop) || atomic_load(&hb.lost)) break;
        if (!reported_before(job->operators, i, done))
            e = one_operator(dm, &hb, job, json_array_get(job->operators, i), i, n, &d);
        if (e == FR_ERR_OK) done[i] = true, finished++;
    }
    heartbeat_stop(&hb);
    free(done);
    const char *verb = NULL;
    char reason[900] = "";
    if (e == FR_ERR_LEASE_LOST || atomic_load(&hb.lost)) {
        frw_daemon_log(dm, "job %lld attempt %d: lease lost, stopping it: %s", (long long)job->id,
                       job->attempt, e == FR_ERR_LEASE_LOST && d.msg[0] ? d.msg : hb.why.msg);
        return FR_ERR_OK;
    } else if (e == FR_ERR_UNAUTHORIZED) {
        frw_daemon_log(dm, "job %lld: %s", (long long)job->id, d.msg);
        return e;
    } else if (e != FR_ERR_OK) {
        verb = "fail";
        snprintf(reason, sizeof reason, "%s: %s", fr_err_message(e), d.msg);
    } else if (finished < n) {
        verb = "release";
        snprintf(reason, sizeof reason,
                 "worker stopping (SIGTERM) with %zu of %zu operators "
                 "left",
                 n - finished, n);
    } else {
        verb = "complete";
    }
    fr_diag fd = {""};
    fr_err fe = frw_api_finish(&dm->api, dm->id, job, verb, reason[0] ? reason : NULL, &fd);
    if (fe != FR_ERR_OK)
        frw_daemon_log(dm, "job %lld attempt %d: %s: %s", (long long)job->id, job->attempt, verb,
                       fd.msg);
    else
        frw_daemon_log(dm, "job %lld attempt %d: %s%s%s", (long long)job->id, job->attempt,
                       !strcmp(verb, "complete")  ? "completed"
                       : !strcmp(verb, "release") ? "handed back"
                                                  : "reported failed",
                       reason[0] ? ": " : "", reason);
    return fe == FR_ERR_UNAUTHORIZED ? fe : FR_ERR_OK;
}
