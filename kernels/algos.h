/*
 * algos.h - internal to kernels/: the algorithm objects the registry lists (one per file) and
 * helpers shared by several algorithm files. Not installed, not included outside kernels/.
 */
#ifndef FRK_ALGOS_H
#define FRK_ALGOS_H

#include "kernels.h"

/* conv2d */
extern const frk_algo frk_conv2d_winograd_f43;
extern const frk_algo frk_conv2d_winograd_f23;
extern const frk_algo frk_conv2d_gemm_1x1;
extern const frk_algo frk_conv2d_gemm_1x1_packed;
extern const frk_algo frk_conv2d_depthwise_blocked;
extern const frk_algo frk_conv2d_depthwise_simd;
extern const frk_algo frk_conv2d_direct_blocked;
extern const frk_algo frk_conv2d_direct_simd;
extern const frk_algo frk_conv2d_im2col_gemm;
extern const frk_algo frk_conv2d_split_reduce;
extern const frk_algo frk_conv2d_naive;

/* matmul */
extern const frk_algo frk_matmul_gemv_simd;
extern const frk_algo frk_matmul_gemv_packed;
extern const frk_algo frk_matmul_packed_simd;
extern const frk_algo frk_matmul_splitk;
extern const frk_algo frk_matmul_blas;
extern const frk_algo frk_matmul_naive;

#endif
