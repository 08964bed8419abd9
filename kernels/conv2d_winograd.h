/*
 * conv2d_winograd.h - internal to the Winograd convolutions: one generic implementation of
 * F(m x m, 3 x 3) (conv2d_winograd.c) driven by the transform matrices that each variant's file
 * (conv2d_winograd_f23.c, conv2d_winograd_f43.c) supplies.
 *
 * Y = A^T [ (G g G^T) .* (B^T d B) ] A for each m x m output tile, input tile d of t = m + 2.
 * The element-wise products over all tiles and channels become t*t independent GEMMs:
 * M_e[k][tile] = U_e[k][c] * V_e[c][tile], e = (xi, nu) a point of the transform domain.
 */
#ifndef FRK_CONV2D_WINOGRAD_H
#define FRK_CONV2D_WINOGRAD_H

#include "kernels.h"

#define FRK__WINO_TMAX 6

typedef struct {
    int m;            /* output tile edge */
    int t;            /* input tile edge, m + 2 */
    const float *bt;  /* B^T, t x t, row-major */
    const float *g;   /* G, t x 3 */
    const float *at;  /* A^T, m x t */
} frk__wino;

/* 3x3, stride 1, dilation 1, groups 1, workspace under the cap. */
bool frk__wino_applicable(const frk__wino *wd, const fr_op *op);
size_t frk__wino_workspace(const frk__wino *wd, const fr_op *op);
/* Transformed filter U: t*t matrices of k x c floats, [e][k][c]. */
size_t frk__wino_psize(const frk__wino *wd, const fr_op *op);
void frk__wino_preprocess(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx,
                          const float *wei, void *pwei);
void frk__wino_run(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx, const frk_exec *x);

#endif
