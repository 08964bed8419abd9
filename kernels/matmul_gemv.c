/*
 * matmul_gemv.c - matmul.gemv_simd: the m == 1 case (a row vector times a matrix, e.g. a
 * language model's vocabulary projection). Such a product does two flops per element of B, so
 * it is bound by reading B; a GEMM's packing of B only adds traffic. Here B is read once, in
 * place: rows of B are taken eight at a time and streamed left to right, and the output row
 * (which stays in L1) accumulates them with fused multiply-adds.
 *
 * Each output element is summed over k in increasing order by one thread, so the output is
 * bit-identical run after run and for any thread count or ISA (REPRODUCIBLE). Threads share
 * the columns (64-byte units) and the batch entries.
 */
#include <immintrin.h>
#include <math.h>

#include "algos.h"

#define ROWS 8  /* rows of B streamed together */
#define UNIT 16 /* columns per unit of work among threads: one cache line */
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* y[j] (+)= sum_{q<rows} x[q] * b[q*ldb + j] for j < n, in increasing q; y is overwritten
 * (not read) when first. Whole vectors use plain loads, the tail masked ones. */
__attribute__((target("avx512f,fma"))) static void
rows_avx512(int rows, int n, const float *x, const float *b, ptrdiff_t ldb, float *y, bool first)
{
    const int full = n / 16 * 16;
    __m512 xv[ROWS];
    for (int q = 0; q < rows; q++)
        xv[q] = _mm512_set1_ps(x[q]);
    for (int j = 0; j < full; j += 16) {
        __m512 acc = first ? _mm512_setzero_ps() : _mm512_loadu_ps(y + j);
        if (rows == ROWS) {
#pragma GCC unroll 8
            for (int q = 0; q < ROWS; q++)
                acc = _mm512_fmadd_ps(xv[q], _mm512_loadu_ps(b + q * ldb + j), acc);
        } else {
            for (int q = 0; q < rows; q++)
                acc = _mm512_fmadd_ps(xv[q], _mm512_loadu_ps(b + q * ldb + j), acc);
        }
        _mm512_storeu_ps(y + j, acc);
    }
    if (full < n) {
        const __mmask16 mask = (__mmask16)((1u << (n - full)) - 1);
        __m512 acc = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, y + full);
        for (int q = 0; q < rows; q++)
            acc = _mm512_fmadd_ps(xv[q], _mm512_maskz_loadu_ps(mask, b + q * ldb + full), acc);
        _mm512_mask_storeu_ps(y + full, mask, acc);
    }
}

__attribute__((target("avx2,fma"))) static void
rows_avx2(int rows, int n, const float *x, const float *b, ptrdiff_t ldb, float *y, bool first)
{
    const int full = n / 8 * 8;
    __m256 xv[ROWS];
    for (int q = 0; q < rows; q++)
        xv[q] = _mm256_set1_ps(x[q]);
    for (int j = 0; j < full; j += 8) {
        __m256 acc = first ? _mm256_setzero_ps() : _mm256_loadu_ps(y + j);
        if (rows == ROWS) {
#pragma GCC unroll 8
            for (int q = 0; q < ROWS; q++)
                acc = _mm256_fmadd_ps(xv[q], _mm256_loadu_ps(b + q * ldb + j), acc);
        } else {
            for (int q = 0; q < rows; q++)
                acc = _mm256_fmadd_ps(xv[q], _mm256_loadu_ps(b + q * ldb + j), acc);
        }
        _mm256_storeu_ps(y + j, acc);
    }
    for (int j = full; j < n; j++) {
        float acc = first ? 0.0f : y[j];
        for (int q = 0; q < rows; q++)
            acc = fmaf(x[q], b[q * ldb + j], acc);
        y[j] = acc;
    }
}

static bool gemv_applicable(const fr_op *op, const frk_ctx *ctx)
{
    return op->kind == FR_OP_MATMUL && op->mm.m == 1 && ctx->isa >= FRK_ISA_AVX2;
}

static size_t gemv_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 0;
}

static void gemv_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    const fr_matmul *mm = &op->mm;
    const ptrdiff_t n = mm->n, k = mm->k;
    const int units = (mm->n + UNIT - 1) / UNIT;
    /* Enough column chunks per batch entry to keep every thread busy. */
    const int chunks = mm->batch >= ctx->nthreads ? 1 : MIN(units, ctx->nthreads);
    const int tasks = mm->batch * chunks;
    const bool avx512 = ctx->isa >= FRK_ISA_AVX512;

#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (int task = 0; task < tasks; task++) {
        const int b = task / chunks, c = task % chunks;
        const int j0 = (int)((long)c * units / chunks) * UNIT;
        const int j1 = MIN(mm->n, (int)((long)(c + 1) * units / chunks) * UNIT);
        const float *xv = x->src + b * k;
        const float *bm = x->wei + b * k * n + j0;
        float *y = x->dst + b * n + j0;
        for (int p = 0; p < mm->k; p += ROWS) {
            const int rows = MIN(ROWS, mm->k - p);
            if (avx512)
                rows_avx512(rows, j1 - j0, xv + p, bm + p * n, n, y, p == 0);
            else
                rows_avx2(rows, j1 - j0, xv + p, bm + p * n, n, y, p == 0);
        }
    }
}

const frk_algo frk_matmul_gemv_simd = {
    .name = "matmul.gemv_simd",
    .kind = FR_OP_MATMUL,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "m == 1: streams B once in place, eight rows at a time; wins on vector x matrix",
    .applicable = gemv_applicable,
    .workspace = gemv_workspace,
    .run = gemv_run,
};
