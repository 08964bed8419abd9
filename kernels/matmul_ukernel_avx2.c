/*
 * matmul_ukernel_avx2.c - the AVX2 micro-kernel of the GEMM core (matmul_gemm.h): a tile of
 * 6 rows x 16 columns in 12 ymm accumulators (the register file has 16), i.e. half of a 32-wide
 * B panel per call; each step of k loads two ymm of B and broadcasts 6 values of A.
 *
 * Compiled with a target attribute so the library builds without global -mavx2 flags; reached
 * only when ctx->isa is AVX2 or better.
 */
#include <immintrin.h>

#include "matmul_gemm.h"

#define MR 6

__attribute__((target("avx2,fma"))) static void ukernel_avx2(int kc, const float *ap,
                                                             const float *bp, ptrdiff_t ldb,
                                                             float *c, ptrdiff_t ldc, bool accumulate)
{
    __m256 lo[MR], hi[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) lo[r] = hi[r] = _mm256_setzero_ps();

    for (int p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_loadu_ps(bp);
        const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            const __m256 a = _mm256_broadcast_ss(ap + r);
            lo[r] = _mm256_fmadd_ps(a, b0, lo[r]);
            hi[r] = _mm256_fmadd_ps(a, b1, hi[r]);
        }
        ap += MR;
        bp += ldb;
    }

#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        float *row = c + (ptrdiff_t)r * ldc;
        if (accumulate) {
            lo[r] = _mm256_add_ps(_mm256_loadu_ps(row), lo[r]);
            hi[r] = _mm256_add_ps(_mm256_loadu_ps(row + 8), hi[r]);
        }
        _mm256_storeu_ps(row, lo[r]);
        _mm256_storeu_ps(row + 8, hi[r]);
    }
}

const frk__ukernel frk__ukernel_avx2 = {.mr = MR, .nr = 16, .fn = ukernel_avx2, .pack_a = NULL};
