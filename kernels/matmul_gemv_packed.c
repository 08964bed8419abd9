/*
 * matmul_gemv_packed.c - matmul.gemv_packed: the m == 1 case (vector times matrix) with B
 * repacked into k-panels of 64 columns, AVX-512 only. A gemv does two flops per element of B,
 * so its speed is the speed at which B streams in. Row-major B read by column blocks is a set
 * of strided streams; packed, each 64-column panel is one contiguous k x 64 run of memory read
 * front to back, and its 64 outputs stay in registers across all of k (oneDNN keeps B in a
 * similar blocked order for the same reason).
 *
 * Weight preprocessing packs the panels once. Without it run() reads the same 64-column blocks
 * straight from row-major B (rows n floats apart, the last block's loads masked): the same
 * register-resident accumulation over strided streams, with no workspace.
 *
 * Each output is summed in a fixed order by one thread: even rows of B into one set of
 * accumulators, odd rows into another (two chains hide the FMA latency), then the two added.
 * So the output is bit-identical run after run and at any thread count (REPRODUCIBLE). Threads
 * share the panels statically.
 */
#include <immintrin.h>
#include <string.h>

#include "algos.h"

#define PW 64 /* columns per panel: four zmm */
#define T512 __attribute__((target("avx512f,fma")))

static int panels_of(const fr_matmul *mm)
{
    return (mm->n + PW - 1) / PW;
}

/* Floats of the packed B of one batch entry: panels * k * PW (the last panel zero-padded). */
static size_t packed_floats(const fr_matmul *mm)
{
    return (size_t)panels_of(mm) * mm->k * PW;
}

static bool gp_applicable(const fr_op *op, const frk_ctx *ctx)
{
    return op->kind == FR_OP_MATMUL && op->mm.m == 1 && ctx->isa >= FRK_ISA_AVX512 &&
           (double)op->mm.batch * ((op->mm.n + PW - 1) / PW) * op->mm.k * PW * sizeof(float) <=
               (double)FR_MAX_TENSOR_BYTES * 2;
}

static size_t gp_preprocessed_size(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return (size_t)op->mm.batch * packed_floats(&op->mm) * sizeof(float);
}

static size_t gp_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 0;
}

/* Packs panels [p0, p1) of every batch entry of B into out. */
static void pack_panels(const fr_matmul *mm, const float *b, float *out, int p0, int p1)
{
    const size_t per_batch = packed_floats(mm);
    for (int e = 0; e < mm->batch; e++) {
        const float *be = b + (size_t)e * mm->k * mm->n;
        for (int pn = p0; pn < p1; pn++) {
            const int j0 = pn * PW, cols = mm->n - j0 < PW ? mm->n - j0 : PW;
            float *dst = out + (size_t)e * per_batch + (size_t)pn * mm->k * PW;
            for (int p = 0; p < mm->k; p++) {
                memcpy(dst + (size_t)p * PW, be + (size_t)p * mm->n + j0, cols * sizeof(float));
                if (cols < PW) memset(dst + (size_t)p * PW + cols, 0, (PW - cols) * sizeof(float));
            }
        }
    }
}

static void gp_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    const int np = panels_of(&op->mm);
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (int pn = 0; pn < np; pn++)
        pack_panels(&op->mm, wei, pwei, pn, pn + 1);
}

/* y[0..cols) = x . panel, the panel being k rows of PW floats ldb apart: a packed panel (ldb =
 * PW, zero-padded) or a column block of plain B (ldb = n; only cols columns exist, so the loads
 * are masked). Rows are prefetched DIST ahead. */
#define DIST 16
T512 static void panel_dot(int k, const float *x, const float *panel, ptrdiff_t ldb, bool padded,
                           float *y, int cols)
{
    __mmask16 m[4];
    for (int v = 0; v < 4; v++) {
        const int left = cols - 16 * v;
        m[v] = left >= 16 || padded ? (__mmask16)0xffff
               : left <= 0          ? (__mmask16)0
                                    : (__mmask16)((1u << left) - 1);
    }
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int p = 0;
    for (; p + 2 <= k; p += 2) {
        const float *r = panel + (ptrdiff_t)p * ldb, *s = r + ldb;
        const char *f = (const char *)(r + DIST * ldb), *g = (const char *)(s + DIST * ldb);
        _mm_prefetch(f, _MM_HINT_T0);
        _mm_prefetch(f + 64, _MM_HINT_T0);
        _mm_prefetch(f + 128, _MM_HINT_T0);
        _mm_prefetch(f + 192, _MM_HINT_T0);
        _mm_prefetch(g, _MM_HINT_T0);
        _mm_prefetch(g + 64, _MM_HINT_T0);
        _mm_prefetch(g + 128, _MM_HINT_T0);
        _mm_prefetch(g + 192, _MM_HINT_T0);
        const __m512 x0 = _mm512_set1_ps(x[p]), x1 = _mm512_set1_ps(x[p + 1]);
        a0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[0], r), a0);
        a1 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[1], r + 16), a1);
        a2 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[2], r + 32), a2);
        a3 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[3], r + 48), a3);
        b0 = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m[0], s), b0);
        b1 = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m[1], s + 16), b1);
        b2 = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m[2], s + 32), b2);
        b3 = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m[3], s + 48), b3);
    }
    if (p < k) {
        const float *r = panel + (ptrdiff_t)p * ldb;
        const __m512 x0 = _mm512_set1_ps(x[p]);
        a0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[0], r), a0);
        a1 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[1], r + 16), a1);
        a2 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[2], r + 32), a2);
        a3 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[3], r + 48), a3);
    }
    const __m512 acc[4] = {_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1), _mm512_add_ps(a2, b2),
                           _mm512_add_ps(a3, b3)};
    for (int v = 0; v < 4; v++) {
        const int left = cols - 16 * v;
        if (left >= 16)
            _mm512_storeu_ps(y + 16 * v, acc[v]);
        else if (left > 0)
            _mm512_mask_storeu_ps(y + 16 * v, (__mmask16)((1u << left) - 1), acc[v]);
    }
}

static void gp_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    const fr_matmul *mm = &op->mm;
    const int np = panels_of(mm);
    const float *packed = x->pwei;
    const size_t per_batch = packed_floats(mm);
    const int tasks = mm->batch * np;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (int t = 0; t < tasks; t++) {
        const int e = t / np, pn = t % np, j0 = pn * PW;
        const int cols = mm->n - j0 < PW ? mm->n - j0 : PW;
        const float *xv = x->src + (size_t)e * mm->k;
        float *y = x->dst + (size_t)e * mm->n + j0;
        if (packed)
            panel_dot(mm->k, xv, packed + (size_t)e * per_batch + (size_t)pn * mm->k * PW, PW, true,
                      y, cols);
        else
            panel_dot(mm->k, xv, x->wei + (size_t)e * mm->k * mm->n + j0, mm->n, false, y, cols);
    }
}

const frk_algo frk_matmul_gemv_packed = {
    .name = "matmul.gemv_packed",
    .kind = FR_OP_MATMUL,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "m == 1, AVX-512: 64 outputs in registers across k, B in 64-column k-panels (packed "
           "by weight preprocessing, else read in place); wins on long-k gemv",
    .applicable = gp_applicable,
    .workspace = gp_workspace,
    .run = gp_run,
    .preprocessed_size = gp_preprocessed_size,
    .preprocess = gp_preprocess,
};
