/*
 * fastrun_side.c - fastrun's side of the comparison: every applicable non-NAIVE algorithm of the
 * operator (what `fastrun run --fast-run` profiles), each checked against the reference first
 * (frk_verify_check, as the profiler does, so a wrong kernel can never be the pick), then timed
 * on the shared operands with its weights preprocessed before timing when it has that step (the
 * --weight-preprocess setting), and ranked with frc_rank, the profiler's ranking (median, ties
 * within noise broken by REPRODUCIBLE, workspace, name). The pick is what fastrun would run.
 *
 * Unlike the profiler, candidates run in this process, not in a forked child: a crashing kernel
 * ends the benchmark (it is a benchmark, not a tuner facing untrusted kernels).
 */
#include "kbench.h"

#include <stdlib.h>
#include <string.h>

#include "worker.h"

const char *kb_baseline_name(fr_op_kind kind)
{
    return kind == FR_OP_CONV2D ? "conv2d.im2col_gemm" : "matmul.blas";
}

typedef struct {
    const frk_algo *algo;
    const fr_op *op;
    const frk_ctx *ctx;
    const frk_exec *x;
} algo_call;

static void run_algo(void *arg)
{
    const algo_call *c = arg;
    c->algo->run(c->op, c->ctx, c->x);
}

/* Check, then time one candidate into *c. */
static fr_err measure_one(const frk_verify_ref *vr, const frk_ctx *ctx, const kb_timing *t,
                          double *samples, kb_candidate *c, fr_diag *d)
{
    frk_verify_result vres;
    fr_err e = frk_verify_check(vr, c->algo, ctx, true, &vres);
    if (e == FR_ERR_NOMEM)
        return fr_diag_set(d, e, "%s: out of memory in the check", c->algo->name);
    if (e == FR_ERR_WRONG_RESULT) {
        snprintf(c->failure, sizeof c->failure, "wrong result: max error %.3g > %.3g",
                 vres.max_abs_err, vres.tolerance);
        return FR_ERR_OK;
    }
    if (e) {
        snprintf(c->failure, sizeof c->failure, "check failed: %s", fr_err_message(e));
        return FR_ERR_OK;
    }
    frw_buffers b = {0};
    e = frw_buffers_alloc(&vr->op, c->algo, ctx, vr->src, vr->wei, &b, d);
    if (!e) e = frw_buffers_preprocess(&vr->op, c->algo, ctx, &b, d);
    if (!e) {
        c->preprocessed = b.pwei != NULL;
        frk_exec x = frw_buffers_exec(&b);
        algo_call call = {c->algo, &vr->op, ctx, &x};
        kb_time_loop(t, run_algo, &call, samples, &c->t);
    }
    frw_buffers_free(&b);
    return e;
}

/* The profiler's ranking over the measured candidates; sets out->best. */
static fr_err rank(kb_fastrun *out, const fr_op *op, const frk_ctx *ctx, fr_diag *d)
{
    frc_result res[KB_MAX_CANDIDATES];
    size_t n = 0;
    memset(res, 0, sizeof res);
    for (size_t i = 0; i < out->ncand; i++) {
        const kb_candidate *c = &out->cand[i];
        if (c->failure[0]) continue;
        res[n].algorithm = strdup(c->algo->name);
        res[n].attrs = c->algo->attrs;
        res[n].workspace = c->algo->workspace(op, ctx);
        res[n].median_ms = c->t.median_ms;
        res[n].min_ms = c->t.min_ms;
        res[n].samples = c->t.samples;
        res[n].reports = 1;
        if (!res[n++].algorithm) {
            for (size_t j = 0; j < n; j++)
                frc_result_cleanup(&res[j]);
            return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
        }
    }
    frc_rank(res, n);
    out->best = -1;
    for (size_t i = 0; n > 0 && i < out->ncand; i++)
        if (strcmp(out->cand[i].algo->name, res[0].algorithm) == 0) out->best = (int)i;
    for (size_t j = 0; j < n; j++)
        frc_result_cleanup(&res[j]);
    return FR_ERR_OK;
}

fr_err kb_fastrun_measure(const frk_verify_ref *vr, const kb_timing *t, double *samples,
                          kb_fastrun *out, fr_diag *d)
{
    memset(out, 0, sizeof *out);
    out->best = out->baseline = -1;
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    size_t count;
    const frk_algo *const *table = frk_algos(vr->op.kind, &count);
    for (size_t i = 0; i < count && out->ncand < KB_MAX_CANDIDATES; i++) {
        const frk_algo *a = table[i];
        if ((a->attrs & FR_ATTR_NAIVE) || !a->applicable(&vr->op, &ctx)) continue;
        kb_candidate *c = &out->cand[out->ncand++];
        c->algo = a;
        fr_err e = measure_one(vr, &ctx, t, samples, c, d);
        if (e) return e;
        if (!c->failure[0] && strcmp(a->name, kb_baseline_name(vr->op.kind)) == 0)
            out->baseline = (int)(out->ncand - 1);
    }
    return rank(out, &vr->op, &ctx, d);
}
