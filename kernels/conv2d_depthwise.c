/*
 * conv2d_depthwise.c - conv2d.depthwise_simd: depthwise convolution (groups == c == k, one filter
 * per channel), any kernel size, stride, padding and dilation. Each thread packs one input plane
 * at a time into its own slice of the workspace (the phase-split layout of conv2d_util.h, so the
 * plane stays in cache while it is used) and computes that channel's output rows with vectors
 * along the output width: up to 4 vectors per step (AVX-512: 64 columns, AVX2: 32; fewer at the
 * end of a row), the filter taps broadcast. GEMM-based algorithms see a 1-channel reduction here
 * and waste most of their work; this one streams each plane once.
 *
 * Parallel over (image, channel) planes; each output is summed over (r, s) in that order by one
 * thread, so the result is bit-identical run after run and at any thread count (for one ISA).
 */
#include <immintrin.h>
#include <omp.h>

#include "algos.h"
#include "conv2d_util.h"

static bool dw_applicable(const fr_op *op, const frk_ctx *ctx)
{
    if (op->kind != FR_OP_CONV2D) return false;
    const fr_conv2d *c = &op->conv;
    if (c->groups != c->c || c->k != c->c) return false;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    cv.n = 1;
    cv.c = 1;
    return frk__xpack_bytes(&cv) * ctx->nthreads + 64.0 * ctx->nthreads <= FRK__WS_MAX;
}

static size_t dw_workspace(const fr_op *op, const frk_ctx *ctx)
{
    frk__conv cv;
    frk__xpack xp;
    frk__conv_dims(op, &cv);
    frk__xpack_geom(&cv, &xp);
    return (size_t)ctx->nthreads * frk__round64(xp.plane * sizeof(float));
}

typedef void (*row_fn)(const frk__conv *cv, const frk__xpack *xp, const float *plane,
                       const float *w, int oh, float *out);

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define T2 __attribute__((target("avx2,fma")))

/* One block of NV vectors (NV a literal at each call) starting at output column q0. */
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) void
block512(const frk__conv *cv, const frk__xpack *xp, const float *plane, const float *w, int oh,
         int q0, float *out, const int NV)
{
    __m512 acc[4];
    for (int v = 0; v < NV; v++)
        acc[v] = _mm512_setzero_ps();
    for (int i = 0; i < cv->r; i++) {
        const float *row = frk__xpack_row(cv, xp, plane, 0, 0, oh * cv->sh + i * cv->dh, 0);
        for (int j = 0; j < cv->s; j++) {
            int off = j * cv->dw;
            const float *xr = row + (size_t)(off % cv->sw) * xp->len + q0 + off / cv->sw;
            __m512 wv = _mm512_set1_ps(w[i * cv->s + j]);
            for (int v = 0; v < NV; v++)
                acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xr + 16 * v), acc[v]);
        }
    }
    for (int v = 0; v < NV; v++) {
        int left = cv->q - q0 - 16 * v;
        __mmask16 m = left >= 16  ? (__mmask16)0xffff
                      : left <= 0 ? (__mmask16)0
                                  : (__mmask16)((1u << left) - 1);
        _mm512_mask_storeu_ps(out + q0 + 16 * v, m, acc[v]);
    }
}

/* Blocks of 4 vectors while the row is wide, then 2 or 1 so short rows waste few lanes. */
T512 static void row_avx512(const frk__conv *cv, const frk__xpack *xp, const float *plane,
                            const float *w, int oh, float *out)
{
    for (int q0 = 0; q0 < cv->q;) {
        int left = cv->q - q0;
        if (left > 32) {
            block512(cv, xp, plane, w, oh, q0, out, 4);
            q0 += 64;
        } else if (left > 16) {
            block512(cv, xp, plane, w, oh, q0, out, 2);
            q0 += 32;
        } else {
            block512(cv, xp, plane, w, oh, q0, out, 1);
            q0 += 16;
        }
    }
}

static inline __attribute__((always_inline, target("avx2,fma"))) void
block256(const frk__conv *cv, const frk__xpack *xp, const float *plane, const float *w, int oh,
         int q0, float *out, const int NV)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 acc[4];
    for (int v = 0; v < NV; v++)
        acc[v] = _mm256_setzero_ps();
    for (int i = 0; i < cv->r; i++) {
        const float *row = frk__xpack_row(cv, xp, plane, 0, 0, oh * cv->sh + i * cv->dh, 0);
        for (int j = 0; j < cv->s; j++) {
            int off = j * cv->dw;
            const float *xr = row + (size_t)(off % cv->sw) * xp->len + q0 + off / cv->sw;
            __m256 wv = _mm256_broadcast_ss(w + i * cv->s + j);
            for (int v = 0; v < NV; v++)
                acc[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xr + 8 * v), acc[v]);
        }
    }
    for (int v = 0; v < NV; v++) {
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(cv->q - q0 - 8 * v), idx);
        _mm256_maskstore_ps(out + q0 + 8 * v, m, acc[v]);
    }
}

T2 static void row_avx2(const frk__conv *cv, const frk__xpack *xp, const float *plane,
                        const float *w, int oh, float *out)
{
    for (int q0 = 0; q0 < cv->q;) {
        int left = cv->q - q0;
        if (left > 16) {
            block256(cv, xp, plane, w, oh, q0, out, 4);
            q0 += 32;
        } else if (left > 8) {
            block256(cv, xp, plane, w, oh, q0, out, 2);
            q0 += 16;
        } else {
            block256(cv, xp, plane, w, oh, q0, out, 1);
            q0 += 8;
        }
    }
}

static void row_scalar(const frk__conv *cv, const frk__xpack *xp, const float *plane,
                       const float *w, int oh, float *out)
{
    for (int ow = 0; ow < cv->q; ow++)
        out[ow] = 0.0f;
    for (int i = 0; i < cv->r; i++) {
        const float *row = frk__xpack_row(cv, xp, plane, 0, 0, oh * cv->sh + i * cv->dh, 0);
        for (int j = 0; j < cv->s; j++) {
            int off = j * cv->dw;
            const float *xr = row + (size_t)(off % cv->sw) * xp->len + off / cv->sw;
            float wv = w[i * cv->s + j];
            for (int ow = 0; ow < cv->q; ow++)
                out[ow] += wv * xr[ow];
        }
    }
}

static void dw_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__conv cv;
    frk__xpack xp;
    frk__conv_dims(op, &cv);
    frk__xpack_geom(&cv, &xp);
    row_fn row = ctx->isa >= FRK_ISA_AVX512 ? row_avx512
                 : ctx->isa >= FRK_ISA_AVX2 ? row_avx2
                                            : row_scalar;
    size_t slice = frk__round64(xp.plane * sizeof(float));
    long planes = (long)cv.n * cv.c;
    size_t in_plane = (size_t)cv.h * cv.w, out_plane = (size_t)cv.p * cv.q;
#pragma omp parallel num_threads(ctx->nthreads)
    {
        float *mine = (float *)((char *)x->ws + slice * (size_t)omp_get_thread_num());
#pragma omp for schedule(dynamic)
        for (long pl = 0; pl < planes; pl++) {
            const float *w = x->wei + (size_t)(pl % cv.c) * cv.r * cv.s;
            frk__xpack_plane(&cv, &xp, x->src + (size_t)pl * in_plane, mine);
            for (int oh = 0; oh < cv.p; oh++)
                row(&cv, &xp, mine, w, oh, x->dst + (size_t)pl * out_plane + (size_t)oh * cv.q);
        }
    }
}

const frk_algo frk_conv2d_depthwise_simd = {
    .name = "conv2d.depthwise_simd",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_REPRODUCIBLE,
    .doc = "depthwise (groups == c == k): per-plane packing, SIMD along output width",
    .applicable = dw_applicable,
    .workspace = dw_workspace,
    .run = dw_run,
};
