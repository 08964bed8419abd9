/*
 * profiler.c - measures every candidate algorithm of one operator (DESIGN.md "Profiling").
 *
 * Steps, all under the machine-wide measurement lock (measure.c):
 *   1. the reference: random operands and the naive algorithm's output (frk_verify_ref_init),
 *      computed once per operator in this process and inherited by every child;
 *   2. per candidate (the heuristic's pick first), in its own child (isolation.c): the check
 *      against the reference (frk_verify_check: tolerance, unwritten outputs, bit-identical
 *      repeat for REPRODUCIBLE algorithms, with preprocessed weights when wp), then operands,
 *      workspace and preprocessed weights allocated, one warm-up run and the timed runs
 *      (timing_loop, which runs a disturbed series again). Without wp an algorithm with a
 * preprocess step transforms the weights inside run(), so the transform is timed; with wp it is
 * done before timing;
 *   3. the results ranked with frc_rank, so ties within noise break the same way every time.
 *
 * Time limit of a candidate's child (time_limit): 2 s + 3 x max_time + 300 x bound, where the
 * bound is the best median so far (the reference's run before any candidate finished). In
 * words: the fixed part covers process start-up and the timing cap of up to 3 series; the rest
 * lets a candidate be up to 50 times slower than the best for its 6 runs outside those caps
 * (check, repeat, warm-up, the last sample of each series). Anything slower is not worth waiting
 * for and is recorded as "timed out".
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isolation.h"
#include "worker.h"

#define LIMIT_FLOOR_S 2.0
#define LIMIT_SLOWDOWN 50.0
#define ATTEMPTS 3    /* timing series at most (timing_loop) */
#define DISTURBED 1.5 /* median over this times the minimum: a disturbed series */
#define LIMIT_UNTIMED_RUNS (3.0 + ATTEMPTS)

void frw_profile_opts_default(frw_profile_opts *o)
{
    memset(o, 0, sizeof *o);
    o->min_time_ms = 50;
    o->min_samples = 7;
    o->max_samples = 200;
    o->max_time_ms = 1000;
}

void frw_results_free(frc_result *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        frc_result_cleanup(&r[i]);
    free(r);
}

static double time_limit(double bound_ms, const frw_profile_opts *o)
{
    return LIMIT_FLOOR_S + ATTEMPTS * o->max_time_ms / 1000.0 +
           LIMIT_SLOWDOWN * LIMIT_UNTIMED_RUNS * bound_ms / 1000.0;
}

/* What a child works on (inherited through fork). */
typedef struct {
    const frk_verify_ref *vr;
    const frk_algo *algo;
    bool wp;
    uint64_t seed;
    const frw_profile_opts *opts; /* NULL: check only */
} job;

static double run_once(const job *j, const frk_ctx *ctx, const frk_exec *x)
{
    double t0 = frw_now();
    j->algo->run(&j->vr->op, ctx, x);
    return (frw_now() - t0) * 1000.0;
}

/* One series of timed runs until min_time and min_samples are both reached, or a cap. samples
 * has room for opts->max_samples; nothing is allocated in here. */
static void timing_series(const job *j, const frk_ctx *ctx, const frk_exec *x, double *samples,
                          frw__child_msg *msg)
{
    const frw_profile_opts *o = j->opts;
    double total = 0;
    int n = 0;
    while (n < o->max_samples) {
        samples[n] = run_once(j, ctx, x);
        total += samples[n++];
        if (total >= o->min_time_ms && n >= o->min_samples) break;
        if (total >= o->max_time_ms) break;
    }
    msg->samples = n;
    msg->median_ms = frw_median(samples, (size_t)n); /* sorts */
    msg->min_ms = samples[0];
}

/* The timed runs. A series whose median is over DISTURBED x its minimum was disturbed (another
 * process took the cores: the machine-wide lock only keeps other fastruns away), so it is run
 * again, up to ATTEMPTS series; the series with the lowest median is kept, since a disturbance
 * only ever adds time; its figures (median, min, samples) are the ones reported. */
static void timing_loop(const job *j, const frk_ctx *ctx, const frk_exec *x, double *samples,
                        frw__child_msg *msg)
{
    frw__child_msg best = *msg;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        timing_series(j, ctx, x, samples, msg);
        if (attempt == 0 || msg->median_ms < best.median_ms) best = *msg;
        if (best.median_ms <= DISTURBED * best.min_ms) break;
    }
    *msg = best;
}

/* FASTRUN_TEST_WRONG_ALGO: the real algorithm, then its first output off by one. Set in the
 * candidate's child only, which is single-threaded and exits after this one candidate, so the
 * file-scope pointer is never shared. */
static const frk_algo *wrong_real;
static frk_algo wrong_copy;

static void wrong_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    wrong_real->run(op, ctx, x);
    x->dst[0] += 1.0f;
}

/* Test hooks (worker.h): make the named candidate crash, hang or give a wrong result inside its
 * child. Returns the algorithm the child should use (a wrapped copy for a wrong result). */
static const frk_algo *test_hooks(const frk_algo *a)
{
    const char *name = a->name;
    const char *crash = getenv("FASTRUN_TEST_CRASH_ALGO");
    const char *hang = getenv("FASTRUN_TEST_HANG_ALGO");
    const char *wrong = getenv("FASTRUN_TEST_WRONG_ALGO");
    if (crash && strcmp(crash, name) == 0) {
        signal(SIGSEGV, SIG_DFL); /* a real crash even where a sanitizer installed a handler */
        raise(SIGSEGV);
    }
    if (hang && strcmp(hang, name) == 0)
        for (;;)
            pause();
    if (wrong && strcmp(wrong, name) == 0) {
        wrong_real = a;
        wrong_copy = *a;
        wrong_copy.run = wrong_run;
        return &wrong_copy;
    }
    return a;
}

/* The check against the reference; false (msg->failure set) if the candidate failed it. */
static bool check(const job *j, const frk_ctx *ctx, frw__child_msg *msg)
{
    fr_err e = frk_verify_check(j->vr, j->algo, ctx, j->wp, &msg->check);
    msg->status = e;
    const frk_verify_result *r = &msg->check;
    if (e == FR_ERR_WRONG_RESULT && !isfinite(r->max_abs_err))
        snprintf(msg->failure, sizeof msg->failure,
                 "wrong result: output %lld is not finite (unwritten or overflowed)",
                 (long long)r->worst);
    else if (e == FR_ERR_WRONG_RESULT)
        snprintf(msg->failure, sizeof msg->failure, "wrong result: max error %.3g > %.3g",
                 r->max_abs_err, r->tolerance);
    else if (e == FR_ERR_NOT_REPRODUCIBLE)
        snprintf(msg->failure, sizeof msg->failure,
                 "not reproducible: a repeat run was not bit-identical");
    else if (e)
        snprintf(msg->failure, sizeof msg->failure, "check failed: %s", fr_err_message(e));
    return e == FR_ERR_OK;
}

static void check_child(void *arg, frw__child_msg *msg)
{
    const job *j = arg;
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    check(j, &ctx, msg);
}

/* The child of one candidate: check, then time. The process exits right after, so nothing is
 * freed here. */
static void candidate_child(void *arg, frw__child_msg *msg)
{
    job hooked = *(const job *)arg;
    const job *j = &hooked;
    hooked.algo = test_hooks(hooked.algo);
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    if (!check(j, &ctx, msg)) return;
    frw_buffers b = {0};
    fr_diag d;
    double *samples = malloc((size_t)j->opts->max_samples * sizeof(double));
    if (!samples || frw_buffers_alloc(&j->vr->op, j->algo, &ctx, j->vr->src, j->vr->wei, &b, &d) ||
        (j->wp && frw_buffers_preprocess(&j->vr->op, j->algo, &ctx, &b, &d))) {
        msg->status = FR_ERR_NOMEM;
        snprintf(msg->failure, sizeof msg->failure, "out of memory for operands or workspace");
        return;
    }
    frk_exec x = frw_buffers_exec(&b);
    msg->first_ms = run_once(j, &ctx, &x); /* warm-up */
    timing_loop(j, &ctx, &x, samples, msg);
    msg->status = FR_ERR_OK;
}

fr_err frw_verify_isolated(const frk_verify_ref *vr, const frk_algo *a, bool preprocess,
                           double limit_s, frk_verify_result *out, char *failure, size_t len)
{
    job j = {.vr = vr, .algo = a, .wp = preprocess};
    frw__child_msg msg;
    fr_err e = frw__isolate(check_child, &j, limit_s, &msg);
    if (e == FR_ERR_OK) e = msg.status;
    *out = msg.check;
    snprintf(failure, len, "%s", e ? msg.failure : "");
    return e;
}

/* Candidates in profiling order: the heuristic's pick, then the table order. */
static size_t list_candidates(const fr_op *op, bool wp, const frw_profile_opts *o,
                              const frk_ctx *ctx, const frk_algo **out, const char **why)
{
    size_t count, n = 0;
    const frk_algo *const *table = frk_algos(op->kind, &count);
    const frk_algo *first = frk_heuristic(op, wp, ctx, 0, o->full ? 0 : FR_ATTR_NAIVE, 0, why);
    if (first) out[n++] = first;
    for (size_t i = 0; i < count; i++) {
        const frk_algo *a = table[i];
        if (a == first || ((a->attrs & FR_ATTR_NAIVE) && !o->full)) continue;
        if (!a->applicable(op, ctx)) continue;
        out[n++] = a;
    }
    return n;
}

static fr_err fill_result(const frk_algo *a, const fr_op *op, const frk_ctx *ctx,
                          const frw__child_msg *msg, frc_result *r)
{
    memset(r, 0, sizeof *r);
    r->algorithm = strdup(a->name);
    r->attrs = a->attrs;
    r->workspace = a->workspace(op, ctx);
    r->reports = 1;
    if (msg->status == FR_ERR_OK) {
        r->median_ms = msg->median_ms;
        r->min_ms = msg->min_ms;
        r->samples = msg->samples;
    } else {
        r->failure = strdup(msg->failure[0] ? msg->failure : fr_err_message(msg->status));
        if (!r->failure) return FR_ERR_NOMEM;
    }
    return r->algorithm ? FR_ERR_OK : FR_ERR_NOMEM;
}

/* The reference, then every candidate, filling res[0..nc). */
static fr_err measure_all(job *j, const fr_op *op, frk_verify_ref *vr, const frk_algo **cands,
                          size_t nc, const frk_ctx *ctx, frc_result *res, frw_profile_log *log,
                          fr_diag *d)
{
    double t0 = frw_now();
    fr_err e = frk_verify_ref_init(vr, op, NULL, ctx, j->seed);
    if (e) return fr_diag_set(d, e, "cannot compute the naive reference: %s", fr_err_message(e));
    log->reference_ms = (frw_now() - t0) * 1000.0;
    double best_ms = INFINITY;
    frw__child_msg msg;
    for (size_t i = 0; i < nc; i++) {
        if (j->opts->on_candidate) j->opts->on_candidate(j->opts->cb_ctx, i, nc, cands[i]->name);
        j->algo = cands[i];
        double bound_ms = isfinite(best_ms) ? best_ms : log->reference_ms;
        e = frw__isolate(candidate_child, j, time_limit(bound_ms, j->opts), &msg);
        if (e == FR_ERR_IO) return fr_diag_set(d, e, "%s: %s", cands[i]->name, msg.failure);
        if (e) msg.status = e; /* crashed or timed out: msg.failure says how */
        if (fill_result(cands[i], op, ctx, &msg, &res[i]))
            return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
        if (res[i].failure)
            log->nfailed++;
        else if (res[i].median_ms < best_ms)
            best_ms = res[i].median_ms;
    }
    return FR_ERR_OK;
}

fr_err frw_profile_op(const fr_op *op, bool wp, const frw_profile_opts *opts, frc_result **out,
                      size_t *n, frw_profile_log *log, fr_diag *d)
{
    frw_profile_log scratch;
    if (!log) log = &scratch;
    memset(log, 0, sizeof *log);
    if (fr_op_validate(op, d)) return FR_ERR_INVALID_ARGUMENT;
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    size_t count;
    frk_algos(op->kind, &count);
    const frk_algo **cands = calloc(count + 1, sizeof *cands);
    frc_result *res = calloc(count + 1, sizeof *res);
    if (!cands || !res) {
        free(cands);
        free(res);
        return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    }
    size_t nc = list_candidates(op, wp, opts, &ctx, cands, &log->first_why);
    const frk_algo *pick = frk_heuristic(op, wp, &ctx, 0, 0, 0, NULL);
    log->heuristic = pick ? pick->name : NULL;
    log->ncandidates = nc;
    char key[FR_MAX_KEY_LEN];
    fr_op_key(op, wp, key, sizeof key);
    frk_verify_ref vr;
    memset(&vr, 0, sizeof vr);
    job j = {.vr = &vr, .wp = wp, .seed = frw_seed_of(key), .opts = opts};
    fr_err e = FR_ERR_OK;
    if (nc == 0) e = fr_diag_set(d, FR_ERR_NOT_FOUND, "no applicable algorithm for %s", key);
    frw_measure_lock lock;
    frw_measure_lock_init(&lock);
    double t0 = frw_now();
    if (!e) e = frw_measure_lock_acquire(&lock, &log->cond, d);
    if (!e) e = measure_all(&j, op, &vr, cands, nc, &ctx, res, log, d);
    frw_measure_lock_release(&lock, &log->cond);
    log->total_s = frw_now() - t0;
    frk_verify_ref_cleanup(&vr);
    free(cands);
    if (e) {
        frw_results_free(res, count + 1);
        return e;
    }
    frc_rank(res, nc);
    *out = res;
    *n = nc;
    return FR_ERR_OK;
}
