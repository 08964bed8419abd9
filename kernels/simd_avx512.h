/*
 * simd_avx512.h - internal to kernels/: AVX-512 helpers shared by several kernels, compiled with
 * function-level target attributes (no global -m flags), so they are only ever reached when
 * ctx->isa says the CPU has AVX-512.
 */
#ifndef FRK_SIMD_AVX512_H
#define FRK_SIMD_AVX512_H

#include <immintrin.h>

/* The target every AVX-512 kernel function is compiled for. */
#define FRK__T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* Transposes 16 rows of 16 floats (r[i][j]) in place into 16 columns (r[j][i]): 4x4 transposes
 * inside 128-bit lanes, then a 4x4 transpose of the lanes. Used where a kernel moves between
 * NCHW planes and a 16-channel blocked layout (conv2d.direct_blocked, conv2d.depthwise_blocked). */
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) void
frk__transpose16(__m512 r[16])
{
    __m512 s[4][4]; /* s[g][m]: lane k holds rows 4g..4g+3 of column 4k+m */
    for (int g = 0; g < 4; g++) {
        __m512 t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
        __m512 t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
        __m512 t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
        __m512 t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
        s[g][0] = _mm512_shuffle_ps(t0, t2, 0x44);
        s[g][1] = _mm512_shuffle_ps(t0, t2, 0xEE);
        s[g][2] = _mm512_shuffle_ps(t1, t3, 0x44);
        s[g][3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        __m512 x0 = _mm512_shuffle_f32x4(s[0][m], s[1][m], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(s[0][m], s[1][m], 0xEE);
        __m512 x2 = _mm512_shuffle_f32x4(s[2][m], s[3][m], 0x44);
        __m512 x3 = _mm512_shuffle_f32x4(s[2][m], s[3][m], 0xEE);
        r[m] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        r[4 + m] = _mm512_shuffle_f32x4(x0, x2, 0xDD);
        r[8 + m] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(x1, x3, 0xDD);
    }
}

#endif
