/*
 * conv2d_util.h - internal to kernels/: what several conv2d algorithm files share. The unpacked
 * dimensions of a convolution, the workspace cap, the packed ("phase-split") input layout used by
 * the direct and depthwise algorithms, and the BLAS thread-count sync used by the GEMM-based ones.
 *
 * Phase-split input: each input plane is zero-padded, and every padded row is stored as sw rows
 * ("phases"), phase f holding the padded columns f, f+sw, f+2sw, ... Output column oq under kernel
 * column s reads padded column oq*sw + s*dw = (oq + (s*dw)/sw)*sw + (s*dw)%sw, so consecutive
 * output columns read consecutive floats of one phase row at any stride: SIMD loads stay
 * contiguous and need no bounds test. Each phase row has L floats with at least FRK__QB_MAX
 * floats of slack past the last output column, so a vector block that starts at a valid output
 * column may read past the end of the row without leaving it. The slack is left unwritten (it is
 * most of a small plane): it only ever reaches vector lanes whose results are masked off at the
 * store, and lanes never mix.
 */
#ifndef FRK_CONV2D_UTIL_H
#define FRK_CONV2D_UTIL_H

#include <stddef.h>

#include "kernels.h"

/* Workspace above this is "absurd": applicable() says no rather than asking for it. */
#define FRK__WS_MAX ((double)(1u << 30))

/* Widest block of output columns any kernel processes at once (4 AVX-512 vectors). */
#define FRK__QB_MAX 64

typedef struct {
    int n, c, h, w; /* input */
    int k, r, s;    /* weights */
    int sh, sw, ph, pw, dh, dw;
    int g, cg, kg; /* groups, input and output channels per group */
    int p, q;      /* output height and width */
} frk__conv;

/* Unpacks op (a valid conv2d) into cv. */
void frk__conv_dims(const fr_op *op, frk__conv *cv);

/* Rounds a byte count up to a multiple of 64 (so sub-buffers of one workspace stay aligned). */
static inline size_t frk__round64(size_t b)
{
    return (b + 63) & ~(size_t)63;
}

/* Geometry of the phase-split input. */
typedef struct {
    int hp;       /* padded rows: h + 2*ph */
    int phases;   /* sw */
    int len;      /* L: floats per phase row, a multiple of 16 */
    int used;     /* columns any stored output reads: q + (s-1)*dw/sw; the rest is slack */
    size_t plane; /* floats per (image, channel): hp * phases * len */
} frk__xpack;

void frk__xpack_geom(const frk__conv *cv, frk__xpack *xp);
/* Bytes of the whole packed input (n*c planes), as a double so callers can test it against
 * FRK__WS_MAX before it could overflow. */
double frk__xpack_bytes(const frk__conv *cv);
/* Packs one input plane in (h x w) into out (xp->plane floats), zeros included. */
void frk__xpack_plane(const frk__conv *cv, const frk__xpack *xp, const float *in, float *out);
/* Fills dst (frk__xpack_bytes) from src NCHW, zeros included. Parallel over planes. */
void frk__xpack_fill(const frk__conv *cv, const frk__xpack *xp, const float *src, float *dst,
                     int nthreads);

/* Start of phase row (padded input row ih, phase f) of plane (image n, channel c). */
static inline const float *frk__xpack_row(const frk__conv *cv, const frk__xpack *xp,
                                          const float *packed, int n, int c, int ih, int f)
{
    return packed + ((size_t)n * cv->c + c) * xp->plane + ((size_t)ih * xp->phases + f) * xp->len;
}

/* OpenBLAS (OpenMP build) takes its thread count from a process-wide setting, not from an
 * argument. A GEMM-based algorithm calls this first so that the BLAS honours ctx->nthreads; it
 * changes the setting (frk_set_threads) only when it differs, which the profiler never lets
 * happen because it sets both from the same number. */
void frk__blas_threads(const frk_ctx *ctx);

#endif
