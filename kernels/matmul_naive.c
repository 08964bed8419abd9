/*
 * matmul_naive.c - matmul.naive, the reference every other matmul algorithm is checked against:
 * C[b][i][j] = sum_p A[b][i][p] * B[b][p][j] as a plain triple loop with a double accumulator,
 * summed in order of p. Rows are shared among threads, each element is computed by one thread
 * in a fixed order, so the output is bit-identical run after run (REPRODUCIBLE) and does not
 * even depend on the thread count.
 */
#include <stdint.h>

#include "algos.h"

static bool naive_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return op->kind == FR_OP_MATMUL;
}

static size_t naive_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 0;
}

static void naive_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    const fr_matmul *mm = &op->mm;
    const int64_t m = mm->m, n = mm->n, k = mm->k;
    const int64_t rows = (int64_t)mm->batch * m;

#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        const int64_t b = row / m;
        const float *a = x->src + row * k;
        const float *bm = x->wei + b * k * n;
        float *c = x->dst + row * n;
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)a[p] * (double)bm[p * n + j];
            c[j] = (float)acc;
        }
    }
}

const frk_algo frk_matmul_naive = {
    .name = "matmul.naive",
    .kind = FR_OP_MATMUL,
    .attrs = FR_ATTR_NAIVE | FR_ATTR_REPRODUCIBLE,
    .doc = "triple loop with double accumulation; the reference, never fast",
    .applicable = naive_applicable,
    .workspace = naive_workspace,
    .run = naive_run,
};
