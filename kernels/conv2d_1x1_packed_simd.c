/*
 * conv2d_1x1_packed_simd.c - the SIMD helper of conv2d.gemm_1x1_packed (conv2d_1x1_packed.h):
 * the AVX-512 kernel for partial pixel micro-panels (its 8x8 transpose is the GEMM core's,
 * frk__transpose8 in matmul_gemm.h). Compiled with
 * target attributes, not global -m flags; reached only when ctx->isa allows.
 */
#include <immintrin.h>

#include "conv2d_1x1_packed.h"

#define NR FRK__GEMM_NR

/* The tile loop of matmul_ukernel_avx512.c for a constant number of rows. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
rows_tile(int rows, int kc, const float *a, int mr, const float *bp, float *t, bool accumulate)
{
    __m512 lo[8], hi[8];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
        lo[r] = hi[r] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        const __m512 b0 = _mm512_loadu_ps(bp);
        const __m512 b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            const __m512 av = _mm512_set1_ps(a[r]);
            lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);
            hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);
        }
        a += mr;
        bp += NR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++) {
        float *row = t + r * NR;
        if (accumulate) {
            lo[r] = _mm512_add_ps(_mm512_loadu_ps(row), lo[r]);
            hi[r] = _mm512_add_ps(_mm512_loadu_ps(row + 16), hi[r]);
        }
        _mm512_storeu_ps(row, lo[r]);
        _mm512_storeu_ps(row + 16, hi[r]);
    }
}

__attribute__((target("avx512f,fma"))) void frk__p1x1_partial_tile(int rows, int kc, const float *a,
                                                                   int mr, const float *bp,
                                                                   float *t, bool accumulate)
{
    switch (rows) {
    case 1:
        rows_tile(1, kc, a, mr, bp, t, accumulate);
        break;
    case 2:
        rows_tile(2, kc, a, mr, bp, t, accumulate);
        break;
    case 3:
        rows_tile(3, kc, a, mr, bp, t, accumulate);
        break;
    case 4:
        rows_tile(4, kc, a, mr, bp, t, accumulate);
        break;
    case 5:
        rows_tile(5, kc, a, mr, bp, t, accumulate);
        break;
    case 6:
        rows_tile(6, kc, a, mr, bp, t, accumulate);
        break;
    case 7:
        rows_tile(7, kc, a, mr, bp, t, accumulate);
        break;
    default:
        rows_tile(8, kc, a, mr, bp, t, accumulate);
        break;
    }
}
