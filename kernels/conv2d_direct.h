/*
 * conv2d_direct.h - internal to the direct convolution (conv2d_direct*.c): the state one run
 * shares with its per-ISA row kernels.
 *
 * Weights are packed in blocks of FRK__DIRECT_KB output channels, channel fastest:
 * wp[((g*kblocks + kb)*cg*r*s + (c*r + i)*s + j)*KB + kk] (zeros past kg), so a kernel that
 * register-blocks over output channels reads its broadcasts from one cache line. The input is the
 * phase-split packed input of conv2d_util.h.
 */
#ifndef FRK_CONV2D_DIRECT_H
#define FRK_CONV2D_DIRECT_H

#include "conv2d_util.h"

#define FRK__DIRECT_KB 16

typedef struct {
    frk__conv cv;
    frk__xpack xp;
    int kblocks;      /* ceil(kg / KB), per group */
    const float *xin; /* packed input */
    const float *wp;  /* packed weights */
    float *dst;
} frk__direct;

/* Computes output row oh of image n for output channels kb*KB.. of group g (every column).
 * Each output is summed over (c, r, s) in that order by one thread. */
void frk__direct_row_avx512(const frk__direct *d, int n, int g, int kb, int oh);
void frk__direct_row_avx2(const frk__direct *d, int n, int g, int kb, int oh);

/* Start of the packed weights of block kb of group g. */
static inline const float *frk__direct_wblock(const frk__direct *d, int g, int kb)
{
    size_t per = (size_t)d->cv.cg * d->cv.r * d->cv.s * FRK__DIRECT_KB;
    return d->wp + ((size_t)g * d->kblocks + kb) * per;
}

#endif
