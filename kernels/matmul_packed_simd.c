/*
 * matmul_packed_simd.c - matmul.packed_simd: the packed, cache-blocked SIMD GEMM of
 * matmul_gemm.h (AVX-512 or AVX2 micro-kernel, chosen from ctx->isa), parallelised with OpenMP
 * over tiles of C: every tile is a sub-product a single thread computes from start to end, so
 * k is never split and the order of summation is fixed (REPRODUCIBLE; the bits do not even
 * depend on the thread count or the ISA).
 *
 * Weight preprocessing packs B into full-k panels once; without it, run() packs each tile's
 * share of B into the thread's workspace as it goes, or reads it in place when the tile's rows
 * fit one block of A (see matmul_gemm.c).
 */
#include <omp.h>

#include "algos.h"
#include "matmul_gemm.h"

#define CEIL_DIV(a, b) (((a) + (b)-1) / (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* How C is cut into tasks: each batch entry into mtiles x ntiles tiles; tile rows are whole
 * micro-panels, tile columns whole B panels. */
typedef struct {
    const frk__ukernel *uk;
    int mtiles, ntiles;
    int units_m, units_n; /* micro-panels of rows, panels of columns, per batch entry */
    size_t ws_thread;     /* workspace bytes of one thread */
} plan;

/* Estimated cycles of one task (rows x cols x k): FMAs at ~32 lanes per cycle, A packed at ~4
 * floats per cycle (a transpose), B packed at ~16 floats per cycle (a copy). */
static double task_cost(double rows, double cols, double k)
{
    return rows * cols * k / 32.0 + rows * k / 4.0 + cols * k / 16.0;
}

/* Picks the tiling with the smallest estimated makespan on nthreads threads, preferring fewer
 * tiles on ties. Depends only on the shape, ISA and thread count, so workspace() and run()
 * always agree. */
static void make_plan(const fr_matmul *mm, const frk_ctx *ctx, plan *pl)
{
    const frk__ukernel *uk = frk__gemm_ukernel(ctx->isa);
    const int t = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int units_m = CEIL_DIV(mm->m, uk->mr);
    const int units_n = CEIL_DIV(mm->n, FRK__GEMM_NR);
    const int nt0 = CEIL_DIV(units_n, FRK__GEMM_NC / FRK__GEMM_NR);
    double best = -1.0;

    pl->uk = uk;
    pl->units_m = units_m;
    pl->units_n = units_n;
    for (int mt = 1; mt <= MIN(units_m, 2 * t); mt++) {
        for (int nt = nt0; nt <= MIN(units_n, nt0 + 2 * t); nt++) {
            const double tasks = (double)mm->batch * mt * nt;
            const double rows = MIN(mm->m, CEIL_DIV(units_m, mt) * uk->mr);
            const double cols = MIN(mm->n, CEIL_DIV(units_n, nt) * FRK__GEMM_NR);
            const double span = (double)CEIL_DIV((long)tasks, t) * task_cost(rows, cols, mm->k);
            if (best < 0.0 || span < best * 0.999) {
                best = span;
                pl->mtiles = mt;
                pl->ntiles = nt;
            }
        }
    }
    int rows = MIN(mm->m, CEIL_DIV(units_m, pl->mtiles) * uk->mr);
    int cols = MIN(mm->n, CEIL_DIV(units_n, pl->ntiles) * FRK__GEMM_NR);
    /* The largest tile may be whole panels (micro-panels) while the last one ends in a partial
     * one, which the GEMM core packs: size for a tile as large with the last one's remainder. */
    if (cols % FRK__GEMM_NR == 0 && mm->n % FRK__GEMM_NR != 0)
        cols -= FRK__GEMM_NR - mm->n % FRK__GEMM_NR;
    if (rows % uk->mr == 0 && mm->m % uk->mr != 0) rows -= uk->mr - mm->m % uk->mr;
    pl->ws_thread = frk__gemm_ws_bytes(uk, rows, cols, mm->k, false);
}

static bool packed_applicable(const fr_op *op, const frk_ctx *ctx)
{
    return op->kind == FR_OP_MATMUL && frk__gemm_ukernel(ctx->isa) != NULL;
}

static size_t packed_workspace(const fr_op *op, const frk_ctx *ctx)
{
    plan pl;
    make_plan(&op->mm, ctx, &pl);
    return pl.ws_thread * (size_t)(ctx->nthreads > 0 ? ctx->nthreads : 1);
}

static size_t packed_preprocessed_size(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return (size_t)op->mm.batch * frk__gemm_panels_floats(op->mm.n, op->mm.k) * sizeof(float);
}

static void packed_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    const fr_matmul *mm = &op->mm;
    const size_t per_batch = frk__gemm_panels_floats(mm->n, mm->k);
    (void)ctx;
    for (int b = 0; b < mm->batch; b++)
        frk__gemm_pack_panels(mm->n, mm->k, wei + (size_t)b * mm->k * mm->n, mm->n,
                              (float *)pwei + (size_t)b * per_batch);
}

static void packed_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    const fr_matmul *mm = &op->mm;
    const ptrdiff_t m = mm->m, n = mm->n, k = mm->k;
    const size_t panels_per_batch = frk__gemm_panels_floats(mm->n, mm->k);
    plan pl;
    make_plan(mm, ctx, &pl);
    const int tiles = pl.mtiles * pl.ntiles;
    const int tasks = mm->batch * tiles;

#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (int task = 0; task < tasks; task++) {
        const int b = task / tiles, mt = task % tiles / pl.ntiles, nt = task % pl.ntiles;
        /* Balanced split in whole units: tile i covers units [i*u/tiles, (i+1)*u/tiles). */
        const int r0 = (int)((long)mt * pl.units_m / pl.mtiles) * pl.uk->mr;
        const int r1 = MIN(mm->m, (int)((long)(mt + 1) * pl.units_m / pl.mtiles) * pl.uk->mr);
        const int p0 = (int)((long)nt * pl.units_n / pl.ntiles);
        const int c0 = p0 * FRK__GEMM_NR;
        const int c1 = MIN(mm->n, (int)((long)(nt + 1) * pl.units_n / pl.ntiles) * FRK__GEMM_NR);
        float *ws = (float *)((char *)x->ws + (size_t)omp_get_thread_num() * pl.ws_thread);
        const frk__gemm g = {
            .m = r1 - r0,
            .n = c1 - c0,
            .k = mm->k,
            .a = x->src + b * m * k + r0 * k,
            .lda = k,
            .b = x->wei + b * k * n + c0,
            .ldb = n,
            .bp = x->pwei ? (const float *)x->pwei + b * panels_per_batch + p0 * k * FRK__GEMM_NR
                          : NULL,
            .bp_stride = k * FRK__GEMM_NR,
            .c = x->dst + b * m * n + r0 * n + c0,
            .ldc = n,
        };
        if (g.m > 0 && g.n > 0) frk__gemm_serial(pl.uk, &g, ws);
    }
}

const frk_algo frk_matmul_packed_simd = {
    .name = "matmul.packed_simd",
    .kind = FR_OP_MATMUL,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "packed, cache-blocked AVX-512/AVX2 GEMM over tiles of C; general purpose",
    .applicable = packed_applicable,
    .workspace = packed_workspace,
    .run = packed_run,
    .preprocessed_size = packed_preprocessed_size,
    .preprocess = packed_preprocess,
};
