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
#define INLINE512 static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* One block: channels koff..koff+KB-1 of the packed block wb, columns q0..q0+16*QV-1 of row oh.
 * KB and QV are literals at every call, so the loops unroll and acc lives in registers. */
INLINE512 void block(const frk__direct *d, const float *xin, const float *wb, int koff, int oh,
                     int q0, float *out, int kvalid, const int KB, const int QV)
{
    const frk__conv *cv = &d->cv;
    __m512 acc[KB][QV];
    for (int kk = 0; kk < KB; kk++)
        for (int v = 0; v < QV; v++) acc[kk][v] = _mm512_setzero_ps();
    for (int c = 0; c < cv->cg; c++) {
        for (int i = 0; i < cv->r; i++) {
            const float *row = frk__xpack_row(cv, &d->xp, xin, 0, c, oh * cv->sh + i * cv->dh, 0);
            const float *w = wb + (size_t)(c * cv->r + i) * cv->s * FRK__DIRECT_KB + koff;
            for (int j = 0; j < cv->s; j++, w += FRK__DIRECT_KB) {
                int off = j * cv->dw;
                const float *xr = row + (size_t)(off % cv->sw) * d->xp.len + q0 + off / cv->sw;
                __m512 x[QV];
                for (int v = 0; v < QV; v++) x[v] = _mm512_loadu_ps(xr + 16 * v);
                for (int kk = 0; kk < KB; kk++) {
                    __m512 wv = _mm512_set1_ps(w[kk]);
                    for (int v = 0; v < QV; v++) acc[kk][v] = _mm512_fmadd_ps(wv, x[v], acc[kk][v]);
                }
            }
        }
    }
    size_t pq = (size_t)cv->p * cv->q;
    for (int v = 0; v < QV; v++) {
        int left = cv->q - q0 - 16 * v;
        if (left <= 0) break;
        __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        for (int kk = 0; kk < KB && koff + kk < kvalid; kk++)
            _mm512_mask_storeu_ps(out + (size_t)kk * pq + q0 + 16 * v, m, acc[kk][v]);
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
            if (kvalid > 8) block(d, xin, wb, 8, oh, q0, out + (size_t)8 * cv->p * cv->q, kvalid, 8, 3);
        }
    } else if (cv->q > 16) {
        block(d, xin, wb, 0, oh, 0, out, kvalid, 8, 2);
        if (kvalid > 8) block(d, xin, wb, 8, oh, 0, out + (size_t)8 * cv->p * cv->q, kvalid, 8, 2);
    } else {
        block(d, xin, wb, 0, oh, 0, out, kvalid, 16, 1);
    }
}
