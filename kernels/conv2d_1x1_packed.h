/*
 * conv2d_1x1_packed.h - internal to kernels/: the SIMD helpers of conv2d.gemm_1x1_packed
 * (conv2d_1x1_packed_simd.c).
 */
#ifndef FRK_CONV2D_1X1_PACKED_H
#define FRK_CONV2D_1X1_PACKED_H

#include <stdbool.h>
#include <stddef.h>

#include "matmul_gemm.h"

/* A micro-panel of 1 <= rows <= 8 pixels against 32 weight columns, AVX-512: the tile loop of
 * matmul_ukernel_avx512.c for just those rows, so a 49-pixel map costs 6 full micro-panels and a
 * 1-row one instead of 7 full ones. a: kc steps of rows values, step p at a + p * mr (packed
 * panels: mr = panel rows; pixels in place: mr = the plane size); bp: kc rows of FRK__GEMM_NR weights; t: rows x FRK__GEMM_NR, row stride
 * FRK__GEMM_NR, set (accumulate false) or added to. Same order of summation as the micro-kernel:
 * one FMA chain from zero per element, then added to t. */
void frk__p1x1_partial_tile(int rows, int kc, const float *a, int mr, const float *bp, float *t,
                            bool accumulate);

#endif
