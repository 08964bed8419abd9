/*
 * conv2d_gemm1x1.c - 1x1 convolution as a plain GEMM, no im2col: with r = s = 1 and no padding,
 * the input plane of an image and group is already the matrix in[cg][h*w], and
 * out[kg][p*q] = W[kg][cg] * in. At stride 1 the GEMM reads the input in place (no workspace);
 * at stride > 1 the needed pixels are first subsampled into the workspace (in[cg][p*q]), which
 * costs one pass over a quarter (stride 2) of the input and keeps the GEMM contiguous. Dilation
 * does not matter for a 1x1 kernel. Padded 1x1 convolutions go to im2col_gemm.
 *
 * Reproducible for the reason given in conv2d_im2col.c (OpenBLAS sgemm splits M and N only).
 */
#include <cblas.h>

#include "algos.h"
#include "conv2d_util.h"

static bool strided(const frk__conv *cv)
{
    return cv->sh != 1 || cv->sw != 1;
}

static bool g1x1_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    if (op->kind != FR_OP_CONV2D) return false;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    if (cv.r != 1 || cv.s != 1 || cv.ph != 0 || cv.pw != 0) return false;
    return !strided(&cv) || 4.0 * cv.cg * (double)cv.p * cv.q <= FRK__WS_MAX;
}

static size_t g1x1_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    return strided(&cv) ? (size_t)4 * cv.cg * cv.p * cv.q : 0;
}

static void subsample(const frk__conv *cv, const float *in, float *out, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int cc = 0; cc < cv->cg; cc++) {
        const float *plane = in + (size_t)cc * cv->h * cv->w;
        float *o = out + (size_t)cc * cv->p * cv->q;
        for (int oh = 0; oh < cv->p; oh++) {
            const float *row = plane + (size_t)oh * cv->sh * cv->w;
            for (int ow = 0; ow < cv->q; ow++)
                o[(size_t)oh * cv->q + ow] = row[(size_t)ow * cv->sw];
        }
    }
}

static void g1x1_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__conv cv;
    frk__conv_dims(op, &cv);
    frk__blas_threads(ctx);
    int pq = cv.p * cv.q;
    for (int n = 0; n < cv.n; n++) {
        for (int g = 0; g < cv.g; g++) {
            const float *in = x->src + ((size_t)n * cv.c + (size_t)g * cv.cg) * cv.h * cv.w;
            float *out = x->dst + ((size_t)n * cv.k + (size_t)g * cv.kg) * pq;
            const float *w = x->wei + (size_t)g * cv.kg * cv.cg;
            if (strided(&cv)) {
                subsample(&cv, in, x->ws, ctx->nthreads);
                in = x->ws;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cv.kg, pq, cv.cg, 1.0f, w, cv.cg,
                        in, pq, 0.0f, out, pq);
        }
    }
}

const frk_algo frk_conv2d_gemm_1x1 = {
    .name = "conv2d.gemm_1x1",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS,
    .doc = "1x1 unpadded convolution as one sgemm per image and group (strided: subsample first)",
    .applicable = g1x1_applicable,
    .workspace = g1x1_workspace,
    .run = g1x1_run,
};
