/*
 * conv2d_1x1_packed.c - conv2d.gemm_1x1_packed: 1x1 unpadded convolution (any stride, groups 1)
 * on fastrun's own micro-kernels (matmul_gemm.h), no BLAS call. Per image it computes the
 * product transposed, outT[p][k] = sum_c inT[p][c] * W[k][c]: micro-panel rows are pixels (mr of
 * them, gathered from the input planes, stride folded into that gather) and the vector columns
 * are 32 output channels of a weight panel (panel j holds, for each input channel c, the weights
 * W[32j .. 32j+31][c] contiguously, the B-panel layout of matmul_gemm.h). Channels fill whole
 * vectors whatever the map size (with pixels in vectors a 7x7 map would waste 15 of 64 columns),
 * and a partial last micro-panel runs a kernel for just its rows. Each finished mr x 32 tile is
 * transposed into the NCHW output. On AVX-512 at stride 1 with k <= 1024 the pixels are not
 * gathered at all: the kernel broadcasts them from the input planes in place (see inplace_pays),
 * with 7-row micro-panels where that avoids a latency-bound short last one (49-pixel maps).
 * Stride-1 maps of 512 pixels or more take the plain orientation
 * instead (see direct_pays): one GEMM of the core per tile, on the operands in place.
 *
 * Weight preprocessing builds the panels once; without it, stride-1 convolutions take the plain
 * orientation below and strided ones build the panels in run(), in the workspace.
 * Work is split statically into 2-D tiles (images x weight panels x pixel micro-panels), so two
 * threads share even a 49-pixel map evenly. Every output is summed over c in increasing order in
 * blocks of FRK__GEMM_KC (each block's fused multiply-add chain starts from zero in a register,
 * then is added to the tile), the order of matmul_gemm.h; it depends on no tiling, thread count
 * or ISA: REPRODUCIBLE.
 */
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "algos.h"
#include "conv2d_1x1_packed.h"
#include "conv2d_util.h"
#include "matmul_gemm.h"

#define NR FRK__GEMM_NR
#define CEIL_DIV(a, b) (((a) + (b)-1) / (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
/* Bytes of pixel micro-panels packed at once: with one weight panel they stay in L2. */
#define PIX_BLOCK_BYTES (512 * 1024)

typedef struct {
    frk__conv cv;
    const frk__ukernel *uk;
    int pq;               /* output pixels per image */
    int units_k, units_p; /* weight panels; pixel micro-panels per image */
    int ktiles, ptiles;   /* tiles per image along each */
    int pblock;           /* micro-panels packed at once */
    bool direct;          /* the plain orientation (see direct_pays) */
    bool inplace;         /* transposed, pixels read from the input planes, not packed */
    int mr;               /* pixels per micro-panel (uk->mr, or fewer when in place) */
    int units_m, units_n; /* direct: micro-panels of output channels, 32-pixel panels */
    int mtiles, ntiles;   /* direct: tiles per image along each */
    size_t shared_bytes;  /* the weight panels, in the workspace when not preprocessed */
    size_t acc_offset;    /* bytes of one thread's packed pixels, where its tiles start */
    size_t ws_thread;     /* one thread's packed pixels and tiles */
} plan;

static bool shape_ok(const frk__conv *cv)
{
    return cv->r == 1 && cv->s == 1 && cv->ph == 0 && cv->pw == 0 && cv->g == 1;
}

/* Estimated cycles of a task of px pixels x ch channels: FMAs at 32 lanes per cycle, the gather
 * of px * c inputs, the weights read (ch * c) and the transposed store. */
static double task_cost(double px, double ch, double c)
{
    return px * ch * c / 32.0 + px * c / 8.0 + ch * c / 8.0 + px * ch / 4.0;
}

static bool strided(const frk__conv *cv)
{
    return cv->sh != 1 || cv->sw != 1;
}

/* The plain orientation, out = W * in, stride 1 only: the weights as micro-panel rows and 32
 * pixels per vector, both read in place by the GEMM core. No packing and no transpose, so it
 * wins where pixels fill whole panels, and on small maps when the weights are not preprocessed
 * (packing them in run() costs about half the product on 7x7 maps: l4.1x1b 0.87 against 0.70 ms
 * at 1 thread). Both orientations sum in the same order (matmul_gemm.h), so their results are
 * bit-identical. Measured at 1 thread with preprocessed weights: the plain orientation is
 * 15-50% faster on 56x56 and 28x28 maps, 5-25% slower on 14x14 and 7x7 ones; at stride 2 it
 * (with subsampled pixel panels packed first) was no faster on 28x28 outputs and 5-15% slower on
 * 14x14 and 7x7 ones. */
static bool direct_pays(const frk__conv *cv, bool preprocessed)
{
    return !strided(cv) && (!preprocessed || cv->p * cv->q >= 512);
}

/* Direct orientation: tiles of at most one block of weight rows (so the GEMM core reads them in
 * place) x 32-pixel panels, smallest estimated makespan. */
static void plan_direct(plan *pl, int t)
{
    const frk__conv *cv = &pl->cv;
    const int mr = pl->uk->mr, mcb = FRK__GEMM_MC / mr * mr;
    double best = -1.0;

    pl->units_m = CEIL_DIV(cv->k, mr);
    pl->units_n = CEIL_DIV(pl->pq, NR);
    const int mt0 = CEIL_DIV(pl->units_m * mr, mcb);
    pl->mtiles = mt0;
    pl->ntiles = 1;
    for (int mt = mt0; mt <= MIN(pl->units_m, mt0 + 2 * t); mt++) {
        for (int nt = 1; nt <= MIN(pl->units_n, 4 * t); nt++) {
            const double tasks = (double)cv->n * mt * nt;
            const double rows = MIN(cv->k, CEIL_DIV(pl->units_m, mt) * mr);
            const double cols = MIN(pl->pq, CEIL_DIV(pl->units_n, nt) * NR);
            /* FMAs, plus the traffic of the operands: the pixels are read in place with a row
             * stride and re-read per block of weight rows, the weights from cache. */
            const double cost = rows * cols * cv->c / 32.0 + (rows + 4.0 * cols) * cv->c / 8.0;
            const double span = (double)CEIL_DIV((long)tasks, t) * cost;
            if (best < 0.0 || span < best * 0.999) {
                best = span;
                pl->mtiles = mt;
                pl->ntiles = nt;
            }
        }
    }
    /* Every tile has at most mcb rows, so the core packs at most one partial micro-panel of A and
     * one partial panel of B: the workspace of a 1 x 1 product. */
    pl->ws_thread = frk__gemm_ws_bytes(pl->uk, 1, 1, cv->c, false);
    pl->shared_bytes = 0;
}

/* Transposed orientation with the pixels read in place (stride 1, AVX-512): the kernel
 * broadcasts each pixel's input from its plane, so nothing is packed. Packing costs a pass over
 * the input per weight tile (both threads pack every pixel when output channels are split), a
 * share of the work that grows as k shrinks; reading in place instead costs strided loads,
 * which lose where many weight panels re-read the same pixels. Measured (ms, min of runs, 2
 * threads, packed -> in place): l3.1x1c 1024->256 14x14 0.283 -> 0.245, l4.1x1a 1024->512
 * 0.516 -> 0.496, l4.1x1c 2048->512 7x7 0.284 -> 0.265, l3.1x1b 256->1024 about equal,
 * l4.1x1b 512->2048 7x7 0.263 -> 0.273; at 1 thread equal or better up to k = 1024. */
static bool inplace_pays(const frk__conv *cv, const frk__ukernel *uk)
{
    return !strided(cv) && uk == &frk__ukernel_avx512 && cv->k <= 1024;
}

/* Rows per pixel micro-panel when pixels are read in place (any count up to mr works there):
 * a panel of m rows costs about max(m, 4) cycles per input channel (2m FMAs at two per cycle,
 * but no less than one FMA latency of 4 cycles), so a 49-pixel map runs as 7 panels of 7 rather
 * than 6 of 8 and a latency-bound single row. */
static int rows_per_panel(int pq, int mr)
{
    int best = mr, best_cost = 0;
    for (int m = mr; m >= mr - 2 && m > 0; m--) {
        const int tail = pq % m, cost = pq / m * m + (tail ? MAX(tail, 4) : 0);
        if (m == mr || cost < best_cost) {
            best = m;
            best_cost = cost;
        }
    }
    return best;
}

/* The tiling with the smallest estimated makespan; a function of shape, ISA and thread count
 * only, so workspace() and run() agree. */
static void make_plan(const fr_op *op, const frk_ctx *ctx, bool preprocessed, plan *pl)
{
    frk__conv_dims(op, &pl->cv);
    const frk__conv *cv = &pl->cv;
    const frk__ukernel *uk = frk__gemm_ukernel(ctx->isa);
    const int t = ctx->nthreads > 0 ? ctx->nthreads : 1;
    double best = -1.0;

    pl->uk = uk;
    pl->pq = cv->p * cv->q;
    pl->direct = direct_pays(cv, preprocessed);
    if (pl->direct) {
        plan_direct(pl, t);
        return;
    }
    pl->inplace = inplace_pays(cv, uk);
    pl->mr = pl->inplace ? rows_per_panel(pl->pq, uk->mr) : uk->mr;
    pl->units_k = CEIL_DIV(cv->k, NR);
    pl->units_p = CEIL_DIV(pl->pq, pl->mr);
    pl->ktiles = pl->ptiles = 1;
    for (int kt = 1; kt <= MIN(pl->units_k, 2 * t); kt++) {
        for (int pt = 1; pt <= MIN(pl->units_p, 4 * t); pt++) {
            const double tasks = (double)cv->n * kt * pt;
            const double px = MIN(pl->pq, CEIL_DIV(pl->units_p, pt) * pl->mr);
            const double ch = MIN(cv->k, CEIL_DIV(pl->units_k, kt) * NR);
            const double span = (double)CEIL_DIV((long)tasks, t) * task_cost(px, ch, cv->c);
            if (best < 0.0 || span < best * 0.999) {
                best = span;
                pl->ktiles = kt;
                pl->ptiles = pt;
            }
        }
    }
    const int per_tile = CEIL_DIV(pl->units_p, pl->ptiles);
    const size_t panel_bytes = (size_t)uk->mr * cv->c * sizeof(float);
    pl->pblock = (int)MAX(1, MIN((size_t)per_tile, PIX_BLOCK_BYTES / panel_bytes));
    pl->acc_offset = frk__round64(panel_bytes * (size_t)pl->pblock);
    pl->ws_thread = pl->acc_offset + frk__round64((size_t)uk->mr * NR * sizeof(float) * pl->pblock);
    const size_t panels = frk__gemm_panels_floats(cv->k, cv->c) * sizeof(float);
    pl->shared_bytes = preprocessed ? 0 : frk__round64(panels);
}

static bool p1x1_applicable(const fr_op *op, const frk_ctx *ctx)
{
    if (op->kind != FR_OP_CONV2D || frk__gemm_ukernel(ctx->isa) == NULL) return false;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    return shape_ok(&cv) && 4.0 * cv.k * (double)cv.c <= FRK__WS_MAX;
}

/* Covers run() both without and with preprocessed weights (the plan may differ). */
static size_t p1x1_workspace(const fr_op *op, const frk_ctx *ctx)
{
    const size_t t = (size_t)(ctx->nthreads > 0 ? ctx->nthreads : 1);
    plan plain, pre;
    make_plan(op, ctx, false, &plain);
    make_plan(op, ctx, true, &pre);
    return MAX(plain.shared_bytes + plain.ws_thread * t, pre.shared_bytes + pre.ws_thread * t);
}

static size_t p1x1_preprocessed_size(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__gemm_panels_floats(op->conv.k, op->conv.c) * sizeof(float);
}

/* Panels [j0, j1) of the weights (k x c, row-major) into wp: panel j at wp + j * c * NR, row c
 * holding W[j*NR + q][c] for q < NR, zero past the last channel. 8x8 blocks go through
 * transposes; the rest, and everything below AVX2 (isa), element by element. */
static void pack_weights(const float *w, int k, int c, int j0, int j1, float *wp, frk_isa isa)
{
    for (int j = j0; j < j1; j++) {
        float *panel = wp + (size_t)j * c * NR;
        const int cols = MIN(NR, k - j * NR);
        const float *rows = w + (size_t)j * NR * c;
        const int full_q = isa >= FRK_ISA_AVX2 ? cols / 8 * 8 : 0, full_c = c / 8 * 8;
        for (int q = 0; q < full_q; q += 8)
            for (int cc = 0; cc < full_c; cc += 8)
                frk__transpose8(rows + (size_t)q * c + cc, c, panel + (size_t)cc * NR + q, NR);
        for (int cc = 0; cc < c; cc++) {
            float *dst = panel + (size_t)cc * NR;
            for (int q = cc < full_c ? full_q : 0; q < cols; q++)
                dst[q] = rows[(size_t)q * c + cc];
            for (int q = cols; q < NR; q++)
                dst[q] = 0.0f;
        }
    }
}

static void p1x1_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    const int units = CEIL_DIV(op->conv.k, NR);
    pack_weights(wei, op->conv.k, op->conv.c, 0, units, pwei, ctx->isa);
}

/* Packs micro-panels [u0, u1) of image in (c planes of h x w) into ap: panel u at
 * ap + (u - u0) * c * mr, row c holding the mr pixels' inputs (zero past the last pixel). */
static void pack_pixels(const plan *pl, const float *in, int u0, int u1, float *ap)
{
    const frk__conv *cv = &pl->cv;
    const int mr = pl->uk->mr;
    const size_t plane = (size_t)cv->h * cv->w;
    const bool unit = cv->sh == 1 && cv->sw == 1;
    for (int u = u0; u < u1; u++) {
        ptrdiff_t off[16];
        const int p0 = u * mr, rows = MIN(mr, pl->pq - p0);
        for (int r = 0; r < rows; r++) {
            const int oh = (p0 + r) / cv->q, ow = (p0 + r) % cv->q;
            off[r] = (ptrdiff_t)oh * cv->sh * cv->w + (ptrdiff_t)ow * cv->sw;
        }
        float *panel = ap + (size_t)(u - u0) * cv->c * mr;
        if (unit && rows == mr) {
            for (int c = 0; c < cv->c; c++)
                memcpy(panel + (size_t)c * mr, in + c * plane + p0, (size_t)mr * sizeof(float));
            continue;
        }
        for (int c = 0; c < cv->c; c++) {
            const float *src = in + c * plane;
            float *dst = panel + (size_t)c * mr;
            for (int r = 0; r < rows; r++)
                dst[r] = src[off[r]];
            for (int r = rows; r < mr; r++)
                dst[r] = 0.0f;
        }
    }
}

/* Stores rows x cols of tile (row stride NR) transposed into out (row stride pq). */
static void store_tile(const float *tile, int rows, int cols, float *out, ptrdiff_t pq)
{
    if (rows == 8 && cols == NR) {
        for (int b = 0; b < NR; b += 8)
            frk__transpose8(tile + b, NR, out + b * pq, pq);
        return;
    }
    for (int q = 0; q < cols; q++)
        for (int r = 0; r < rows; r++)
            out[q * pq + r] = tile[r * NR + q];
}

/* One task: pixel micro-panels [u0, u1) x weight panels [j0, j1) of one image. Pixels are
 * packed pblock micro-panels at a time (kept in L2, so each weight panel is streamed once per
 * block); c is walked in blocks of FRK__GEMM_KC so a block of the weight panel stays in L1, the
 * tiles accumulating in acc (pblock tiles of mr x NR) until they are stored transposed. */
static void run_task(const plan *pl, const float *in, const float *wp, float *out, int u0, int u1,
                     int j0, int j1, float *ap, float *acc)
{
    const frk__conv *cv = &pl->cv;
    const frk__ukernel *uk = pl->uk;
    const int mr = pl->mr;
    const size_t plane = (size_t)cv->h * cv->w;

    for (int ub = u0; ub < u1; ub += pl->pblock) {
        const int ue = MIN(u1, ub + pl->pblock);
        const bool inplace = pl->inplace;
        if (!inplace) pack_pixels(pl, in, ub, ue, ap);
        for (int j = j0; j < j1; j++) {
            const float *panel = wp + (size_t)j * cv->c * NR;
            for (int pc = 0; pc < cv->c; pc += FRK__GEMM_KC) {
                const int kc = MIN(FRK__GEMM_KC, cv->c - pc);
                /* The next block of weights, prefetched in shares while this one is used. */
                const bool last = pc + kc >= cv->c;
                const char *next = (const char *)(last ? panel + (size_t)cv->c * NR
                                                       : panel + (size_t)(pc + kc) * NR);
                const int kn = last ? (j + 1 < j1 ? MIN(FRK__GEMM_KC, cv->c) : 0)
                                    : MIN(FRK__GEMM_KC, cv->c - pc - kc);
                const int lines = kn * NR * (int)sizeof(float) / 64, share = ue - ub;
                for (int u = ub; u < ue; u++) {
                    const float *a = inplace ? in + (size_t)pc * plane + (size_t)u * mr
                                             : ap + (size_t)(u - ub) * cv->c * mr + (size_t)pc * mr;
                    float *t = acc + (size_t)(u - ub) * mr * NR;
                    for (int l = (u - ub) * lines / share; l < (u - ub + 1) * lines / share; l++)
                        _mm_prefetch(next + (size_t)l * 64, _MM_HINT_T0);
                    const int rows = MIN(mr, pl->pq - u * mr);
                    if (inplace)
                        frk__p1x1_partial_tile(rows, kc, a, (int)plane, panel + (size_t)pc * NR, t,
                                               pc > 0);
                    else if (rows < mr && uk == &frk__ukernel_avx512)
                        frk__p1x1_partial_tile(rows, kc, a, mr, panel + (size_t)pc * NR, t, pc > 0);
                    else
                        for (int q = 0; q < NR; q += uk->nr)
                            uk->fn(kc, a, panel + (size_t)pc * NR + q, NR, t + q, NR, pc > 0);
                }
            }
            const int cols = MIN(NR, cv->k - j * NR);
            for (int u = ub; u < ue; u++) {
                const int p0 = u * mr;
                store_tile(acc + (size_t)(u - ub) * mr * NR, MIN(mr, pl->pq - p0), cols,
                           out + (size_t)j * NR * pl->pq + p0, pl->pq);
            }
        }
    }
}

/* The direct orientation: each task one GEMM of the core on in-place operands. */
static void run_direct(const plan *pl, const frk_ctx *ctx, const frk_exec *x)
{
    const frk__conv *cv = &pl->cv;
    const int mr = pl->uk->mr, tiles = pl->mtiles * pl->ntiles;
    const int tasks = cv->n * tiles;

#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (int task = 0; task < tasks; task++) {
        const int b = task / tiles, mt = task % tiles / pl->ntiles, nt = task % pl->ntiles;
        const int r0 = (int)((long)mt * pl->units_m / pl->mtiles) * mr;
        const int r1 = MIN(cv->k, (int)((long)(mt + 1) * pl->units_m / pl->mtiles) * mr);
        const int c0 = (int)((long)nt * pl->units_n / pl->ntiles) * NR;
        const int c1 = MIN(pl->pq, (int)((long)(nt + 1) * pl->units_n / pl->ntiles) * NR);
        float *ws = (float *)((char *)x->ws + (size_t)omp_get_thread_num() * pl->ws_thread);
        const frk__gemm g = {
            .m = r1 - r0,
            .n = c1 - c0,
            .k = cv->c,
            .a = x->wei + (size_t)r0 * cv->c,
            .lda = cv->c,
            .b = x->src + (size_t)b * cv->c * pl->pq + c0,
            .ldb = pl->pq,
            .c = x->dst + ((size_t)b * cv->k + r0) * pl->pq + c0,
            .ldc = pl->pq,
        };
        if (g.m > 0 && g.n > 0) frk__gemm_serial(pl->uk, &g, ws);
    }
}

static void p1x1_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    plan pl;
    make_plan(op, ctx, x->pwei != NULL, &pl);
    if (pl.direct) {
        run_direct(&pl, ctx, x);
        return;
    }
    const frk__conv *cv = &pl.cv;
    const int tiles = pl.ktiles * pl.ptiles;
    const int tasks = cv->n * tiles;
    const float *wp = x->pwei;
    float *wbuf = x->ws;
    char *pixbuf = (char *)x->ws + pl.shared_bytes;

#pragma omp parallel num_threads(ctx->nthreads)
    {
        if (!wp) {
#pragma omp for schedule(static)
            for (int j = 0; j < pl.units_k; j++)
                pack_weights(x->wei, cv->k, cv->c, j, j + 1, wbuf, ctx->isa);
        }
        const float *w = wp ? wp : wbuf;
        float *ap = (float *)(pixbuf + (size_t)omp_get_thread_num() * pl.ws_thread);
        float *acc = (float *)((char *)ap + pl.acc_offset);
#pragma omp for schedule(static)
        for (int task = 0; task < tasks; task++) {
            const int b = task / tiles, kt = task % tiles / pl.ptiles, pt = task % pl.ptiles;
            const int u0 = (int)((long)pt * pl.units_p / pl.ptiles);
            const int u1 = (int)((long)(pt + 1) * pl.units_p / pl.ptiles);
            const int j0 = (int)((long)kt * pl.units_k / pl.ktiles);
            const int j1 = (int)((long)(kt + 1) * pl.units_k / pl.ktiles);
            const float *in = x->src + (size_t)b * cv->c * cv->h * cv->w;
            float *out = x->dst + (size_t)b * cv->k * pl.pq;
            if (u1 > u0 && j1 > j0) run_task(&pl, in, w, out, u0, u1, j0, j1, ap, acc);
        }
    }
}

const frk_algo frk_conv2d_gemm_1x1_packed = {
    .name = "conv2d.gemm_1x1_packed",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "1x1 unpadded convolution on the packed AVX-512/AVX2 GEMM core, channels in vectors, "
           "weights pre-packed, 2-D tiles over threads; any stride, any map size",
    .applicable = p1x1_applicable,
    .workspace = p1x1_workspace,
    .run = p1x1_run,
    .preprocessed_size = p1x1_preprocessed_size,
    .preprocess = p1x1_preprocess,
};
