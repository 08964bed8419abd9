/*
 * conv2d_winograd_f43.c - conv2d.winograd_f43: Winograd F(4x4, 3x3), 6x6 input tiles, 36 GEMMs.
 * 4x fewer multiplications than direct 3x3. Interpolation points 0, 1, -1, 2, -2, infinity; the
 * transforms carry coefficients up to 5 (B) and 8 (A), so rounding errors grow by roughly an order
 * of magnitude over a direct sum: verification uses a 16x looser tolerance (tol_factor below).
 */
#include "algos.h"
#include "conv2d_winograd.h"

static const frk__wino F43 = {.variant = FRK__WINO_F43, .m = 4, .t = 6};

static bool f43_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__wino_applicable(&F43, op);
}

static size_t f43_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__wino_workspace(&F43, op);
}

static size_t f43_psize(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__wino_psize(&F43, op);
}

static void f43_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    frk__wino_preprocess(&F43, op, ctx, wei, pwei);
}

static void f43_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__wino_run(&F43, op, ctx, x);
}

const frk_algo frk_conv2d_winograd_f43 = {
    .name = "conv2d.winograd_f43",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS,
    .doc = "Winograd F(4x4,3x3): 36 transform-domain sgemms; 3x3 stride 1, groups 1",
    .applicable = f43_applicable,
    .workspace = f43_workspace,
    .run = f43_run,
    .preprocessed_size = f43_psize,
    .preprocess = f43_preprocess,
    /* Measured worst error / base tolerance: 4.7 with one input channel (the transforms' error
     * dominates a short reduction), 1.4 on ResNet-50's layers; 16 leaves a 3x margin. */
    .tol_factor = 16,
};
