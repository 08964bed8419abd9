/*
 * conv2d_im2col.c - im2col + GEMM: for each image and group, the input patches are laid out as a
 * matrix col[cg*r*s][p*q] in the workspace, and one cblas_sgemm computes
 * out[kg][p*q] = W[kg][cg*r*s] * col. Any shape is applicable (up to the workspace cap); it wins
 * whenever the GEMM is large, which is most convolutions with many channels.
 *
 * Reproducible: im2col is a copy; OpenBLAS's sgemm splits M and N (never K) between threads and
 * runs a fixed kernel for a given core, shape and thread count, so every output element is summed
 * in the same order on every run. (The order may differ between thread counts and BLAS cores:
 * both are part of the category.)
 */
#include <cblas.h>
#include <string.h>

#include "algos.h"
#include "conv2d_util.h"

static double col_bytes(const frk__conv *cv)
{
    return 4.0 * cv->cg * cv->r * cv->s * (double)cv->p * cv->q;
}

static bool im2col_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    if (op->kind != FR_OP_CONV2D) return false;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    return col_bytes(&cv) <= FRK__WS_MAX;
}

static size_t im2col_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    return (size_t)col_bytes(&cv);
}

/* col[(cc*r + i)*s + j][oh*q + ow] = padded input (c0 + cc, oh*sh - ph + i*dh, ow*sw - pw + j*dw)
 */
static void im2col(const frk__conv *cv, const float *in, float *col, int nthreads)
{
    int rows = cv->cg * cv->r * cv->s;
    size_t pq = (size_t)cv->p * cv->q;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int row = 0; row < rows; row++) {
        int j = row % cv->s, i = (row / cv->s) % cv->r, cc = row / (cv->s * cv->r);
        const float *plane = in + (size_t)cc * cv->h * cv->w;
        float *out = col + (size_t)row * pq;
        for (int oh = 0; oh < cv->p; oh++) {
            float *o = out + (size_t)oh * cv->q;
            int ih = oh * cv->sh - cv->ph + i * cv->dh;
            if (ih < 0 || ih >= cv->h) {
                memset(o, 0, (size_t)cv->q * sizeof(float));
                continue;
            }
            const float *src = plane + (size_t)ih * cv->w;
            for (int ow = 0; ow < cv->q; ow++) {
                int iw = ow * cv->sw - cv->pw + j * cv->dw;
                o[ow] = (iw >= 0 && iw < cv->w) ? src[iw] : 0.0f;
            }
        }
    }
}

static void im2col_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__conv cv;
    frk__conv_dims(op, &cv);
    frk__blas_threads(ctx);
    int red = cv.cg * cv.r * cv.s, pq = cv.p * cv.q;
    float *col = x->ws;
    for (int n = 0; n < cv.n; n++) {
        for (int g = 0; g < cv.g; g++) {
            const float *in = x->src + ((size_t)n * cv.c + (size_t)g * cv.cg) * cv.h * cv.w;
            float *out = x->dst + ((size_t)n * cv.k + (size_t)g * cv.kg) * pq;
            const float *w = x->wei + (size_t)g * cv.kg * red;
            im2col(&cv, in, col, ctx->nthreads);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cv.kg, pq, red, 1.0f, w, red,
                        col, pq, 0.0f, out, pq);
        }
    }
}

const frk_algo frk_conv2d_im2col_gemm = {
    .name = "conv2d.im2col_gemm",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS,
    .doc = "im2col into the workspace, then one BLAS sgemm per image and group; any shape",
    .applicable = im2col_applicable,
    .workspace = im2col_workspace,
    .run = im2col_run,
};
