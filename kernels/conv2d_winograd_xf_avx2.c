/*
 * conv2d_winograd_xf_avx2.c - the Winograd transforms compiled for AVX2 (used when ctx->isa is
 * AVX2; never called on a CPU without it).
 */
#pragma GCC target("avx2,fma")
#define FRK__WINO_XF_TABLE frk__wino_xf_avx2
#include "conv2d_winograd_xf.h"
