/*
 * matmul_blas.c - matmul.blas: one cblas_sgemm per batch entry (OpenBLAS, OpenMP build).
 *
 * Threads: the OpenMP build of OpenBLAS sizes its parallel regions from omp_get_max_threads()
 * of the calling thread, so run() sets that to ctx->nthreads for the duration of the calls and
 * restores the caller's value afterwards (no state outlives the call).
 *
 * Why REPRODUCIBLE: OpenBLAS's level-3 driver splits sgemm among threads by blocks of rows and
 * columns of C only, never along k, and each thread sums its k-blocks in a fixed order with a
 * fixed kernel (chosen once from the CPU core type, which is part of the category). For a fixed
 * thread count the same element is therefore computed by the same sequence of operations on
 * every run. A different thread count may change the partition and hence the bits.
 */
#include <cblas.h>
#include <omp.h>

#include "algos.h"

static bool blas_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return op->kind == FR_OP_MATMUL;
}

static size_t blas_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 0;
}

static void blas_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    const fr_matmul *mm = &op->mm;
    const size_t a_step = (size_t)mm->m * (size_t)mm->k;
    const size_t b_step = (size_t)mm->k * (size_t)mm->n;
    const size_t c_step = (size_t)mm->m * (size_t)mm->n;
    const int saved = omp_get_max_threads();

    omp_set_num_threads(ctx->nthreads);
    for (int b = 0; b < mm->batch; b++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm->m, mm->n, mm->k, 1.0f,
                    x->src + (size_t)b * a_step, mm->k, x->wei + (size_t)b * b_step, mm->n, 0.0f,
                    x->dst + (size_t)b * c_step, mm->n);
    omp_set_num_threads(saved);
}

const frk_algo frk_matmul_blas = {
    .name = "matmul.blas",
    .kind = FR_OP_MATMUL,
    .attrs = FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS,
    .doc = "OpenBLAS cblas_sgemm per batch entry; strong on large square shapes",
    .applicable = blas_applicable,
    .workspace = blas_workspace,
    .run = blas_run,
};
