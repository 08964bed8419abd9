/*
 * conv2d_direct_avx2.c - the AVX2 row kernel of conv2d.direct_simd. Compiled with a function-level
 * target attribute and only called when ctx->isa is AVX2 or better.
 *
 * Register blocking with 16 ymm registers: (4 x 3) - 4 output channels x 3 vectors of 8 columns,
 * 12 accumulators + 3 inputs + 1 broadcast - for rows wider than 16 columns, and (8 x 1) for
 * narrow rows.
 */
#include <immintrin.h>

#include "conv2d_direct.h"

#define T2 __attribute__((target("avx2,fma")))
#define INLINE2 static inline __attribute__((always_inline, target("avx2,fma")))

/* Lane mask with the first `left` lanes set (left clamped to 0..8). */
INLINE2 __m256i lanes(int left)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), idx);
}

INLINE2 void block(const frk__direct *d, const float *xin, const float *wb, int koff, int oh,
                   int q0, float *out, int kvalid, const int KB, const int QV)
{
    const frk__conv *cv = &d->cv;
    __m256 acc[8][3]; /* fixed size (not a VLA) so it can live in registers */
#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 16
        for (int v = 0; v < QV; v++)
            acc[kk][v] = _mm256_setzero_ps();
    for (int c = 0; c < cv->cg; c++) {
        for (int i = 0; i < cv->r; i++) {
            const float *row = frk__xpack_row(cv, &d->xp, xin, 0, c, oh * cv->sh + i * cv->dh, 0);
            const float *w = wb + (size_t)(c * cv->r + i) * cv->s * FRK__DIRECT_KB + koff;
            for (int j = 0; j < cv->s; j++, w += FRK__DIRECT_KB) {
                int off = j * cv->dw;
                const float *xr = row + (size_t)(off % cv->sw) * d->xp.len + q0 + off / cv->sw;
                __m256 x[3];
#pragma GCC unroll 16
                for (int v = 0; v < QV; v++)
                    x[v] = _mm256_loadu_ps(xr + 8 * v);
#pragma GCC unroll 16
                for (int kk = 0; kk < KB; kk++) {
                    __m256 wv = _mm256_broadcast_ss(w + kk);
#pragma GCC unroll 16
                    for (int v = 0; v < QV; v++)
                        acc[kk][v] = _mm256_fmadd_ps(wv, x[v], acc[kk][v]);
                }
            }
        }
    }
    size_t pq = (size_t)cv->p * cv->q;
#pragma GCC unroll 16
    for (int v = 0; v < QV; v++) {
        int left = cv->q - q0 - 8 * v;
        if (left <= 0) break;
        __m256i m = lanes(left);
        for (int kk = 0; kk < KB && koff + kk < kvalid; kk++)
            _mm256_maskstore_ps(out + (size_t)kk * pq + q0 + 8 * v, m, acc[kk][v]);
    }
}

T2 void frk__direct_row_avx2(const frk__direct *d, int n, int g, int kb, int oh)
{
    const frk__conv *cv = &d->cv;
    const float *xin = d->xin + ((size_t)n * cv->c + (size_t)g * cv->cg) * d->xp.plane;
    const float *wb = frk__direct_wblock(d, g, kb);
    int k0 = g * cv->kg + kb * FRK__DIRECT_KB;
    int kvalid = cv->kg - kb * FRK__DIRECT_KB;
    size_t pq = (size_t)cv->p * cv->q;
    float *out = d->dst + ((size_t)n * cv->k + k0) * pq + (size_t)oh * cv->q;
    if (cv->q > 16) {
        for (int q0 = 0; q0 < cv->q; q0 += 24)
            for (int koff = 0; koff < FRK__DIRECT_KB && koff < kvalid; koff += 4)
                block(d, xin, wb, koff, oh, q0, out + (size_t)koff * pq, kvalid, 4, 3);
    } else {
        for (int q0 = 0; q0 < cv->q; q0 += 8)
            for (int koff = 0; koff < FRK__DIRECT_KB && koff < kvalid; koff += 8)
                block(d, xin, wb, koff, oh, q0, out + (size_t)koff * pq, kvalid, 8, 1);
    }
}
