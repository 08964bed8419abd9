/*
 * matmul_splitk.c - matmul.splitk: for outputs too small to keep every thread busy but with a
 * long k (e.g. m*n <= 64K, k >= 256), each thread multiplies its own slice of k with the GEMM
 * core of matmul_gemm.h into a private partial product, and the partials are summed into C in
 * the order threads finish (a critical section). Which partial comes first changes from run to
 * run, and float addition is not associative, so the bits of C can differ between two runs
 * with the same thread count: this algorithm is honestly not REPRODUCIBLE.
 *
 * applicable() accepts only what a split of k can help: at least two threads, batch*m*n <= 64K
 * floats (the partials stay in L2) and k >= 256 (each slice still fills a k block).
 */
#include <omp.h>
#include <string.h>

#include "algos.h"
#include "matmul_gemm.h"

#define MAX_OUTPUT (64 * 1024)
#define MIN_K 256

static bool splitk_applicable(const fr_op *op, const frk_ctx *ctx)
{
    if (op->kind != FR_OP_MATMUL || ctx->nthreads < 2 || frk__gemm_ukernel(ctx->isa) == NULL)
        return false;
    const fr_matmul *mm = &op->mm;
    return (int64_t)mm->batch * mm->m * mm->n <= MAX_OUTPUT && mm->k >= MIN_K;
}

/* Bytes of one thread's share: its partial product, then the GEMM core's workspace for the
 * longest slice of k (ceil(k / nthreads)). Both multiples of 64. */
static size_t partial_bytes(const fr_matmul *mm)
{
    const size_t floats = (size_t)mm->batch * (size_t)mm->m * (size_t)mm->n;
    return (floats + 15) / 16 * 16 * sizeof(float);
}

static size_t thread_bytes(const fr_matmul *mm, const frk_ctx *ctx)
{
    const int slice = (mm->k + ctx->nthreads - 1) / ctx->nthreads;
    return partial_bytes(mm) +
           frk__gemm_ws_bytes(frk__gemm_ukernel(ctx->isa), mm->m, mm->n, slice, false);
}

static size_t splitk_workspace(const fr_op *op, const frk_ctx *ctx)
{
    return thread_bytes(&op->mm, ctx) * (size_t)ctx->nthreads;
}

static void splitk_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    const fr_matmul *mm = &op->mm;
    const frk__ukernel *uk = frk__gemm_ukernel(ctx->isa);
    const ptrdiff_t m = mm->m, n = mm->n, k = mm->k;
    const size_t out = (size_t)mm->batch * (size_t)m * (size_t)n;
    const size_t per_thread = thread_bytes(mm, ctx);
    int done = 0; /* partials already in C; guarded by the critical section */

#pragma omp parallel num_threads(ctx->nthreads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const ptrdiff_t k0 = k * t / nt, k1 = k * (t + 1) / nt;
        char *mine = (char *)x->ws + (size_t)t * per_thread;
        float *partial = (float *)mine;
        float *gemm_ws = (float *)(mine + partial_bytes(mm));

        for (int b = 0; b < mm->batch && k1 > k0; b++) {
            const frk__gemm g = {
                .m = mm->m,
                .n = mm->n,
                .k = (int)(k1 - k0),
                .a = x->src + b * m * k + k0,
                .lda = k,
                .b = x->wei + (b * k + k0) * n,
                .ldb = n,
                .c = partial + b * m * n,
                .ldc = n,
            };
            frk__gemm_serial(uk, &g, gemm_ws);
        }
#pragma omp critical(frk_matmul_splitk)
        {
            if (k1 > k0) {
                if (done == 0)
                    memcpy(x->dst, partial, out * sizeof(float));
                else
                    for (size_t i = 0; i < out; i++)
                        x->dst[i] += partial[i];
                done++;
            }
        }
    }
}

const frk_algo frk_matmul_splitk = {
    .name = "matmul.splitk",
    .kind = FR_OP_MATMUL,
    .attrs = 0,
    .doc = "splits k among threads, partials summed in completion order; small m*n, long k",
    .applicable = splitk_applicable,
    .workspace = splitk_workspace,
    .run = splitk_run,
};
