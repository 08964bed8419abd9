/*
 * conv2d_winograd.h - internal to the Winograd convolutions: one engine for F(m x m, 3 x 3)
 * (conv2d_winograd.c: workspace, chunking, GEMMs, threads), transforms specialised per variant
 * and compiled per ISA level (conv2d_winograd_xf.h), and one thin file per variant that registers
 * it (conv2d_winograd_f23.c, conv2d_winograd_f43.c).
 *
 * Y = A^T [ (G g G^T) .* (B^T d B) ] A for each m x m output tile, input tile d of t = m + 2.
 * The element-wise products over all tiles and channels become t*t independent GEMMs:
 * M_e[k][tile] = U_e[k][c] * V_e[c][tile], e = (xi, nu) a point of the transform domain.
 */
#ifndef FRK_CONV2D_WINOGRAD_H
#define FRK_CONV2D_WINOGRAD_H

#include "conv2d_util.h"

#define FRK__WINO_TMAX 6
/* Tiles transformed together: the innermost loops of the transforms run over them. */
#define FRK__WINO_GROUP 16

typedef enum { FRK__WINO_F23 = 0, FRK__WINO_F43 = 1 } frk__wino_variant;

typedef struct {
    frk__wino_variant variant;
    int m; /* output tile edge */
    int t; /* input tile edge, m + 2 */
} frk__wino;

/* Geometry of one run: tiles and the chunking of tiles that bounds the workspace. */
typedef struct {
    frk__conv cv;
    int m, t;
    int th, tw; /* tiles per image, vertically and horizontally */
    long tiles; /* n * th * tw */
    long chunk; /* tiles per chunk, a multiple of FRK__WINO_GROUP unless it is all tiles */
} frk__wino_geom;

/* The three transforms of one variant, on up to FRK__WINO_GROUP items at a time
 * (conv2d_winograd_xf.h, compiled once per ISA level):
 *   filter: U for cnt consecutive (k, c) filters g (9 floats each) into u[e * plane + i];
 *   input:  V for channel c, tiles [t0, t0 + cnt), into v[(e * c_total + c) * chunk + col + i];
 *   output: Y for channel k, tiles [t0, t0 + cnt), from m[(e * k_total + k) * chunk + col + i]. */
typedef struct {
    void (*filter)(const float *g, int cnt, float *u, size_t plane);
    void (*input)(const frk__wino_geom *gm, const float *src, int c, long t0, int cnt, float *v,
                  long col);
    void (*output)(const frk__wino_geom *gm, const float *mm, int k, long t0, int cnt, long col,
                   float *dst);
} frk__wino_xf;

/* Indexed by frk__wino_variant. */
extern const frk__wino_xf frk__wino_xf_base[2];
extern const frk__wino_xf frk__wino_xf_avx2[2];
extern const frk__wino_xf frk__wino_xf_avx512[2];

/* 3x3, stride 1, dilation 1, groups 1, workspace under the cap. */
bool frk__wino_applicable(const frk__wino *wd, const fr_op *op);
size_t frk__wino_workspace(const frk__wino *wd, const fr_op *op);
/* Transformed filter U: t*t matrices of k x c floats, [e][k][c]. */
size_t frk__wino_psize(const frk__wino *wd, const fr_op *op);
void frk__wino_preprocess(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx,
                          const float *wei, void *pwei);
void frk__wino_run(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx, const frk_exec *x);

#endif
