/*
 * conv2d_direct_avx512.c - the AVX-512 row kernel of conv2d.direct_simd. Compiled with a
 * function-level target attribute and only ever called when ctx->isa says the CPU has AVX-512.
 *
 * Register blocking: KB output channels x QV vectors of 16 output columns, accumulators held in
 * zmm registers across the whole (c, r, s) reduction: (8 x 3) for wide rows (24 accumulators,
 * 3 input loads and 8 broadcasts per 24 FMAs), (8 x 2) for rows of 17..32 columns and (16 x 1)
 * for narrow ones, so short rows do not waste most of each vector.
 */
#include <immintrin.h>

#include "conv2d_direct.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INLINE512                                                                                  \
    static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* One block: channels koff..koff+KB-1 of the packed block wb, columns q0..q0+16*QV-1 of row oh.
 * KB and QV are literals at every call, so the loops unroll and acc lives in registers. */
INLINE512 void block(const frk__direct *d, const float *xin, const float *wb, int koff, int oh,
                     int q0, float *out, int kvalid, const int KB, const int QV)
{
    const frk__conv *cv = &d->cv;
    __m512 acc[16][3]; /* fixed size (not a VLA) so it can live in registers */
#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 16
        for (int v = 0; v < QV; v++)
            acc[kk][v] = _mm512_setzero_ps();
    /* Kernel column j reads phase (j*dw) % sw at column offset (j*dw) / sw; tracked
     * incrementally (no division in the loop). */
    const int dq = cv->dw / cv->sw, dph = cv->dw % cv->sw;
    for (int c = 0; c < cv->cg; c++) {
        for (int i = 0; i < cv->r; i++) {
            const float *row = frk__xpack_row(cv, &d->xp, xin, 0, c, oh * cv->sh + i * cv->dh, 0);
            const float *w = wb + (size_t)(c * cv->r + i) * cv->s * FRK__DIRECT_KB + koff;
            int phase = 0, shift = q0;
            for (int j = 0; j < cv->s; j++, w += FRK__DIRECT_KB) {
                const float *xr = row + (size_t)phase * d->xp.len + shift;
                __m512 x[3];
#pragma GCC unroll 16
                for (int v = 0; v < QV; v++)
                    x[v] = _mm512_loadu_ps(xr + 16 * v);
#pragma GCC unroll 16
                for (int kk = 0; kk < KB; kk++) {
                    __m512 wv = _mm512_set1_ps(w[kk]);
#pragma GCC unroll 16
                    for (int v = 0; v < QV; v++)
                        acc[kk][v] = _mm512_fmadd_ps(wv, x[v], acc[kk][v]);
                }
                shift += dq;
                phase += dph;
                if (phase >= cv->sw) {
                    phase -= cv->sw;
                    shift++;
                }
            }
        }
    }
    /* Every store is issued with constant indices (so acc stays in registers); lanes past the
     * row's end and channels past the group's end get an empty mask and touch no memory. */
    size_t pq = (size_t)cv->p * cv->q;
#pragma GCC unroll 16
    for (int v = 0; v < QV; v++) {
        int left = cv->q - q0 - 16 * v;
        __mmask16 m = left >= 16  ? (__mmask16)0xffff
                      : left <= 0 ? (__mmask16)0
                                  : (__mmask16)((1u << left) - 1);
#pragma GCC unroll 16
        for (int kk = 0; kk < KB; kk++) {
            __mmask16 mk = koff + kk < kvalid ? m : (__mmask16)0;
            _mm512_mask_storeu_ps(out + (size_t)kk * pq + q0 + 16 * v, mk, acc[kk][v]);
        }
    }
}

T512 void frk__direct_row_avx512(const frk__direct *d, int n, int g, int kb, int oh)
{
    const frk__conv *cv = &d->cv;
    const float *xin = d->xin + ((size_t)n * cv->c + (size_t)g * cv->cg) * d->xp.plane;
    const float *wb = frk__direct_wblock(d, g, kb);
    int k0 = g * cv->kg + kb * FRK__DIRECT_KB;
    int kvalid = cv->kg - kb * FRK__DIRECT_KB; /* channels of this block that exist */
    float *out = d->dst + ((size_t)n * cv->k + k0) * cv->p * cv->q + (size_t)oh * cv->q;
    if (cv->q > 32) {
        for (int q0 = 0; q0 < cv->q; q0 += 48) {
            block(d, xin, wb, 0, oh, q0, out, kvalid, 8, 3);
            if (kvalid > 8)
                block(d, xin, wb, 8, oh, q0, out + (size_t)8 * cv->p * cv->q, kvalid, 8, 3);
        }
    } else if (cv->q > 16) {
        block(d, xin, wb, 0, oh, 0, out, kvalid, 8, 2);
        if (kvalid > 8) block(d, xin, wb, 8, oh, 0, out + (size_t)8 * cv->p * cv->q, kvalid, 8, 2);
    } else {
        block(d, xin, wb, 0, oh, 0, out, kvalid, 16, 1);
    }
}
