/*
 * conv2d_winograd_xf_avx512.c - the Winograd transforms compiled for AVX-512 (used when ctx->isa
 * is AVX512; never called on a CPU without it). 512-bit vectors: one register per tile group.
 */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma,prefer-vector-width=512")
#define FRK__WINO_XF_TABLE frk__wino_xf_avx512
#include "conv2d_winograd_xf.h"
