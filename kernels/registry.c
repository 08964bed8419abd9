/*
 * registry.c - the one table of algorithms per operator kind (FFTW's dft/conf.c, MegDNN's algo
 * packs). Order is preference order for listing; the naive reference is last. Adding an
 * algorithm is one new file and one line here: tests, verification and the profiler iterate
 * these tables and need no change.
 */
#include "kernels.h"

#include <string.h>

#include "algos.h"

static const frk_algo *const conv2d_algos[] = {
    &frk_conv2d_winograd_f43,
    &frk_conv2d_winograd_f23,
    &frk_conv2d_gemm_1x1_packed,
    &frk_conv2d_gemm_1x1,
    &frk_conv2d_depthwise_blocked,
    &frk_conv2d_depthwise_simd,
    &frk_conv2d_direct_blocked,
    &frk_conv2d_direct_simd,
    &frk_conv2d_im2col_gemm,
    &frk_conv2d_split_reduce,
    &frk_conv2d_naive,
};

static const frk_algo *const matmul_algos[] = {
    &frk_matmul_gemv_simd,
    &frk_matmul_gemv_packed,
    &frk_matmul_packed_simd,
    &frk_matmul_splitk,
    &frk_matmul_blas,
    &frk_matmul_naive,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const frk_algo *all_algos[COUNT(conv2d_algos) + COUNT(matmul_algos)];
static size_t all_count;

const frk_algo *const *frk_algos(fr_op_kind kind, size_t *count)
{
    switch (kind) {
    case FR_OP_CONV2D: *count = COUNT(conv2d_algos); return conv2d_algos;
    case FR_OP_MATMUL: *count = COUNT(matmul_algos); return matmul_algos;
    default: *count = 0; return NULL;
    }
}

const frk_algo *const *frk_all_algos(size_t *count)
{
    /* Built on first use; both tables are constant, so concurrent first calls write the same
     * pointers in the same order. */
    if (all_count == 0) {
        size_t n = 0;
        for (size_t i = 0; i < COUNT(conv2d_algos); i++) all_algos[n++] = conv2d_algos[i];
        for (size_t i = 0; i < COUNT(matmul_algos); i++) all_algos[n++] = matmul_algos[i];
        all_count = n;
    }
    *count = all_count;
    return all_algos;
}

const frk_algo *frk_algo_find(const char *name)
{
    size_t n;
    const frk_algo *const *all = frk_all_algos(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}

const frk_algo *frk_naive(fr_op_kind kind)
{
    size_t n;
    const frk_algo *const *t = frk_algos(kind, &n);
    for (size_t i = 0; i < n; i++)
        if (t[i]->attrs & FR_ATTR_NAIVE) return t[i];
    return NULL;
}
