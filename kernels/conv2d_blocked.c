/*
 * conv2d_blocked.c - conv2d.direct_blocked: direct convolution on a channel-blocked copy of the
 * input (16 channels per vector, as oneDNN keeps its tensors), register-blocked over output
 * channels x output columns (conv2d_blocked_avx512.c), so every shape fills whole vectors: it
 * wins where direct_simd's row vectors run half empty (7-, 14-, 28-wide maps, stride 2) and on
 * the shapes im2col pays a big copy for (5x5, 1x7, dilated, grouped).
 *
 * run() packs the input into the workspace (padding stored as zeros), blocks the weights there
 * too unless pwei holds them (preprocess() does that once), then computes tiles: all in one
 * parallel region, tasks (image, group, output channel group, block of output rows) dealt to the
 * threads in contiguous runs of equal cost. Each output
 * is summed by one thread in the fixed order (channel block, kernel row, kernel column, channel),
 * so results are bit-identical run after run, at any thread count. AVX-512 only: not applicable
 * below it.
 */
#include <omp.h>
#include <string.h>

#include "algos.h"
#include "conv2d_blocked.h"

/* Weights of one output channel group per reduction chunk: kept to a share of the L2 cache. */
#define CHUNK_WEIGHT_BYTES (256u << 10)
/* Weights of a group up to which tasks go row by row, each row's channel groups in turn. */
#define ROWS_OUTER_BYTES (768u << 10)
/* Partial sums of one task when the reduction is chunked. */
#define ROW_BUFFER_BYTES (96u << 10)

static int cdiv(int a, int b)
{
    return (a + b - 1) / b;
}

static int nq_max(int nk)
{
    return nk == 3 ? 9 : FRK__BLK_NQ_MAX; /* nk*nq + nk + 1 <= 32 zmm registers */
}

/* Rough cycles per (tap, channel) of one nk x nq tile: FMAs (two per cycle), loads (two per
 * cycle) or the FMA latency when there are too few accumulators, whichever binds, plus a little
 * per tile, so that of equal FMA counts the plan with fewer, fuller tiles wins (measured: 3x7
 * beats 2x7 on 7-wide maps, 2x14 beats 3x7 on 28-wide ones; 4x6 lost to both, so no 4). */
static double tile_cost(int nk, int nq)
{
    double fma = nk * nq / 2.0, loads = (nk + nq) / 2.0, c = fma > loads ? fma : loads;
    return (c > 4.0 ? c : 4.0) + 0.5;
}

/* Cost of one output row over all channel groups with nk blocks per tile. */
static double row_cost(int kbn, int q, int nk, int *out_nq)
{
    int qt = cdiv(q, nq_max(nk)), nq = cdiv(q, qt), nql = q - (qt - 1) * nq;
    double cost = 0;
    for (int kb = 0; kb < kbn; kb += nk) {
        int nki = kbn - kb < nk ? kbn - kb : nk;
        cost += (qt - 1) * tile_cost(nki, nq) + tile_cost(nki, nql);
    }
    *out_nq = nq;
    return cost;
}

void frk__blk_plan(const fr_op *op, const frk_ctx *ctx, frk__blk *b)
{
    memset(b, 0, sizeof *b);
    frk__conv *cv = &b->cv;
    frk__conv_dims(op, cv);
    b->cbn = cdiv(cv->cg, FRK__BLK_CB);
    b->kbn = cdiv(cv->kg, 16);
    double best = 0;
    for (int nk = FRK__BLK_NK_MAX; nk >= 1; nk--) {
        if (nk > b->kbn && nk > 1) continue;
        int nq;
        double cost = row_cost(b->kbn, cv->q, nk, &nq);
        if (b->nk == 0 || cost < best) {
            best = cost;
            b->nk = nk;
            b->nq = nq;
        }
    }
    b->qtiles = cdiv(cv->q, b->nq);
    b->kgroups = cdiv(b->kbn, b->nk);
    b->lenq = cdiv(cv->w + 2 * cv->pw, cv->sw);
    /* Few input channels (the 3-channel stem): 4 floats per packed column, not 16, a quarter of
     * the packing traffic. */
    b->cbw = cv->cg <= 4 ? 4 : FRK__BLK_CB;
    b->xrow = (size_t)cv->sw * b->lenq * b->cbw;
    b->xcb = (size_t)(cv->h + 2 * cv->ph) * b->xrow;
    b->wcb = (size_t)cv->r * cv->s * FRK__BLK_CB * 16;
    b->wkb = (size_t)cv->r * cv->s * cv->cg * 16; /* the last channel block is not padded */
    size_t chunk = CHUNK_WEIGHT_BYTES / ((size_t)b->nk * b->wcb * sizeof(float));
    b->cbc = chunk < 1 ? 1 : chunk > (size_t)b->cbn ? b->cbn : (int)chunk;
    b->nchunks = cdiv(b->cbn, b->cbc);
    b->cbc = cdiv(b->cbn, b->nchunks); /* equal chunks: 8 + 8 blocks, not 14 + 2 */
    b->rb = 1;
    if (b->nchunks > 1) {
        /* Chunked: a task covers several rows, so each chunk of weights is reused across them,
         * while leaving enough tasks per thread for balance. */
        size_t rows = ROW_BUFFER_BYTES / ((size_t)cv->q * b->nk * 16 * sizeof(float));
        b->rb = rows < 1 ? 1 : rows > (size_t)cv->p ? cv->p : (int)rows;
        long per_rb = (long)cv->n * cv->g * b->kgroups;
        while (b->rb > 1 && per_rb * cdiv(cv->p, b->rb) < 8L * ctx->nthreads)
            b->rb = cdiv(b->rb, 2);
        b->tbuf = (size_t)b->rb * cv->q * b->nk * 16;
    }
    b->rblocks = cdiv(cv->p, b->rb);
    /* Small weights stay in L2 across all output channel groups: then a row's channel groups run
     * one after the other on its input while that is in L1 (the stem reads its input once). */
    b->rows_outer =
        b->nchunks == 1 && (double)b->kbn * b->wkb * sizeof(float) <= ROWS_OUTER_BYTES;
    /* Chunked, with the row blocks dealing evenly to the threads: each thread then reads all the
     * weights once per row block it owns, as many as when the channel groups are shared out,
     * but only the input rows it packed itself rather than the whole input (2 threads, 256
     * channels 28x28 -> 14x14 stride 2: 0.65 -> 0.55 ms). */
    if (b->nchunks > 1 && ctx->nthreads > 1 && cv->p % (b->rb * ctx->nthreads) == 0)
        b->rows_outer = true;
    b->xbytes = frk__round64((size_t)cv->n * cv->g * b->cbn * b->xcb * sizeof(float));
    b->wbytes = frk__round64((size_t)cv->g * b->kbn * b->wkb * sizeof(float));
    b->bbytes = frk__round64((size_t)ctx->nthreads * b->tbuf * sizeof(float));
}

static bool blocked_applicable(const fr_op *op, const frk_ctx *ctx)
{
    if (op->kind != FR_OP_CONV2D || ctx->isa < FRK_ISA_AVX512) return false;
    const fr_conv2d *c = &op->conv;
    int cg = c->c / c->groups, kg = c->k / c->groups;
    /* Fewer channels per group leave most of each broadcast or weight vector idle: the
     * depthwise and plane-vectorised algorithms serve those. */
    if (cg < 3 || kg < 4) return false;
    double xb = 4.0 * c->n * c->groups * ((cg + 15) / 16 * 16.0) * (c->h + 2.0 * c->pad[0]) *
                (c->w + 2.0 * c->pad[1] + c->stride[1]);
    double wb = 4.0 * c->groups * ((kg + 15) / 16 * 16.0) * ((cg + 15) / 16 * 16.0) * c->r * c->s;
    return xb + 2 * wb + (double)ctx->nthreads * ROW_BUFFER_BYTES * 2 <= FRK__WS_MAX;
}

static size_t blocked_preprocessed_size(const fr_op *op, const frk_ctx *ctx)
{
    frk__blk b;
    frk__blk_plan(op, ctx, &b);
    return b.wbytes;
}

static size_t blocked_workspace(const fr_op *op, const frk_ctx *ctx)
{
    frk__blk b;
    frk__blk_plan(op, ctx, &b);
    return b.xbytes + b.bbytes + b.wbytes;
}

/* Blocks every weight block; shares the loop among the threads of the enclosing parallel
 * region (serial outside one). */
static void wpack_all(const frk__blk *b, const float *wei, float *pwei)
{
    long blocks = (long)b->cv.g * b->kbn;
#pragma omp for schedule(static)
    for (long gk = 0; gk < blocks; gk++)
        frk__blk_wpack_avx512(b, wei, (int)(gk / b->kbn), (int)(gk % b->kbn),
                              pwei + (size_t)gk * b->wkb);
}

static void blocked_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    frk__blk b;
    frk__blk_plan(op, ctx, &b);
#pragma omp parallel num_threads(ctx->nthreads)
    wpack_all(&b, wei, pwei);
}

/* Packs src (NCHW) into the blocked, padded, phase-split layout of conv2d_blocked.h, channels
 * past cg as zeros. Shares the rows among the threads of the enclosing parallel region. */
static void pack_input(const frk__blk *b, const float *src, float *xin)
{
    const frk__conv *cv = &b->cv;
    int hp = cv->h + 2 * cv->ph;
    long rows = (long)cv->n * cv->g * b->cbn * hp;
    size_t hw = (size_t)cv->h * cv->w;
#pragma omp for schedule(static)
    for (long t = 0; t < rows; t++) {
        /* Row-major (ng, ih, cb): a thread packs a band of rows, about the band whose outputs
         * it computes when tasks go row by row, so those stay in its own cache. */
        int cb = (int)(t % b->cbn);
        int ih = (int)(t / b->cbn % hp);
        long ng = t / b->cbn / hp;
        long ngc = ng * b->cbn + cb;
        float *out = xin + (size_t)ngc * b->xcb + (size_t)ih * b->xrow;
        int hin = ih - cv->ph;
        if (hin < 0 || hin >= cv->h) {
            memset(out, 0, b->xrow * sizeof(float));
            continue;
        }
        int cvalid = cv->cg - cb * FRK__BLK_CB;
        if (cvalid > FRK__BLK_CB) cvalid = FRK__BLK_CB;
        /* ng = n*g + gi, so channel gi*cg + cb*16 of image n is plane ng*cg + cb*16. */
        const float *in = src + ((size_t)ng * cv->cg + (size_t)cb * FRK__BLK_CB) * hw +
                          (size_t)hin * cv->w;
        frk__blk_pack_row_avx512(b, in, hw, cvalid, out);
    }
}

/* Output channel blocks and rows of one task (its cost, in tiles' worth of work). */
static void task_span(const frk__blk *b, long task, int *kgrp, int *nk, int *oh0, int *oh1)
{
    long rbk;
    if (b->rows_outer) {
        *kgrp = (int)(task % b->kgroups);
        rbk = task / b->kgroups % b->rblocks;
    } else {
        *kgrp = (int)(task / b->rblocks % b->kgroups);
        rbk = task % b->rblocks;
    }
    int kb0 = *kgrp * b->nk;
    *nk = b->kbn - kb0 < b->nk ? b->kbn - kb0 : b->nk;
    *oh0 = (int)rbk * b->rb;
    *oh1 = *oh0 + b->rb < b->cv.p ? *oh0 + b->rb : b->cv.p;
}

static long task_cost(const frk__blk *b, long task)
{
    int kgrp, nk, oh0, oh1;
    task_span(b, task, &kgrp, &nk, &oh0, &oh1);
    return (long)nk * (oh1 - oh0);
}

/* Task (image, group, output channel group, row block): every tile of it, chunk by chunk. */
static void run_task(const frk__blk *b, const float *xin, const float *wp, float *dst, float *buf,
                     long task)
{
    const frk__conv *cv = &b->cv;
    int kgrp, nk, oh0, oh1;
    task_span(b, task, &kgrp, &nk, &oh0, &oh1);
    long ng = task / b->rblocks / b->kgroups; /* n*g + gi */
    int gi = (int)(ng % cv->g), n = (int)(ng / cv->g);
    int kb0 = kgrp * b->nk;
    size_t pq = (size_t)cv->p * cv->q;
    frk__blk_tile t;
    t.kvalid = cv->kg - kb0 * 16 < nk * 16 ? cv->kg - kb0 * 16 : nk * 16;
    for (int ch = 0; ch < b->nchunks; ch++) {
        t.cb0 = ch * b->cbc;
        t.ncb = b->cbn - t.cb0 < b->cbc ? b->cbn - t.cb0 : b->cbc;
        t.first = ch == 0;
        t.last = ch == b->nchunks - 1;
        t.w = wp + ((size_t)gi * b->kbn + kb0) * b->wkb + (size_t)t.cb0 * b->wcb;
        for (int oh = oh0; oh < oh1; oh++) {
            const float *xrow =
                xin + ((size_t)ng * b->cbn + t.cb0) * b->xcb + (size_t)oh * cv->sh * b->xrow;
            float *drow = dst + ((size_t)n * cv->k + (size_t)gi * cv->kg + kb0 * 16) * pq +
                          (size_t)oh * cv->q;
            for (int q0 = 0; q0 < cv->q; q0 += b->nq) {
                int nq = cv->q - q0 < b->nq ? cv->q - q0 : b->nq;
                t.x = xrow + (size_t)q0 * b->cbw;
                t.dst = drow + q0;
                t.buf = buf + ((size_t)(oh - oh0) * cv->q + q0) * b->nk * 16;
                frk__blk_tile_avx512(b, &t, nk, nq);
            }
        }
    }
}

static void blocked_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__blk b;
    frk__blk_plan(op, ctx, &b);
    const frk__conv *cv = &b.cv;
    float *xin = x->ws;
    float *bufs = (float *)((char *)x->ws + b.xbytes);
    float *wblk = x->pwei ? NULL : (float *)((char *)x->ws + b.xbytes + b.bbytes);
    const float *wp = x->pwei ? x->pwei : wblk;
    long tasks = (long)cv->n * cv->g * b.kgroups * b.rblocks, total = 0;
    for (long task = 0; task < tasks; task++)
        total += task_cost(&b, task);
    /* One parallel region: weights (unless preprocessed) and input packed first, each loop
     * ending at a barrier, then the tiles. Tasks differ in cost (a last, narrower channel group;
     * a last, shorter row block), so each thread takes a contiguous run of tasks of about equal
     * total cost, decided by where a task's midpoint falls: the same split every run, and a
     * thread keeps its weights hot in cache. */
#pragma omp parallel num_threads(ctx->nthreads)
    {
        if (wblk) wpack_all(&b, x->wei, wblk);
        pack_input(&b, x->src, xin);
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        float *buf = bufs + (size_t)tid * b.tbuf;
        long before = 0;
        for (long task = 0; task < tasks; task++) {
            long c = task_cost(&b, task);
            long owner = (2 * before + c) * nt / (2 * total);
            before += c;
            if (owner == tid) run_task(&b, xin, wp, x->dst, buf, task);
        }
    }
}

const frk_algo frk_conv2d_direct_blocked = {
    .name = "conv2d.direct_blocked",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "direct convolution on a 16-channel-blocked input copy, register-blocked over output "
           "channels x columns (AVX-512); strided, small-map, 5x5, 1x7, dilated, grouped",
    .applicable = blocked_applicable,
    .workspace = blocked_workspace,
    .run = blocked_run,
    .preprocessed_size = blocked_preprocessed_size,
    .preprocess = blocked_preprocess,
};
