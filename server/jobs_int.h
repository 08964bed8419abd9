/*
 * jobs_int.h - internal to the jobs part of the server (jobs.c, job_view.c, workers.c, claim.c,
 * lease.c, supervise.c): argument helpers, the job's JSON view, the fence every worker call goes
 * through, and ending an attempt. Everything public is in server.h ("Jobs and workers").
 *
 * Vocabulary: an attempt is one claim of a job by one worker; the lease is the time it holds
 * the job unless it heartbeats; failures count attempts that ended badly (lease lapsed, the
 * worker reported a failure) and are capped by cfg.max_failures; an attempt handed back on
 * SIGTERM (release) is not a failure.
 */
#ifndef FRS_JOBS_INT_H
#define FRS_JOBS_INT_H

#include "server.h"

/* Seconds a worker counts as alive after it was last seen (claim poll or heartbeat). */
double frs__live_window_s(const frs_config *cfg);
/* Backoff before a job whose failures-th attempt failed may be claimed again: 1 s, 2 s, 4 s...
 * capped at 60 s. */
double frs__backoff_s(int failures);

/* ---------------------------------------------------------------------------------------------
 * Arguments (jobs.c)
 * ------------------------------------------------------------------------------------------- */
/* Path parameter i as a positive id; FR_ERR_BAD_REQUEST naming what otherwise. */
FR_WUR fr_err frs__path_id(frs_req *r, size_t i, const char *what, int64_t *out);
/* Integer field of a JSON object in [lo, hi]; FR_ERR_BAD_REQUEST naming it. */
FR_WUR fr_err frs__json_int(const json_t *obj, const char *field, int64_t lo, int64_t hi,
                            int64_t *out, fr_diag *d);
/* Seconds from a query parameter ("wait") in [0, max]; absent is 0. */
FR_WUR fr_err frs__param_seconds(frs_req *r, const char *name, double max, double *out);
/* A pool name: 1 to 64 of A-Z a-z 0-9 . _ - starting with a letter or digit, and never 16 hex
 * digits (which would read as a category id). FR_ERR_BAD_REQUEST naming it otherwise. */
FR_WUR fr_err frs__check_pool(const char *pool, fr_diag *d);
/* Whether the client of r closed its connection (it gave up on a long-poll, or died): a
 * waiting handler stops, and above all a claim must not hand a job to nobody. */
bool frs__client_gone(const frs_req *r);
/* Sleeps until the deadline (frs_now_us() clock) or the step, whichever is first. */
void frs__sleep_until(uint64_t deadline_us, uint64_t step_us);

/* ---------------------------------------------------------------------------------------------
 * Workers (workers.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    int64_t id;
    char pool[65], category[17], name[129], host[256];
    char *fingerprint; /* owned: the fingerprint's JSON text */
} frs__worker;

/* Marks worker id as seen now and reads it. FR_ERR_NOT_FOUND when it is unknown or signed off,
 * FR_ERR_FORBIDDEN when it was registered with another token than who's. out is always
 * initialised: frs__worker_cleanup. */
FR_WUR fr_err frs__worker_seen(frs_conn *c, int64_t id, const frs_principal *who, frs__worker *out,
                               fr_diag *d);
void frs__worker_cleanup(frs__worker *w);

/* ---------------------------------------------------------------------------------------------
 * The job view (job_view.c)
 * ------------------------------------------------------------------------------------------- */
/* The JSON of job id (new reference): with details, every operator and attempt too. Adds the
 * "note" a queued job needs ("no live worker in pool 'gpu'"). FR_ERR_NOT_FOUND if no such job. */
FR_WUR fr_err frs__job_json(frs_server *s, frs_conn *c, int64_t id, bool details, json_t **out,
                            fr_diag *d);
/* One job summary from row i of a job_get / jobs_list result (new reference or NULL). */
json_t *frs__job_summary(frs_server *s, frs_conn *c, PGresult *res, int i);
/* Whether a job state is final (done, failed, cancelled). */
bool frs__job_final(const char *state);

/* ---------------------------------------------------------------------------------------------
 * The fence (lease.c): what a worker call must hold
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    int64_t job_id, worker_id;
    int attempt;
    char category[17]; /* of the attempt (the worker's) */
    int failures, max_failures;
} frs__lease;

/* Inside a transaction on c: locks job id and checks that it is running with worker_id and
 * attempt under an unexpired lease. FR_ERR_LEASE_LOST otherwise, the detail saying why (job
 * cancelled, done, failed, lease expired at T, taken over by attempt N); FR_ERR_NOT_FOUND when
 * there is no such job. */
FR_WUR fr_err frs__fence(frs_conn *c, int64_t job_id, int64_t worker_id, int attempt,
                         frs__lease *out, fr_diag *d);
/* The (worker_id, attempt) of a worker call's body. */
FR_WUR fr_err frs__lease_args(frs_req *r, json_t **body, int64_t *worker_id, int *attempt);

/* Ends attempt `attempt` of a locked job badly (outcome "lease_expired" or "failed", with
 * detail): the job goes back to the queue after a backoff, or fails with `reason` when this was
 * its last allowed failure. *out_failed tells which (may be NULL). */
FR_WUR fr_err frs__attempt_failed(frs_conn *c, int64_t job_id, int attempt, int failures,
                                  int max_failures, const char *outcome, const char *detail,
                                  bool *out_failed, fr_diag *d);

/* ---------------------------------------------------------------------------------------------
 * Claims (claim.c)
 * ------------------------------------------------------------------------------------------- */
/* Ends every lapsed lease (one transaction per job) and returns how many. */
FR_WUR fr_err frs__expire_leases(frs_server *s, size_t *out_n, fr_diag *d);

#endif
