/*
 * conv2d_blocked_avx512.c - the AVX-512 micro-kernels of conv2d.direct_blocked (layouts in
 * conv2d_blocked.h). Compiled with a function-level target attribute and only ever called when
 * ctx->isa says the CPU has AVX-512.
 *
 * A tile keeps NK x NQ accumulators (NK vectors of 16 output channels for each of NQ output
 * columns) in zmm registers. Per (channel block, kernel row, kernel column, input
 * channel) it loads NK weight vectors and broadcasts NQ input values, NK*NQ FMAs (NK*NQ + NK + 1
 * <= 32 registers: 3x9, 2x14, 1x14): stride and
 * dilation only move the input address. NK and NQ are literals in each instance so the loops
 * unroll; one instance per (NK, NQ) a plan can ask for (tail tiles included).
 */
#include <immintrin.h>

#include "conv2d_blocked.h"
#include "simd_avx512.h"

#define T512 FRK__T512
#define INLINE512                                                                                  \
    static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* Writes acc (16 channels per vector, one vector per column) to NCHW rows: a register
 * transpose per 16 channels, then one masked store of NQ columns per channel. */
INLINE512 void store_nchw(const frk__blk *b, const frk__blk_tile *t, __m512 acc[3][14],
                          const int NK, const int NQ)
{
    const __mmask16 m = (__mmask16)((1u << NQ) - 1);
    size_t pq = (size_t)b->cv.p * b->cv.q;
#pragma GCC unroll 3
    for (int v = 0; v < NK; v++) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            r[j] = j < NQ ? acc[v][j < NQ ? j : 0] : _mm512_setzero_ps();
        frk__transpose16(r);
        int kn = t->kvalid - 16 * v;
        if (kn > 16) kn = 16;
        for (int kk = 0; kk < kn; kk++)
            _mm512_mask_storeu_ps(t->dst + (size_t)(16 * v + kk) * pq, m, r[kk]);
    }
}

INLINE512 void tile(const frk__blk *b, const frk__blk_tile *t, const int NK, const int NQ,
                    const int CBW)
{
    const frk__conv *cv = &b->cv;
    __m512 acc[3][14]; /* fixed size (not a VLA) so it can live in registers */
#pragma GCC unroll 3
    for (int v = 0; v < NK; v++)
#pragma GCC unroll 14
        for (int j = 0; j < NQ; j++)
            acc[v][j] = t->first ? _mm512_setzero_ps() : _mm512_load_ps(t->buf + (v * NQ + j) * 16);
    const int dq = cv->dw / cv->sw, dph = cv->dw % cv->sw;
    const size_t wkb = b->wkb, xdrow = (size_t)cv->dh * b->xrow;
    for (int cb = 0; cb < t->ncb; cb++) {
        int cvalid = cv->cg - (t->cb0 + cb) * FRK__BLK_CB;
        if (cvalid > FRK__BLK_CB) cvalid = FRK__BLK_CB;
        const float *xr = t->x + (size_t)cb * b->xcb;
        const float *w = t->w + (size_t)cb * b->wcb;
        for (int i = 0; i < cv->r; i++, xr += xdrow) {
            int phase = 0, shift = 0;
            for (int j = 0; j < cv->s; j++, w += cvalid * 16) {
                const float *xp = xr + ((size_t)phase * b->lenq + shift) * CBW;
                for (int c = 0; c < cvalid; c++) {
                    __m512 wv[3];
#pragma GCC unroll 3
                    for (int v = 0; v < NK; v++)
                        wv[v] = _mm512_load_ps(w + v * wkb + c * 16);
#pragma GCC unroll 14
                    for (int q = 0; q < NQ; q++) {
                        __m512 xb = _mm512_set1_ps(xp[q * CBW + c]);
#pragma GCC unroll 3
                        for (int v = 0; v < NK; v++)
                            acc[v][q] = _mm512_fmadd_ps(wv[v], xb, acc[v][q]);
                    }
                }
                shift += dq;
                phase += dph;
                if (phase >= cv->sw) {
                    phase -= cv->sw;
                    shift++;
                }
            }
        }
    }
    if (t->last) {
        store_nchw(b, t, acc, NK, NQ);
    } else {
#pragma GCC unroll 3
        for (int v = 0; v < NK; v++)
#pragma GCC unroll 14
            for (int j = 0; j < NQ; j++)
                _mm512_store_ps(t->buf + (v * NQ + j) * 16, acc[v][j]);
    }
}

#define INST(NK, NQ)                                                                               \
    static T512 void tile_##NK##_##NQ(const frk__blk *b, const frk__blk_tile *t)                   \
    {                                                                                              \
        tile(b, t, NK, NQ, FRK__BLK_CB);                                                           \
    }                                                                                              \
    static T512 void tile4_##NK##_##NQ(const frk__blk *b, const frk__blk_tile *t)                  \
    {                                                                                              \
        tile(b, t, NK, NQ, 4);                                                                     \
    }
#define INST7(NK)                                                                                  \
    INST(NK, 1) INST(NK, 2) INST(NK, 3) INST(NK, 4) INST(NK, 5) INST(NK, 6) INST(NK, 7)
#define INST9(NK) INST7(NK) INST(NK, 8) INST(NK, 9)
#define INST14(NK) INST9(NK) INST(NK, 10) INST(NK, 11) INST(NK, 12) INST(NK, 13) INST(NK, 14)
INST14(1)
INST14(2)
INST9(3)

T512 void frk__blk_pack_row_avx512(const frk__blk *b, const float *in, size_t plane, int cvalid,
                                   float *out)
{
    const frk__conv *cv = &b->cv;
    int wpad = cv->w + 2 * cv->pw;
    /* The first b->cbw lanes of a vector are a packed column (16-float aligned when 16). */
    const __mmask16 lanes = (__mmask16)((1u << b->cbw) - 1);
    /* Padding columns: left, then right. */
    for (int pc = 0; pc < wpad; pc++) {
        if (pc == cv->pw) pc += cv->w;
        if (pc >= wpad) break;
        _mm512_mask_storeu_ps(out + ((size_t)(pc % cv->sw) * b->lenq + pc / cv->sw) * b->cbw, lanes,
                              _mm512_setzero_ps());
    }
    for (int w0 = 0; w0 < cv->w; w0 += 16) {
        int cols = cv->w - w0 < 16 ? cv->w - w0 : 16;
        __mmask16 m = (__mmask16)((1u << cols) - 1);
        __m512 r[16];
        for (int c = 0; c < 16; c++)
            r[c] = c < cvalid ? _mm512_maskz_loadu_ps(m, in + (size_t)c * plane + w0)
                              : _mm512_setzero_ps();
        frk__transpose16(r);
        for (int j = 0; j < cols; j++) {
            int pc = cv->pw + w0 + j;
            _mm512_mask_storeu_ps(out + ((size_t)(pc % cv->sw) * b->lenq + pc / cv->sw) * b->cbw,
                                  lanes, r[j]);
        }
    }
}

T512 void frk__blk_wpack_avx512(const frk__blk *b, const float *wei, int g, int kb, float *out)
{
    const frk__conv *cv = &b->cv;
    size_t rs = (size_t)cv->r * cv->s, kstride = (size_t)cv->cg * rs;
    int kn = cv->kg - kb * 16 < 16 ? cv->kg - kb * 16 : 16;
    const __mmask16 m = (__mmask16)((1u << kn) - 1);
    /* Lane kk reads output channel kb*16 + kk: kstride floats apart (fits an int32 index: the
     * weights of a group are below FR_MAX_TENSOR_BYTES). */
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)kstride));
    const float *base = wei + ((size_t)g * cv->kg + (size_t)kb * 16) * kstride;
    for (int cb = 0; cb < b->cbn; cb++) {
        int cw = cv->cg - cb * FRK__BLK_CB < FRK__BLK_CB ? cv->cg - cb * FRK__BLK_CB : FRK__BLK_CB;
        for (size_t e = 0; e < rs; e++)
            for (int c = 0; c < cw; c++, out += 16) {
                const float *from = base + (size_t)(cb * FRK__BLK_CB + c) * rs + e;
                _mm512_store_ps(out,
                                _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, from, 4));
            }
    }
}

typedef void (*tile_fn)(const frk__blk *, const frk__blk_tile *);
#define ROW7(P, NK) P##NK##_1, P##NK##_2, P##NK##_3, P##NK##_4, P##NK##_5, P##NK##_6, P##NK##_7
#define ROW9(P, NK) ROW7(P, NK), P##NK##_8, P##NK##_9
#define ROW14(P, NK) ROW9(P, NK), P##NK##_10, P##NK##_11, P##NK##_12, P##NK##_13, P##NK##_14

/* [narrow][nk-1][nq-1], narrow: 4 floats per packed column (b->cbw == 4), else 16; NULL where
 * nk*nq would not fit the registers (a plan never asks for those). */
static const tile_fn tiles[2][FRK__BLK_NK_MAX][FRK__BLK_NQ_MAX] = {
    {{ROW14(tile_, 1)}, {ROW14(tile_, 2)}, {ROW9(tile_, 3)}},
    {{ROW14(tile4_, 1)}, {ROW14(tile4_, 2)}, {ROW9(tile4_, 3)}},
};

T512 void frk__blk_tile_avx512(const frk__blk *b, const frk__blk_tile *t, int nk, int nq)
{
    tiles[b->cbw == 4][nk - 1][nq - 1](b, t);
}
