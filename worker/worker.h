/*
 * worker.h - the fr_worker library: everything the `fastrun` command and the `fastrun-worker`
 * daemon share. The profiler (isolated, verified, timed measurement of every algorithm of one
 * operator), this machine's category fingerprint, the machine-wide measurement lock, the
 * OpenBLAS core decision, and the runner (choose an algorithm per operator from the cache, the
 * heuristic or a fresh profile, then run the model and report).
 *
 * Layering (DESIGN.md): worker links kernels/ (to run algorithms) and cache/ (to keep results);
 * nothing here speaks HTTP (client.c, added by the server side, plugs into frw_run_opts.sink).
 *
 * Conventions: functions return fr_err with results in out-parameters and a fr_diag detail.
 */
#ifndef FRW_WORKER_H
#define FRW_WORKER_H

#include <stdio.h>

#include "cache.h"
#include "fr_common.h"
#include "kernels.h"

/* ---------------------------------------------------------------------------------------------
 * blas_env.c: the OPENBLAS_CORETYPE decision (see the file for why).
 * ------------------------------------------------------------------------------------------- */
/* Call first thing in main() of every fastrun program. If OPENBLAS_CORETYPE is inherited and
 * FASTRUN_KEEP_OPENBLAS_CORETYPE is not "1", re-executes /proc/self/exe with the same argv,
 * without it and with FASTRUN_OPENBLAS_CORETYPE_DROPPED=<old value>. Returns only when no
 * re-exec was needed (or it failed, with a warning on stderr). */
void frw_blas_env_apply(char **argv);
/* The dropped value ("Haswell"), or NULL if nothing was dropped. Borrowed from the environment. */
const char *frw_blas_coretype_dropped(void);

/* ---------------------------------------------------------------------------------------------
 * fingerprint.c
 * ------------------------------------------------------------------------------------------- */
/* This machine's category fingerprint at the current thread count (frk_get_threads()). out must
 * be zeroed; the caller frees it with frc_fingerprint_cleanup. */
FR_WUR fr_err frw_fingerprint(frc_fingerprint *out);

/* ---------------------------------------------------------------------------------------------
 * measure.c: the machine-wide measurement lock, the conditions of a measurement, timing helpers.
 * One flock on /tmp/fastrun-measure.lock (or $FASTRUN_MEASURE_LOCK) so two fastrun processes
 * or workers never time at once on one machine.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    int threads;          /* thread count of the measurement */
    double load1;         /* 1-minute load average when measuring started (-1 if unknown) */
    bool lock_waited;     /* another process held the measurement lock when we asked */
    double lock_wait_s;   /* how long we waited for it */
    int64_t started_unix; /* wall-clock start, seconds since the epoch */
    double acquired_unix; /* wall-clock moment the lock became ours (fractional seconds): the
                             start of the measurement window others can check for overlap */
    double duration_s;    /* time spent measuring (lock held) */
} frw_conditions;

typedef struct {
    int fd;    /* -1 when not held; frw_measure_lock_init sets it */
    double t0; /* monotonic time when acquired */
} frw_measure_lock;

void frw_measure_lock_init(frw_measure_lock *l);
/* Blocks until the lock is ours; fills cond (except duration_s). FR_ERR_IO if the lock file
 * cannot be opened. */
FR_WUR fr_err frw_measure_lock_acquire(frw_measure_lock *l, frw_conditions *cond, fr_diag *d);
/* Releases; sets cond->duration_s when cond is non-NULL. No-op if not held. */
void frw_measure_lock_release(frw_measure_lock *l, frw_conditions *cond);

/* Monotonic clock in seconds. */
double frw_now(void);
/* Median of v[0..n), n >= 1; sorts v in place (so v[0] is then the minimum). */
double frw_median(double *v, size_t n);

/* ---------------------------------------------------------------------------------------------
 * buffers.c: the operands of one operator run, allocated before any timing.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const float *src, *wei; /* borrowed inputs (read-only to every algorithm) */
    float *dst;             /* owned, frk_alloc'ed */
    void *ws;               /* owned workspace, NULL if the algorithm needs none */
    void *pwei;             /* owned preprocessed weights, NULL unless prepared */
    size_t ws_bytes, pwei_bytes;
} frw_buffers;

/* Fills n floats with uniform values in [-1, 1) from seed (splitmix64): same seed, same data. */
void frw_fill_random(float *buf, size_t n, uint64_t seed);
/* A seed derived from text (FNV-1a), e.g. from an operator key. */
uint64_t frw_seed_of(const char *text);
/* Allocates dst and algo's workspace around the borrowed inputs src and wei (sizes of op; they
 * must outlive out). out must be zeroed. */
FR_WUR fr_err frw_buffers_alloc(const fr_op *op, const frk_algo *algo, const frk_ctx *ctx,
                                const float *src, const float *wei, frw_buffers *out, fr_diag *d);
/* With weight preprocessing and an algorithm that has a preprocess step: allocates pwei and
 * transforms the weights into it. No-op otherwise. */
FR_WUR fr_err frw_buffers_preprocess(const fr_op *op, const frk_algo *algo, const frk_ctx *ctx,
                                     frw_buffers *b, fr_diag *d);
/* The frk_exec of these buffers. */
frk_exec frw_buffers_exec(const frw_buffers *b);
/* Frees what it owns (not the inputs); safe on a zeroed struct. */
void frw_buffers_free(frw_buffers *b);

/* ---------------------------------------------------------------------------------------------
 * profiler.c: measure every candidate algorithm of one operator (DESIGN.md "Profiling").
 *
 * Candidates: every applicable algorithm (NAIVE only when opts->full), the heuristic's pick
 * first. The naive reference output is computed once per operator; each candidate runs in a
 * forked child (isolation.c) where it is checked against the reference (and, if REPRODUCIBLE,
 * for bit-identical repeats), then timed: one warm-up run, then runs until both min_time_ms and
 * min_samples are reached, capped at max_samples or max_time_ms; a disturbed series (median
 * over 1.5 x min) is run again, up to 3 series, and the lowest median kept. A wrong,
 * non-reproducible, crashing or hanging candidate becomes a result with `failure` set; profiling
 * goes on. The time limit of a child is derived from the best median so far: see profiler.c.
 *
 * Test hooks (for tests of isolation, never set in production): FASTRUN_TEST_CRASH_ALGO=<name>
 * makes that candidate raise SIGSEGV inside its child, FASTRUN_TEST_HANG_ALGO=<name> makes it
 * sleep forever inside its child, FASTRUN_TEST_WRONG_ALGO=<name> adds 1 to its first output
 * (every run, the check's included) inside its child.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    bool full;          /* also profile NAIVE algorithms (--full-run) */
    double min_time_ms; /* timing stops once both this and min_samples are reached */
    int min_samples;
    int max_samples; /* hard caps */
    double max_time_ms;
    /* Called before each candidate (may be NULL): candidate index and count, algorithm name. */
    void (*on_candidate)(void *ctx, size_t i, size_t n, const char *algo);
    void *cb_ctx;
} frw_profile_opts;

/* Defaults: min 50 ms and 7 samples, cap 200 samples or 1 s. */
void frw_profile_opts_default(frw_profile_opts *o);

typedef struct {
    frw_conditions cond; /* of this operator's measurement */
    double reference_ms; /* one run of the naive reference */
    double total_s;      /* wall time of the whole profile */
    size_t ncandidates, nfailed;
    const char *first_why; /* the heuristic's reason for its pick (static) */
    const char *heuristic; /* the heuristic's pick under no policy (static name, NULL if none):
                              stored with the entry so readers without kernels/ know it */
} frw_profile_log;

/* Profiles op (with weight preprocessing when wp). On success *out holds *n results (owned by
 * the caller: frw_results_free), ranked with frc_rank. Errors: FR_ERR_INVALID_ARGUMENT for an
 * invalid op, FR_ERR_NOT_FOUND if no algorithm applies, FR_ERR_CRASHED/TIMEOUT/WRONG_RESULT if
 * the naive reference itself fails, FR_ERR_IO/NOMEM. log may be NULL. */
FR_WUR fr_err frw_profile_op(const fr_op *op, bool wp, const frw_profile_opts *opts,
                             frc_result **out, size_t *n, frw_profile_log *log, fr_diag *d);
void frw_results_free(frc_result *r, size_t n);

/* frk_verify_check(vr, a, preprocess) in a forked child, so that a crash or a hang becomes a
 * failure instead of the end of the caller; at most limit_s seconds. Returns the check's verdict
 * (OK, WRONG_RESULT, NOT_REPRODUCIBLE, INVALID_ARGUMENT, NOMEM) or CRASHED / TIMEOUT / IO; *out
 * is filled when the check ran; failure (len bytes) receives a one-line reason, "" when OK. */
FR_WUR fr_err frw_verify_isolated(const frk_verify_ref *vr, const frk_algo *a, bool preprocess,
                                  double limit_s, frk_verify_result *out, char *failure,
                                  size_t len);

/* ---------------------------------------------------------------------------------------------
 * run.c: the local runner (DESIGN.md "The local runner").
 * ------------------------------------------------------------------------------------------- */
typedef enum { FRW_SRC_CACHE = 0, FRW_SRC_PROFILED, FRW_SRC_HEURISTIC } frw_source;
const char *frw_source_name(frw_source s); /* "cache", "profiled", "heuristic" */

/* Called after each newly profiled operator, with the category already updated: this is where
 * the results are persisted (the local file) or uploaded. A non-OK return stops the run. */
typedef fr_err (*frw_sink_fn)(void *ctx, const frc_category *cat, const char *key,
                              const frw_profile_log *log, fr_diag *d);

typedef struct {
    bool profile;             /* --fast-run or --full-run: profile misses */
    bool reproducible;        /* choose only REPRODUCIBLE algorithms */
    bool weight_preprocess;   /* --weight-preprocess */
    uint64_t workspace_limit; /* bytes, 0 = none */
    int iterations;           /* timed runs of the whole model */
    frw_profile_opts prof;    /* prof.full: --full-run */
    frc_category *cat;        /* borrowed, may be NULL (no cache: heuristic unless profiling) */
    const char *cache_name;   /* for messages ("cache.json"), may be NULL */
    frw_sink_fn sink;         /* may be NULL */
    void *sink_ctx;
    bool progress; /* progress bar on stderr */
} frw_run_opts;

/* One operator of a run. */
typedef struct {
    const char *name; /* borrowed from the model */
    char key[FR_MAX_KEY_LEN];
    const frk_algo *algo; /* the algorithm run */
    frw_source source;
    char why[640];          /* why this algorithm, in words */
    double time_ms;         /* median over the timed model runs */
    double preprocess_ms;   /* weight transform at set-up (0 if none) */
    uint64_t workspace;     /* bytes of workspace the algorithm uses here */
    frc_result *candidates; /* owned copy of the ranking used or produced, may be empty */
    size_t ncandidates;
    bool has_log;
    frw_profile_log log; /* when profiled in this run */
} frw_op_record;

typedef struct {
    char category[17];
    frw_op_record *ops; /* owned, one per model operator */
    size_t nops;
    double total_ms; /* median of one whole-model run */
    size_t profiled; /* operators profiled in this run */
    double profiling_s;
    double setup_ms; /* buffers, random data and weight preprocessing before the timed runs */
    int iterations;
    frw_conditions cond; /* of the timed model runs */
} frw_run_report;

void frw_run_opts_default(frw_run_opts *o);
/* Chooses an algorithm for every operator of m, profiling misses when o->profile (updating
 * o->cat and calling o->sink), then sets the model up (random weights and inputs from a fixed
 * seed, weights preprocessed once if asked) and times o->iterations whole-model runs. out must
 * be zeroed; free with frw_run_report_cleanup (also after an error). */
FR_WUR fr_err frw_run_model(const fr_model *m, const frw_run_opts *o, frw_run_report *out,
                            fr_diag *d);
void frw_run_report_cleanup(frw_run_report *r);

/* ---------------------------------------------------------------------------------------------
 * report.c: presenting a run.
 * ------------------------------------------------------------------------------------------- */
/* The readable table (one line per operator, then the total). */
void frw_report_print_table(const fr_model *m, const frw_run_report *r, FILE *f);
/* --verbose: for every operator name, shapes, key, source, the choice and why, the candidates. */
void frw_report_print_verbose(const fr_model *m, const frw_run_report *r, FILE *f);
/* ["REPRODUCIBLE", "USES_BLAS"]: a new jansson reference (json_t *), NULL if out of memory. */
void *frw_attrs_json(unsigned attrs);
/* The JSON report (--report FILE), written atomically enough for a report (tmp + rename). */
FR_WUR fr_err frw_report_write_json(const frw_run_report *r, const char *path, fr_diag *d);

#endif
