/*
 * conv2d_winograd_xf.h - the Winograd transforms, written once and compiled once per ISA level:
 * conv2d_winograd_xf.c (baseline), _xf_avx2.c and _xf_avx512.c each set a target and include
 * this file with FRK__WINO_XF_TABLE naming the table they define. Everything here is static.
 *
 * The transform matrices are constants and each transform is instantiated per variant with its
 * tile size as a literal, so the loops over matrix entries unroll, zero entries vanish and the
 * remaining coefficients become immediates (only the loops that index the matrix unroll: the
 * other stays rolled to keep the code, and the compile time, small). The innermost loop runs
 * over FRK__WINO_GROUP tiles (or filters), which the compiler vectorises for the target. FP
 * contraction is off in ISO C mode, so every ISA level computes the same bits; the levels differ
 * only in speed.
 *
 * F(2x2,3x3): points 0, 1, -1, inf. F(4x4,3x3): points 0, 1, -1, 2, -2, inf (A. Lavin's matrices).
 */
#include <string.h>

#include "conv2d_winograd.h"

#ifndef FRK__WINO_XF_TABLE
#error "define FRK__WINO_XF_TABLE before including conv2d_winograd_xf.h"
#endif

#define GRP FRK__WINO_GROUP
#define XF_INLINE static inline __attribute__((always_inline))

/* One matrix row per line. */
/* clang-format off */
static const float BT23[16] = {
    1,  0, -1,  0,
    0,  1,  1,  0,
    0, -1,  1,  0,
    0,  1,  0, -1,
};
static const float G23[12] = {
    1,     0,     0,
    0.5f,  0.5f,  0.5f,
    0.5f, -0.5f,  0.5f,
    0,     0,     1,
};
static const float AT23[8] = {
    1, 1,  1,  0,
    0, 1, -1, -1,
};
static const float BT43[36] = {
    4,  0, -5,  0, 1, 0,
    0, -4, -4,  1, 1, 0,
    0,  4, -4, -1, 1, 0,
    0, -2, -1,  2, 1, 0,
    0,  2, -1, -2, 1, 0,
    0,  4,  0, -5, 0, 1,
};
static const float G43[18] = {
     1.0f / 4,   0,          0,
    -1.0f / 6,  -1.0f / 6,  -1.0f / 6,
    -1.0f / 6,   1.0f / 6,  -1.0f / 6,
     1.0f / 24,  1.0f / 12,  1.0f / 6,
     1.0f / 24, -1.0f / 12,  1.0f / 6,
     0,          0,          1,
};
static const float AT43[24] = {
    1, 1,  1, 1,  1, 0,
    0, 1, -1, 2, -2, 0,
    0, 1,  1, 4,  4, 0,
    0, 1, -1, 8, -8, 1,
};
/* clang-format on */

/* memcpy of cnt floats, inlined as one vector move in the common full-group case. */
XF_INLINE void copy_n(float *dst, const float *src, int cnt)
{
    if (cnt == GRP)
        memcpy(dst, src, GRP * sizeof(float));
    else
        memcpy(dst, src, (size_t)cnt * sizeof(float));
}

/* out[i][j][l] = sum_a L[i*n + a] * in[a][j][l], for i < rows, j < cols (a < n). */
XF_INLINE void left_mul(float out[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP], const float *L,
                        float in[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP], const int rows, const int n,
                        const int cols)
{
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 1
        for (int j = 0; j < cols; j++) {
            float acc[GRP] = {0};
#pragma GCC unroll 6
            for (int a = 0; a < n; a++) {
                const float c = L[i * n + a];
                if (c == 0.0f) continue;
                for (int l = 0; l < GRP; l++)
                    acc[l] += c * in[a][j][l];
            }
            memcpy(out[i][j], acc, sizeof acc);
        }
}

/* out[i][j][l] = sum_a in[i][a][l] * R[j*n + a], i.e. in * R^T, for i < rows, j < cols. */
XF_INLINE void right_mul_t(float out[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP],
                           float in[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP], const float *R,
                           const int rows, const int n, const int cols)
{
#pragma GCC unroll 1
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 6
        for (int j = 0; j < cols; j++) {
            float acc[GRP] = {0};
#pragma GCC unroll 6
            for (int a = 0; a < n; a++) {
                const float c = R[j * n + a];
                if (c == 0.0f) continue;
                for (int l = 0; l < GRP; l++)
                    acc[l] += in[i][a][l] * c;
            }
            memcpy(out[i][j], acc, sizeof acc);
        }
}

/* U = G g G^T for cnt filters. */
XF_INLINE void filter_impl(const float *g, int cnt, float *u, size_t plane, const int T,
                           const float *G)
{
    float gg[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP] = {{{0}}};
    float tmp[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP], uu[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP];
    for (int l = 0; l < cnt; l++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                gg[i][j][l] = g[l * 9 + i * 3 + j];
    left_mul(tmp, G, gg, T, 3, 3);    /* G g: T x 3 */
    right_mul_t(uu, tmp, G, T, 3, T); /* (G g) G^T: T x T */
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
            copy_n(u + (size_t)(i * T + j) * plane, uu[i][j], cnt);
}

/* V = B^T d B for channel c and tiles [t0, t0 + cnt). */
XF_INLINE void input_impl(const frk__wino_geom *gm, const float *src, int c, long t0, int cnt,
                          float *v, long col, const int T, const int M, const float *BT)
{
    const frk__conv *cv = &gm->cv;
    float d[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP];
    float tmp[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP], vv[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP];
    for (int l = 0; l < GRP; l++) {
        long tile = t0 + (l < cnt ? l : 0);
        int tx = (int)(tile % gm->tw), ty = (int)(tile / gm->tw % gm->th);
        int n = (int)(tile / ((long)gm->tw * gm->th));
        const float *plane = src + ((size_t)n * cv->c + c) * cv->h * cv->w;
        int y0 = ty * M - cv->ph, x0 = tx * M - cv->pw;
        bool inside = y0 >= 0 && x0 >= 0 && y0 + T <= cv->h && x0 + T <= cv->w;
        for (int i = 0; i < T; i++) {
            int y = y0 + i;
            for (int j = 0; j < T; j++) {
                int x = x0 + j;
                bool in = inside || (y >= 0 && y < cv->h && x >= 0 && x < cv->w);
                d[i][j][l] = in ? plane[(size_t)y * cv->w + x] : 0.0f;
            }
        }
    }
    left_mul(tmp, BT, d, T, T, T);     /* B^T d */
    right_mul_t(vv, tmp, BT, T, T, T); /* (B^T d) B */
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
            copy_n(v + ((size_t)(i * T + j) * cv->c + c) * gm->chunk + col, vv[i][j], cnt);
}

/* Y = A^T m A for channel k and tiles [t0, t0 + cnt), written where inside the output. */
XF_INLINE void output_impl(const frk__wino_geom *gm, const float *mm, int k, long t0, int cnt,
                           long col, float *dst, const int T, const int M, const float *AT)
{
    const frk__conv *cv = &gm->cv;
    float in[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP] = {{{0}}};
    float tmp[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP], y[FRK__WINO_TMAX][FRK__WINO_TMAX][GRP];
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
            copy_n(in[i][j], mm + ((size_t)(i * T + j) * cv->k + k) * gm->chunk + col, cnt);
    left_mul(tmp, AT, in, M, T, T);   /* A^T m: M x T */
    right_mul_t(y, tmp, AT, M, T, M); /* (A^T m) A: M x M */
    for (int l = 0; l < cnt; l++) {
        long tile = t0 + l;
        int tx = (int)(tile % gm->tw), ty = (int)(tile / gm->tw % gm->th);
        int n = (int)(tile / ((long)gm->tw * gm->th));
        float *plane = dst + ((size_t)n * cv->k + k) * cv->p * cv->q;
        for (int i = 0; i < M && ty * M + i < cv->p; i++)
            for (int j = 0; j < M && tx * M + j < cv->q; j++)
                plane[(size_t)(ty * M + i) * cv->q + tx * M + j] = y[i][j][l];
    }
}

static void filter23(const float *g, int cnt, float *u, size_t plane)
{
    filter_impl(g, cnt, u, plane, 4, G23);
}
static void filter43(const float *g, int cnt, float *u, size_t plane)
{
    filter_impl(g, cnt, u, plane, 6, G43);
}
static void input23(const frk__wino_geom *gm, const float *src, int c, long t0, int cnt, float *v,
                    long col)
{
    input_impl(gm, src, c, t0, cnt, v, col, 4, 2, BT23);
}
static void input43(const frk__wino_geom *gm, const float *src, int c, long t0, int cnt, float *v,
                    long col)
{
    input_impl(gm, src, c, t0, cnt, v, col, 6, 4, BT43);
}
static void output23(const frk__wino_geom *gm, const float *mm, int k, long t0, int cnt, long col,
                     float *dst)
{
    output_impl(gm, mm, k, t0, cnt, col, dst, 4, 2, AT23);
}
static void output43(const frk__wino_geom *gm, const float *mm, int k, long t0, int cnt, long col,
                     float *dst)
{
    output_impl(gm, mm, k, t0, cnt, col, dst, 6, 4, AT43);
}

const frk__wino_xf FRK__WINO_XF_TABLE[2] = {
    [FRK__WINO_F23] = {filter23, input23, output23},
    [FRK__WINO_F43] = {filter43, input43, output43},
};
