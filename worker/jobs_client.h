/*
 * jobs_client.h - the fastrun-worker daemon's side of the job protocol (server/claim.c,
 * lease.c, job_report.c), over libcurl: register, claim (long-poll), heartbeat, report one
 * operator, complete, release, fail, sign off. Every body and answer is JSON (jansson).
 *
 * Errors: FR_ERR_UNAVAILABLE when no answer came or the server answered 5xx (retry later);
 * FR_ERR_LEASE_LOST when the server fenced the call (409 "lease_lost": the job moved on, was
 * cancelled or ended); otherwise the fr_err named by the error body's "code" (its detail in d).
 *
 * One frw_api per thread (a CURL handle is not shared). A claim in flight is abandoned as soon
 * as *stop becomes true (when stop is non-NULL), so SIGTERM does not wait out a long-poll; the
 * other calls (a report, the hand-back) always run to the end.
 */
#ifndef FRW_JOBS_CLIENT_H
#define FRW_JOBS_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>

#include "worker.h"

typedef struct {
    void *curl;              /* CURL * */
    char base[512];          /* "http://host:port" without a trailing slash */
    char token[160];         /* the bearer token (copied) */
    const atomic_bool *stop; /* borrowed, may be NULL */
    bool abortable;          /* set during a claim */
} frw_api;

/* server: base URL; token: a worker token (copied); stop: see above. */
FR_WUR fr_err frw_api_init(frw_api *a, const char *server, const char *token,
                           const atomic_bool *stop, fr_diag *d);
void frw_api_cleanup(frw_api *a);

/* One call: method and path (e.g. "/v1/jobs/7/heartbeat"), body (borrowed, may be NULL),
 * timeout in seconds. *status is the HTTP status (0 without an answer); *out the parsed
 * answer (new reference, NULL when empty or not JSON; may be NULL if unwanted). Returns OK for
 * 2xx, else as described above. */
FR_WUR fr_err frw_api_call(frw_api *a, const char *method, const char *path, const json_t *body,
                           long timeout_s, long *status, json_t **out, fr_diag *d);

/* A job as a claim hands it out (the answer is kept: operators are borrowed from it). */
typedef struct {
    json_t *json; /* owned */
    int64_t id;
    int attempt;
    bool full, wp;
    const char *model; /* borrowed from json */
    const char *category;
    double heartbeat_s;
    const json_t *operators; /* [{"index", "name", "key"}], borrowed */
} frw_job;

/* POST /v1/workers: registers this process; *id and category (17 bytes) receive the answer. */
FR_WUR fr_err frw_api_register(frw_api *a, const char *name, const char *host, const char *pool,
                               const frc_fingerprint *fp, int64_t *id, char *category, fr_diag *d);
/* POST /v1/workers/{id}/claim?wait=S: *got false when no job came (204). */
FR_WUR fr_err frw_api_claim(frw_api *a, int64_t worker, int wait_s, frw_job *job, bool *got,
                            fr_diag *d);
void frw_job_cleanup(frw_job *job);
/* POST /v1/jobs/{id}/heartbeat. */
FR_WUR fr_err frw_api_heartbeat(frw_api *a, int64_t worker, const frw_job *job, fr_diag *d);
/* POST /v1/jobs/{id}/operators/{index}: results (n, ranked) measured under cond, holding the
 * measurement lock from measured_from (seconds since the epoch) for cond->duration_s, with the
 * heuristic's pick for the key (NULL: not sent). */
FR_WUR fr_err frw_api_report(frw_api *a, int64_t worker, const frw_job *job, int index,
                             const char *key, const frc_result *results, size_t n,
                             const char *heuristic, const frw_conditions *cond,
                             double measured_from, double seconds, fr_diag *d);
/* POST /v1/jobs/{id}/complete | release | fail, with a reason for release (may be NULL) and
 * fail. */
FR_WUR fr_err frw_api_finish(frw_api *a, int64_t worker, const frw_job *job, const char *verb,
                             const char *reason, fr_diag *d);
/* DELETE /v1/workers/{id}. */
FR_WUR fr_err frw_api_signoff(frw_api *a, int64_t worker, fr_diag *d);

#endif
