/*
 * conv2d_direct.c - conv2d.direct_simd: direct convolution, vectorised along output columns and
 * register-blocked over output channels (see conv2d_direct_avx512.c / _avx2.c for the blocking).
 * Any shape is applicable (stride, padding and dilation are absorbed by the phase-split packed
 * input of conv2d_util.h; groups by packing weights per group); it wins on 3x3 and larger kernels
 * with wide rows, where im2col's copy costs as much as it saves.
 *
 * run() packs the input into the workspace, and the weights too unless pwei holds them already
 * (preprocess() does that packing once). The kernel is chosen at run time from ctx->isa: AVX-512,
 * AVX2, or a portable scalar loop for CPUs with neither. Parallel over (image, group, output
 * row, channel block) tasks, each thread one contiguous band of them of equal cost; each output is
 * summed by one thread in the fixed order (c, r, s), so the result is bit-identical run after run
 * and at any thread count (for one ISA).
 */
#include <omp.h>
#include <string.h>

#include "algos.h"
#include "conv2d_direct.h"

static double wpack_bytes(const frk__conv *cv)
{
    int kblocks = (cv->kg + FRK__DIRECT_KB - 1) / FRK__DIRECT_KB;
    return 4.0 * cv->g * kblocks * FRK__DIRECT_KB * (double)cv->cg * cv->r * cv->s;
}

static bool direct_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    if (op->kind != FR_OP_CONV2D) return false;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    return frk__xpack_bytes(&cv) + wpack_bytes(&cv) + 128 <= FRK__WS_MAX;
}

static size_t direct_preprocessed_size(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    return frk__round64((size_t)wpack_bytes(&cv));
}

static size_t direct_workspace(const fr_op *op, const frk_ctx *ctx)
{
    frk__conv cv;
    frk__xpack xp;
    frk__conv_dims(op, &cv);
    frk__xpack_geom(&cv, &xp);
    size_t xbytes = frk__round64((size_t)cv.n * cv.c * xp.plane * sizeof(float));
    return xbytes + direct_preprocessed_size(op, ctx);
}

static void direct_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    frk__conv cv;
    frk__conv_dims(op, &cv);
    int kblocks = (cv.kg + FRK__DIRECT_KB - 1) / FRK__DIRECT_KB;
    size_t rs = (size_t)cv.r * cv.s, per = (size_t)cv.cg * rs * FRK__DIRECT_KB;
    float *wp = pwei;
    long blocks = (long)cv.g * kblocks;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (long b = 0; b < blocks; b++) {
        int g = (int)(b / kblocks), kb = (int)(b % kblocks);
        float *dst = wp + (size_t)b * per;
        for (size_t e = 0; e < (size_t)cv.cg * rs; e++) {
            for (int kk = 0; kk < FRK__DIRECT_KB; kk++) {
                int k = kb * FRK__DIRECT_KB + kk;
                dst[e * FRK__DIRECT_KB + kk] =
                    k < cv.kg ? wei[((size_t)g * cv.kg + k) * cv.cg * rs + e] : 0.0f;
            }
        }
    }
}

/* Portable fallback with the same packed layouts and summation order; the compiler vectorises
 * the channel loop with whatever the baseline ISA offers. */
static void direct_row_scalar(const frk__direct *d, int n, int g, int kb, int oh)
{
    const frk__conv *cv = &d->cv;
    const float *xin = d->xin + ((size_t)n * cv->c + (size_t)g * cv->cg) * d->xp.plane;
    const float *wb = frk__direct_wblock(d, g, kb);
    int k0 = g * cv->kg + kb * FRK__DIRECT_KB;
    int kvalid = cv->kg - kb * FRK__DIRECT_KB;
    if (kvalid > FRK__DIRECT_KB) kvalid = FRK__DIRECT_KB;
    size_t pq = (size_t)cv->p * cv->q;
    for (int ow = 0; ow < cv->q; ow++) {
        float acc[FRK__DIRECT_KB] = {0};
        for (int c = 0; c < cv->cg; c++) {
            for (int i = 0; i < cv->r; i++) {
                const float *row =
                    frk__xpack_row(cv, &d->xp, xin, 0, c, oh * cv->sh + i * cv->dh, 0);
                const float *w = wb + (size_t)(c * cv->r + i) * cv->s * FRK__DIRECT_KB;
                for (int j = 0; j < cv->s; j++, w += FRK__DIRECT_KB) {
                    int off = j * cv->dw;
                    float xv = row[(size_t)(off % cv->sw) * d->xp.len + ow + off / cv->sw];
                    for (int kk = 0; kk < FRK__DIRECT_KB; kk++)
                        acc[kk] += w[kk] * xv;
                }
            }
        }
        for (int kk = 0; kk < kvalid; kk++)
            d->dst[((size_t)n * cv->k + k0 + kk) * pq + (size_t)oh * cv->q + ow] = acc[kk];
    }
}

/* Relative cost of one row task of channel block kb: the row kernels run register blocks of 4
 * (AVX2) or 8 (AVX-512) output channels, so the work grows with the channels of the block that
 * exist, in steps of 4. Only the last block of a group is ever partial. */
static double block_cost(const frk__conv *cv, int kb)
{
    int kvalid = cv->kg - kb * FRK__DIRECT_KB;
    if (kvalid > FRK__DIRECT_KB) kvalid = FRK__DIRECT_KB;
    return (kvalid + 3) / 4;
}

static void direct_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__direct d;
    frk__conv_dims(op, &d.cv);
    frk__xpack_geom(&d.cv, &d.xp);
    d.kblocks = (d.cv.kg + FRK__DIRECT_KB - 1) / FRK__DIRECT_KB;
    float *xin = x->ws;
    size_t xbytes = frk__round64((size_t)d.cv.n * d.cv.c * d.xp.plane * sizeof(float));
    frk__xpack_fill(&d.cv, &d.xp, x->src, xin, ctx->nthreads);
    d.xin = xin;
    if (x->pwei) {
        d.wp = x->pwei;
    } else {
        float *wp = (float *)((char *)x->ws + xbytes);
        direct_preprocess(op, ctx, x->wei, wp);
        d.wp = wp;
    }
    d.dst = x->dst;
    void (*row)(const frk__direct *, int, int, int, int) =
        ctx->isa >= FRK_ISA_AVX512 ? frk__direct_row_avx512
        : ctx->isa >= FRK_ISA_AVX2 ? frk__direct_row_avx2
                                   : direct_row_scalar;
    /* Tasks in (image, group, output row, channel block) order, blocks fastest, so the input
     * rows of one output row serve every channel block while they are in cache. Each thread
     * takes one contiguous range of equal cost (a band of whole rows), so the threads read
     * disjoint input bands (plus the kernel's halo), never write the same output row (rows of
     * 27-45 floats share cache lines) and pay nothing for scheduling. */
    double rowcost = 0; /* cost of one output row of one (image, group), all channel blocks */
    for (int kb = 0; kb < d.kblocks; kb++)
        rowcost += block_cost(&d.cv, kb);
    const double unit = rowcost * d.cv.p; /* of one (image, group) */
    const long units = (long)d.cv.n * d.cv.g;
#pragma omp parallel num_threads(ctx->nthreads)
    {
        const int nt = omp_get_num_threads(), me = omp_get_thread_num();
        const double lo = unit * units * me / nt, hi = unit * units * (me + 1) / nt;
        const bool last = me == nt - 1;
        /* A task belongs to the thread whose range [lo, hi) holds its cost midpoint; whole
         * units and rows that end before lo are skipped without looking at their blocks. */
        double at = 0;
        for (long u = 0; u < units && (last || at < hi); u++) {
            if (at + unit <= lo) {
                at += unit;
                continue;
            }
            for (int oh = 0; oh < d.cv.p && (last || at < hi); oh++) {
                if (at + rowcost <= lo) {
                    at += rowcost;
                    continue;
                }
                for (int kb = 0; kb < d.kblocks; kb++) {
                    const double c = block_cost(&d.cv, kb), mid = at + c / 2;
                    at += c;
                    if (mid >= lo && (last || mid < hi))
                        row(&d, (int)(u / d.cv.g), (int)(u % d.cv.g), kb, oh);
                }
            }
        }
    }
}

const frk_algo frk_conv2d_direct_simd = {
    .name = "conv2d.direct_simd",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "direct convolution, SIMD along output columns, blocked over output channels; any shape",
    .applicable = direct_applicable,
    .workspace = direct_workspace,
    .run = direct_run,
    .preprocessed_size = direct_preprocessed_size,
    .preprocess = direct_preprocess,
};
