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

/* The tile loop. Element (r, p) of the A micro-panel is at a[r * ars + p * acs]: packed
 * (ars = 1, acs = MR) or read in place from rows of A (ars = lda, acs = 1). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile(int kc, const float *a, ptrdiff_t ars, ptrdiff_t acs, const float *bp, ptrdiff_t ldb, float *c,
     ptrdiff_t ldc, bool accumulate)
{
    __m256 lo[MR], hi[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
        lo[r] = hi[r] = _mm256_setzero_ps();

    for (int p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_loadu_ps(bp);
        const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r * ars);
            lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
            hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
        }
        a += acs;
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

__attribute__((target("avx2,fma"))) static void ukernel_packed(int kc, const float *ap,
                                                               const float *bp, ptrdiff_t ldb,
                                                               float *c, ptrdiff_t ldc,
                                                               bool accumulate)
{
    tile(kc, ap, 1, MR, bp, ldb, c, ldc, accumulate);
}

__attribute__((target("avx2,fma"))) static void ukernel_rows(int kc, const float *a, ptrdiff_t lda,
                                                             const float *bp, ptrdiff_t ldb,
                                                             float *c, ptrdiff_t ldc,
                                                             bool accumulate)
{
    tile(kc, a, lda, 1, bp, ldb, c, ldc, accumulate);
}

const frk__ukernel frk__ukernel_avx2 = {
    .mr = MR, .nr = 16, .fn = ukernel_packed, .fn_rows = ukernel_rows, .pack_a = NULL};
