/*
 * jobs_fx.h - what the jobs tests share (built on tests/harness): a fresh database on the test
 * binary's shared PostgreSQL cluster, a fastrun-server on it with short leases, tokens made with
 * the server's CLI, real fastrun-worker processes, JSON requests, and waiting for a job.
 * FASTRUN_SERVER_BIN, FASTRUN_WORKER_BIN and FASTRUN_README come from CMake (ctest environment).
 */
#ifndef FRT_JOBS_FX_H
#define FRT_JOBS_FX_H

#include "harness.h"

#include <jansson.h>

#define JFX_LEASE "3" /* seconds: a dead worker's job moves on within ~5 s */
#define JFX_MAX_WORKERS 4

typedef struct {
    frt_proc proc;
    char name[32];
    char log[300];
} jfx_worker;

typedef struct {
    frt_pg pg;
    char conninfo[256];
    frt_server srv;
    char dir[256]; /* temporary folder: models, worker logs, the lock file */
    char submitter[96], worker[96], admin[96];
    jfx_worker workers[JFX_MAX_WORKERS];
    size_t nworkers;
} jfx;

/* Fresh database, server (--lease-seconds JFX_LEASE plus extra, may be NULL), tokens, and a
 * temporary folder whose measurement lock file the workers share (FASTRUN_MEASURE_LOCK). */
int jfx_start(jfx *f, const char *const *extra);
/* Stops workers and server, removes the folders. */
void jfx_stop(jfx *f);
/* Starts fastrun-worker NAME in POOL with f's worker token; its log is "<dir>/NAME.log". */
jfx_worker *jfx_worker_start(jfx *f, const char *name, const char *pool);
/* The worker with this name, or NULL. */
jfx_worker *jfx_worker_named(jfx *f, const char *name);

/* "<dir>/name" (static buffer, valid until the next call). */
const char *jfx_path(const jfx *f, const char *name);
/* A request with an optional bearer token and body; the answer parsed into *out (new
 * reference, may be NULL if unwanted; NULL when not JSON). Returns the HTTP status. */
long jfx_req(jfx *f, const char *method, const char *path, const char *token, const char *body,
             json_t **out);
/* Submits model (file text) to target (query-string form); returns the job id, or -1. */
long jfx_submit(jfx *f, const char *model, const char *query);
/* GET /v1/jobs/ID (new reference; fails the test when it cannot be read). */
json_t *jfx_job(jfx *f, long id);
/* Polls the job every 100 ms until pred(job, arg) or timeout_s; returns the last job read (new
 * reference) and whether pred held in *ok. */
typedef bool (*jfx_pred)(const json_t *job, const void *arg);
json_t *jfx_until(jfx *f, long id, jfx_pred pred, const void *arg, double timeout_s, bool *ok);
/* Predicates: progress.done >= *(int *)arg; state equals (const char *)arg. */
bool jfx_done_at_least(const json_t *job, const void *arg);
bool jfx_state_is(const json_t *job, const void *arg);
/* Integer field of an object at path "a.b" (-1 when absent). */
long long jfx_int(const json_t *obj, const char *path);
/* String field at path "a.b", "" when absent. */
const char *jfx_str(const json_t *obj, const char *path);

/* A model file text with n conv2d operators of c channels at hw x hw (3x3, distinct by k). */
char *jfx_conv_model(const char *name, int n, int c, int hw);

#endif
