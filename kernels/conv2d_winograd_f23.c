/*
 * conv2d_winograd_f23.c - conv2d.winograd_f23: Winograd F(2x2, 3x3), 4x4 input tiles, 16 GEMMs.
 * 2.25x fewer multiplications than direct 3x3; its transforms only add, subtract and halve, so its
 * rounding error stays close to a direct sum's. Interpolation points 0, 1, -1, infinity.
 */
#include "algos.h"
#include "conv2d_winograd.h"

static const frk__wino F23 = {.variant = FRK__WINO_F23, .m = 2, .t = 4};

static bool f23_applicable(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__wino_applicable(&F23, op);
}

static size_t f23_workspace(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__wino_workspace(&F23, op);
}

static size_t f23_psize(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return frk__wino_psize(&F23, op);
}

static void f23_preprocess(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei)
{
    frk__wino_preprocess(&F23, op, ctx, wei, pwei);
}

static void f23_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__wino_run(&F23, op, ctx, x);
}

const frk_algo frk_conv2d_winograd_f23 = {
    .name = "conv2d.winograd_f23",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS,
    .doc = "Winograd F(2x2,3x3): 16 transform-domain sgemms; 3x3 stride 1, groups 1",
    .applicable = f23_applicable,
    .workspace = f23_workspace,
    .run = f23_run,
    .preprocessed_size = f23_psize,
    .preprocess = f23_preprocess,
};
