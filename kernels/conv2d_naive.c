/*
 * conv2d_naive.c - the reference convolution: the plain loop over every output element and every
 * term of its sum, written for obvious correctness, accumulating in double (so it is also the most
 * accurate algorithm, which makes it a good reference for verification). Any shape is applicable.
 * Parallel over (image, output channel): each output is summed by one thread in one fixed order,
 * so the result is bit-identical at any thread count.
 */
#include "algos.h"
#include "conv2d_util.h"

static bool naive_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return op->kind == FR_OP_CONV2D;
}

static size_t naive_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 0;
}

static void naive_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__conv cv;
    frk__conv_dims(op, &cv);
    long tasks = (long)cv.n * cv.k;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(dynamic)
    for (long t = 0; t < tasks; t++) {
        int n = (int)(t / cv.k), k = (int)(t % cv.k);
        int g = k / cv.kg;
        for (int oh = 0; oh < cv.p; oh++) {
            for (int ow = 0; ow < cv.q; ow++) {
                double acc = 0.0;
                for (int cc = 0; cc < cv.cg; cc++) {
                    int c = g * cv.cg + cc;
                    for (int r = 0; r < cv.r; r++) {
                        int ih = oh * cv.sh - cv.ph + r * cv.dh;
                        if (ih < 0 || ih >= cv.h) continue;
                        for (int s = 0; s < cv.s; s++) {
                            int iw = ow * cv.sw - cv.pw + s * cv.dw;
                            if (iw < 0 || iw >= cv.w) continue;
                            double in = x->src[(((size_t)n * cv.c + c) * cv.h + ih) * cv.w + iw];
                            double wv = x->wei[(((size_t)k * cv.cg + cc) * cv.r + r) * cv.s + s];
                            acc += in * wv;
                        }
                    }
                }
                x->dst[(((size_t)n * cv.k + k) * cv.p + oh) * cv.q + ow] = (float)acc;
            }
        }
    }
}

const frk_algo frk_conv2d_naive = {
    .name = "conv2d.naive",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_NAIVE | FR_ATTR_REPRODUCIBLE,
    .doc = "reference loop nest, double accumulation; any shape; slowest",
    .applicable = naive_applicable,
    .workspace = naive_workspace,
    .run = naive_run,
};
