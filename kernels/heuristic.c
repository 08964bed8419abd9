/*
 * heuristic.c - picks an algorithm without measuring (the default when no cache entry exists).
 *
 * The rule, per shape class of conv2d (first match wins; each gives a preference list):
 *   depthwise (groups == c == k)              -> depthwise_blocked (AVX-512), depthwise_simd,
 *                                                direct_simd
 *   1x1 kernel, no padding                    -> gemm_1x1_packed, gemm_1x1, im2col_gemm
 *     (fastrun's own GEMM: 1.05x oneDNN-blocked on ResNet-50's 1x1 layers where OpenBLAS's
 *     sgemm in gemm_1x1 was 1.15x at 1 thread and 1.53x at 2)
 *   3x3, stride 1, dilation 1, groups 1:
 *     c, k >= 32 and p*q >= 400               -> winograd_f43, winograd_f23, im2col_gemm
 *     with preprocessed weights, c, k >= 32 and p*q >= 196
 *                                             -> winograd_f43, winograd_f23, im2col_gemm
 *     either of those on 2 or more threads    -> direct_blocked, winograd_f43, im2col_gemm
 *     (at 2 threads direct_blocked beat F(4x4) on all four ResNet-50 3x3 stride-1 layers in two
 *     runs: Winograd went 1.0-1.3x faster from 1 to 2 threads, direct_blocked 1.6-1.9x)
 *     c, k >= 16 and p*q >= 256               -> winograd_f23, im2col_gemm
 *     (below that the filter transform, redone on each run without weight preprocessing,
 *     costs more than the multiplications saved: measured on ResNet-50's 14x14 and 7x7 layers;
 *     with the transform done once, F(4x4) wins down to 14x14: 2x over im2col at 1 thread)
 *   small output, long reduction (n*k*p*q < 4096, c/groups*r*s >= 2048, 2+ threads)
 *                                             -> split_reduce, im2col_gemm
 *   wide rows (q >= 32) and 16 or more output channels per group
 *                                             -> direct_blocked, direct_simd, im2col_gemm
 *   anything else                             -> direct_blocked, im2col_gemm, direct_simd
 *   (direct_blocked, AVX-512 only, is the tuned pick on ResNet-50's strided 3x3, its stem and
 *   its 3x3 on the 7x7 map, and on 5x5, 1x7, dilated and grouped shapes: 1.4-3.8x over
 *   im2col + OpenBLAS; where it does not apply the older preferences follow)
 * matmul (per product of the batch, m x n x k):
 *   m == 1 (matrix-vector)                    -> gemv_packed (AVX-512), gemv_simd, packed_simd,
 *                                                blas
 *   m * n * k >= 2^20                         -> packed_simd, blas
 *   anything smaller                          -> blas, packed_simd
 *   (measured at 1 thread: gemv_packed 1.3-1.8x over gemv_simd on k = 1283-2048 and level on
 *   lm_head, gemv_simd 4.3x over BLAS on lm_head,
 *   packed_simd 1.17-1.31x over BLAS on 64x512x512 and up, BLAS 1.1x ahead on 64x64x64)
 *
 * A candidate is taken only if it exists, is applicable, has every required attribute and no
 * forbidden one, and fits the workspace limit (0 = no limit). When the whole list fails, the
 * table of the kind is walked in preference order, and the naive algorithm, last in every table,
 * ends the walk; NULL only when the policy forbids even that. The sentence in *why names the rule
 * and, when the rule's own choice was refused, says that a fallback was taken.
 */
#include <stddef.h>

#include "kernels.h"

#define MAXPREF 4

typedef struct {
    const char *why;
    const char *names[MAXPREF]; /* NULL-terminated unless full */
} rule;

static bool allowed(const frk_algo *a, const fr_op *op, const frk_ctx *ctx, unsigned required,
                    unsigned forbidden, size_t limit)
{
    if (!a || a->kind != op->kind || !a->applicable(op, ctx)) return false;
    if ((a->attrs & required) != required || (a->attrs & forbidden)) return false;
    return limit == 0 || a->workspace(op, ctx) <= limit;
}

static rule pick_conv2d(const fr_op *op, bool wp, const frk_ctx *ctx)
{
    const fr_conv2d *c = &op->conv;
    int p, q;
    fr_conv2d_out(c, &p, &q);
    int cg = c->c / c->groups, kg = c->k / c->groups;
    if (c->groups == c->c && c->k == c->c)
        return (rule){
            "depthwise convolution: 16-channel blocked tile (AVX-512) or per-channel SIMD",
            {"conv2d.depthwise_blocked", "conv2d.depthwise_simd", "conv2d.direct_simd"}};
    if (c->r == 1 && c->s == 1 && c->pad[0] == 0 && c->pad[1] == 0)
        return (rule){"1x1 convolution: direct GEMM on the packed SIMD micro-kernels",
                      {"conv2d.gemm_1x1_packed", "conv2d.gemm_1x1", "conv2d.im2col_gemm"}};
    bool wino = c->r == 3 && c->s == 3 && c->stride[0] == 1 && c->stride[1] == 1 &&
                c->dilation[0] == 1 && c->dilation[1] == 1 && c->groups == 1;
    double pq = (double)p * q;
    if (wino && c->c >= 32 && c->k >= 32 && (pq >= 400 || (wp && pq >= 196)) && ctx->nthreads > 1)
        return (rule){"3x3 stride-1 convolution on 2+ threads: direct on a channel-blocked copy "
                      "(AVX-512; Winograd's transforms do not scale), else Winograd F(4x4,3x3)",
                      {"conv2d.direct_blocked", "conv2d.winograd_f43", "conv2d.im2col_gemm"}};
    if (wino && c->c >= 32 && c->k >= 32 && (pq >= 400 || (wp && pq >= 196)))
        return (rule){"3x3 stride-1 convolution with many channels: Winograd F(4x4,3x3)",
                      {"conv2d.winograd_f43", "conv2d.winograd_f23", "conv2d.im2col_gemm"}};
    if (wino && c->c >= 16 && c->k >= 16 && pq >= 256)
        return (rule){"3x3 stride-1 convolution, small: Winograd F(2x2,3x3)",
                      {"conv2d.winograd_f23", "conv2d.im2col_gemm"}};
    double outputs = (double)c->n * c->k * p * q;
    if (outputs < 4096 && (double)cg * c->r * c->s >= 2048 && ctx->nthreads > 1)
        return (rule){"small output with a long reduction: split the reduction across threads",
                      {"conv2d.split_reduce", "conv2d.im2col_gemm"}};
    if (q >= 32 && kg >= 16)
        return (rule){"direct convolution on a channel-blocked copy (AVX-512), else along rows",
                      {"conv2d.direct_blocked", "conv2d.direct_simd", "conv2d.im2col_gemm"}};
    return (rule){"direct convolution on a channel-blocked copy (AVX-512), else im2col + GEMM",
                  {"conv2d.direct_blocked", "conv2d.im2col_gemm", "conv2d.direct_simd"}};
}

static rule pick_matmul(const fr_op *op)
{
    const fr_matmul *mm = &op->mm;
    if (mm->m == 1)
        return (rule){
            "matrix-vector product: streaming gemv, 64 columns in registers",
            {"matmul.gemv_packed", "matmul.gemv_simd", "matmul.packed_simd", "matmul.blas"}};
    if ((double)mm->m * mm->n * mm->k >= 1048576.0)
        return (rule){"large matrix product: packed SIMD GEMM",
                      {"matmul.packed_simd", "matmul.blas"}};
    return (rule){"small matrix product: BLAS sgemm", {"matmul.blas", "matmul.packed_simd"}};
}

const frk_algo *frk_heuristic(const fr_op *op, bool wp, const frk_ctx *ctx, unsigned required,
                              unsigned forbidden, size_t workspace_limit, const char **why)
{
    rule r = op->kind == FR_OP_CONV2D ? pick_conv2d(op, wp, ctx) : pick_matmul(op);
    for (int i = 0; i < MAXPREF && r.names[i]; i++) {
        const frk_algo *a = frk_algo_find(r.names[i]);
        if (allowed(a, op, ctx, required, forbidden, workspace_limit)) {
            if (why)
                *why = i == 0 ? r.why
                              : "the rule's first choice was refused by the policy "
                                "or shape; took its next preference";
            return a;
        }
    }
    size_t n;
    const frk_algo *const *table = frk_algos(op->kind, &n);
    for (size_t i = 0; i < n; i++) {
        if (allowed(table[i], op, ctx, required, forbidden, workspace_limit)) {
            if (why)
                *why = (table[i]->attrs & FR_ATTR_NAIVE)
                           ? "no faster algorithm meets the policy: naive reference"
                           : "the rule's choices were refused by the policy or shape: first "
                             "allowed algorithm in preference order";
            return table[i];
        }
    }
    if (why) *why = "no algorithm meets the policy (the naive one is forbidden or too large)";
    return NULL;
}
