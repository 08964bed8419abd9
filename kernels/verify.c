/*
 * verify.c - checks an algorithm against a reference on random data (contract and tolerance in
 * kernels.h, "Verification"). Used by the kernel tests, the profiler and `fastrun verify`, so the
 * rule for "correct" is written once.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

/* splitmix64: a tiny seeded generator; the data only needs to be varied and repeatable. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1), exactly representable (24 random bits). */
static float next_float(uint64_t *s)
{
    return (float)((int64_t)(next_u64(s) >> 40) - (1 << 23)) / (float)(1 << 23);
}

static double fill_random(float *p, int64_t n, uint64_t *s)
{
    double sq = 0.0;
    for (int64_t i = 0; i < n; i++) {
        p[i] = next_float(s);
        sq += (double)p[i] * p[i];
    }
    return sqrt(sq / (double)n);
}

static void fill_value(void *p, size_t bytes, float v)
{
    float *f = p;
    for (size_t i = 0; i < bytes / sizeof(float); i++)
        f[i] = v;
}

static int64_t reduction_length(const fr_op *op)
{
    if (op->kind == FR_OP_CONV2D)
        return (int64_t)(op->conv.c / op->conv.groups) * op->conv.r * op->conv.s;
    return op->mm.k;
}

static bool usable(const frk_algo *a, const fr_op *op, const frk_ctx *ctx)
{
    return a && a->kind == op->kind && a->applicable(op, ctx);
}

fr_err frk_verify_ref_init(frk_verify_ref *vr, const fr_op *op, const frk_algo *ref,
                           const frk_ctx *ctx, uint64_t seed)
{
    if (fr_op_validate(op, NULL) != FR_ERR_OK) return FR_ERR_INVALID_ARGUMENT;
    if (!ref) ref = frk_naive(op->kind);
    if (!usable(ref, op, ctx)) return FR_ERR_INVALID_ARGUMENT;
    fr_op_sizes sz = fr_op_sizes_of(op);
    size_t wsb = ref->workspace(op, ctx);
    void *ws = frk_alloc(wsb);
    vr->op = *op;
    vr->src = frk_alloc((size_t)sz.src * sizeof(float));
    vr->wei = frk_alloc((size_t)sz.wei * sizeof(float));
    vr->ref = frk_alloc((size_t)sz.dst * sizeof(float));
    if (!vr->src || !vr->wei || !vr->ref || (wsb && !ws)) {
        frk_free(ws);
        frk_verify_ref_cleanup(vr);
        return FR_ERR_NOMEM;
    }
    uint64_t state = seed;
    double rms_src = fill_random(vr->src, sz.src, &state);
    double rms_wei = fill_random(vr->wei, sz.wei, &state);
    vr->tol_base = 8.0 * FLT_EPSILON * (double)reduction_length(op) * rms_src * rms_wei;
    frk_exec x = {.src = vr->src, .wei = vr->wei, .pwei = NULL, .dst = vr->ref, .ws = ws};
    ref->run(op, ctx, &x);
    frk_free(ws);
    vr->ref_max = 0.0;
    for (int64_t i = 0; i < sz.dst; i++)
        vr->ref_max = fmax(vr->ref_max, fabs(vr->ref[i]));
    return FR_ERR_OK;
}

void frk_verify_ref_cleanup(frk_verify_ref *vr)
{
    frk_free(vr->src);
    frk_free(vr->wei);
    frk_free(vr->ref);
    memset(vr, 0, sizeof *vr);
}

/* One run of a into dst, workspace first filled with `garbage` (NaN on the first run). */
static void run_once(const frk_verify_ref *vr, const frk_algo *a, const frk_ctx *ctx,
                     const void *pwei, void *ws, size_t wsb, float garbage, float *dst)
{
    fr_op_sizes sz = fr_op_sizes_of(&vr->op);
    fill_value(dst, (size_t)sz.dst * sizeof(float), NAN);
    if (ws) fill_value(ws, wsb, garbage);
    frk_exec x = {.src = vr->src, .wei = vr->wei, .pwei = pwei, .dst = dst, .ws = ws};
    a->run(&vr->op, ctx, &x);
}

static void compare(const frk_verify_ref *vr, const float *out, frk_verify_result *res)
{
    fr_op_sizes sz = fr_op_sizes_of(&vr->op);
    res->max_abs_err = 0.0;
    res->worst = 0;
    for (int64_t i = 0; i < sz.dst; i++) {
        double e = isfinite(out[i]) ? fabs((double)out[i] - vr->ref[i]) : INFINITY;
        if (e > res->max_abs_err) {
            res->max_abs_err = e;
            res->worst = i;
        }
    }
    res->pass = res->max_abs_err <= res->tolerance;
}

fr_err frk_verify_check(const frk_verify_ref *vr, const frk_algo *a, const frk_ctx *ctx,
                        bool preprocess, frk_verify_result *out)
{
    memset(out, 0, sizeof *out);
    if (!usable(a, &vr->op, ctx)) return FR_ERR_INVALID_ARGUMENT;
    fr_op_sizes sz = fr_op_sizes_of(&vr->op);
    bool pre = preprocess && a->preprocess && a->preprocessed_size;
    size_t wsb = a->workspace(&vr->op, ctx);
    size_t pwb = pre ? a->preprocessed_size(&vr->op, ctx) : 0;
    size_t db = (size_t)sz.dst * sizeof(float);
    bool repro = (a->attrs & FR_ATTR_REPRODUCIBLE) != 0;
    void *ws = frk_alloc(wsb), *pwei = frk_alloc(pwb);
    float *d1 = frk_alloc(db), *d2 = repro ? frk_alloc(db) : NULL;
    fr_err err = FR_ERR_OK;
    if ((wsb && !ws) || (pwb && !pwei) || !d1 || (repro && !d2)) {
        err = FR_ERR_NOMEM;
        goto done;
    }
    if (pre) a->preprocess(&vr->op, ctx, vr->wei, pwei);
    out->preprocessed = pre;
    out->ref_max = vr->ref_max;
    out->tolerance = vr->tol_base * (a->tol_factor > 0 ? a->tol_factor : 1.0);
    run_once(vr, a, ctx, pwei, ws, wsb, NAN, d1);
    compare(vr, d1, out);
    out->bit_identical = true;
    if (repro) {
        out->repro_checked = true;
        run_once(vr, a, ctx, pwei, ws, wsb, 12345.0f, d2);
        out->bit_identical = memcmp(d1, d2, db) == 0;
    }
    err = !out->pass            ? FR_ERR_WRONG_RESULT
          : !out->bit_identical ? FR_ERR_NOT_REPRODUCIBLE
                                : FR_ERR_OK;
done:
    frk_free(ws);
    frk_free(pwei);
    frk_free(d1);
    frk_free(d2);
    return err;
}

fr_err frk_verify(const frk_algo *a, const fr_op *op, const frk_ctx *ctx, bool preprocess,
                  uint64_t seed, frk_verify_result *out)
{
    frk_verify_ref vr;
    memset(&vr, 0, sizeof vr);
    memset(out, 0, sizeof *out);
    fr_err e = frk_verify_ref_init(&vr, op, NULL, ctx, seed);
    if (e == FR_ERR_OK) e = frk_verify_check(&vr, a, ctx, preprocess, out);
    frk_verify_ref_cleanup(&vr);
    return e;
}
