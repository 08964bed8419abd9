/*
 * conv2d_winograd.c - the generic Winograd F(m x m, 3 x 3) engine (see conv2d_winograd.h) shared
 * by conv2d.winograd_f23 and conv2d.winograd_f43.
 *
 * A run: (1) the filter transform U = G g G^T into the workspace, unless pwei already holds it;
 * then, for each chunk of tiles (chunks bound the workspace and keep V and M near the caches):
 * (2) the input transform V = B^T d B for every channel and tile, (3) t*t GEMMs
 * M_e = U_e * V_e, (4) the output transform Y = A^T M A, writing only pixels inside the output.
 * Transforms work on groups of GROUP consecutive tiles so the innermost loops run over tiles
 * (vectorisable, contiguous in V and M).
 *
 * Reproducible and independent of the thread count: every parallel loop gives each output value
 * to one thread, and the GEMMs are distributed whole (one e per iteration) and run inside the
 * parallel region, where OpenBLAS's OpenMP build computes them single-threaded in a fixed order.
 */
#include <cblas.h>
#include <string.h>

#include "conv2d_util.h"
#include "conv2d_winograd.h"

#define GROUP 16
/* Target bytes of one chunk's V + M: small enough to stay in the outer cache levels. */
#define CHUNK_BYTES (4u << 20)

typedef struct {
    frk__conv cv;
    int th, tw;  /* tiles per image, vertically and horizontally */
    long tiles;  /* n * th * tw */
    long chunk;  /* tiles per chunk, a multiple of GROUP unless it is all tiles */
} geom;

static void geometry(const frk__wino *wd, const fr_op *op, geom *gm)
{
    frk__conv_dims(op, &gm->cv);
    gm->th = (gm->cv.p + wd->m - 1) / wd->m;
    gm->tw = (gm->cv.q + wd->m - 1) / wd->m;
    gm->tiles = (long)gm->cv.n * gm->th * gm->tw;
    double per_tile = 4.0 * wd->t * wd->t * ((double)gm->cv.c + gm->cv.k);
    long chunk = (long)(CHUNK_BYTES / per_tile);
    chunk = chunk < GROUP ? GROUP : chunk / GROUP * GROUP;
    gm->chunk = chunk < gm->tiles ? chunk : gm->tiles;
}

bool frk__wino_applicable(const frk__wino *wd, const fr_op *op)
{
    if (op->kind != FR_OP_CONV2D) return false;
    const fr_conv2d *c = &op->conv;
    if (c->r != 3 || c->s != 3 || c->stride[0] != 1 || c->stride[1] != 1) return false;
    if (c->dilation[0] != 1 || c->dilation[1] != 1 || c->groups != 1) return false;
    geom gm;
    geometry(wd, op, &gm);
    double t2 = (double)wd->t * wd->t;
    double bytes = 4.0 * t2 * ((double)gm.cv.k * gm.cv.c + (double)gm.chunk * (gm.cv.c + gm.cv.k));
    return bytes + 256 <= FRK__WS_MAX;
}

size_t frk__wino_psize(const frk__wino *wd, const fr_op *op)
{
    return frk__round64((size_t)4 * wd->t * wd->t * op->conv.k * op->conv.c);
}

size_t frk__wino_workspace(const frk__wino *wd, const fr_op *op)
{
    geom gm;
    geometry(wd, op, &gm);
    size_t t2 = (size_t)wd->t * wd->t;
    return frk__wino_psize(wd, op) + frk__round64(4 * t2 * gm.chunk * gm.cv.c) +
           frk__round64(4 * t2 * gm.chunk * gm.cv.k);
}

void frk__wino_preprocess(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx,
                          const float *wei, void *pwei)
{
    int t = wd->t, kk = op->conv.k, cc = op->conv.c;
    size_t plane = (size_t)kk * cc;
    float *u = pwei;
    long pairs = (long)kk * cc;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (long kc = 0; kc < pairs; kc++) {
        const float *g = wei + (size_t)kc * 9;
        float tmp[FRK__WINO_TMAX][3]; /* G g */
        for (int i = 0; i < t; i++)
            for (int j = 0; j < 3; j++)
                tmp[i][j] = wd->g[i * 3] * g[j] + wd->g[i * 3 + 1] * g[3 + j] +
                            wd->g[i * 3 + 2] * g[6 + j];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++) /* (G g) G^T */
                u[(size_t)(i * t + j) * plane + kc] = tmp[i][0] * wd->g[j * 3] +
                                                      tmp[i][1] * wd->g[j * 3 + 1] +
                                                      tmp[i][2] * wd->g[j * 3 + 2];
    }
}

/* Input transform of channel c for tiles [t0, t0 + cnt) (cnt <= GROUP) into v (chunk layout
 * [e][c][chunk], column base = t0 - chunk start). */
static void input_group(const frk__wino *wd, const geom *gm, const float *src, int c, long t0,
                        int cnt, float *v, long col)
{
    const frk__conv *cv = &gm->cv;
    int t = wd->t;
    float d[FRK__WINO_TMAX][FRK__WINO_TMAX][GROUP];
    float tmp[FRK__WINO_TMAX][FRK__WINO_TMAX][GROUP];
    for (int l = 0; l < GROUP; l++) {
        long tile = t0 + (l < cnt ? l : 0);
        int tx = (int)(tile % gm->tw), ty = (int)(tile / gm->tw % gm->th);
        int n = (int)(tile / ((long)gm->tw * gm->th));
        const float *plane = src + ((size_t)n * cv->c + c) * cv->h * cv->w;
        int y0 = ty * wd->m - cv->ph, x0 = tx * wd->m - cv->pw;
        for (int i = 0; i < t; i++) {
            int y = y0 + i;
            for (int j = 0; j < t; j++) {
                int xx = x0 + j;
                bool in = y >= 0 && y < cv->h && xx >= 0 && xx < cv->w;
                d[i][j][l] = in ? plane[(size_t)y * cv->w + xx] : 0.0f;
            }
        }
    }
    for (int i = 0; i < t; i++) /* B^T d */
        for (int j = 0; j < t; j++) {
            float acc[GROUP] = {0};
            for (int a = 0; a < t; a++) {
                float b = wd->bt[i * t + a];
                if (b == 0.0f) continue;
                for (int l = 0; l < GROUP; l++) acc[l] += b * d[a][j][l];
            }
            memcpy(tmp[i][j], acc, sizeof acc);
        }
    size_t cstride = (size_t)gm->chunk;
    for (int i = 0; i < t; i++) /* (B^T d) B */
        for (int j = 0; j < t; j++) {
            float acc[GROUP] = {0};
            for (int a = 0; a < t; a++) {
                float b = wd->bt[j * t + a];
                if (b == 0.0f) continue;
                for (int l = 0; l < GROUP; l++) acc[l] += tmp[i][a][l] * b;
            }
            float *dst = v + ((size_t)(i * t + j) * cv->c + c) * cstride + col;
            memcpy(dst, acc, (size_t)cnt * sizeof(float));
        }
}

/* Output transform of channel k for tiles [t0, t0 + cnt) from m (chunk layout [e][k][chunk]). */
static void output_group(const frk__wino *wd, const geom *gm, const float *mm, int k, long t0,
                         int cnt, long col, float *dst)
{
    const frk__conv *cv = &gm->cv;
    int t = wd->t, m = wd->m;
    float tmp[FRK__WINO_TMAX][FRK__WINO_TMAX][GROUP]; /* A^T M: m x t */
    float y[FRK__WINO_TMAX][FRK__WINO_TMAX][GROUP];
    size_t cstride = (size_t)gm->chunk;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < t; j++) {
            float acc[GROUP] = {0};
            for (int a = 0; a < t; a++) {
                float av = wd->at[i * t + a];
                if (av == 0.0f) continue;
                const float *src = mm + ((size_t)(a * t + j) * cv->k + k) * cstride + col;
                for (int l = 0; l < cnt; l++) acc[l] += av * src[l];
            }
            memcpy(tmp[i][j], acc, sizeof acc);
        }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            float acc[GROUP] = {0};
            for (int a = 0; a < t; a++) {
                float av = wd->at[j * t + a];
                if (av == 0.0f) continue;
                for (int l = 0; l < GROUP; l++) acc[l] += tmp[i][a][l] * av;
            }
            memcpy(y[i][j], acc, sizeof acc);
        }
    for (int l = 0; l < cnt; l++) {
        long tile = t0 + l;
        int tx = (int)(tile % gm->tw), ty = (int)(tile / gm->tw % gm->th);
        int n = (int)(tile / ((long)gm->tw * gm->th));
        float *plane = dst + ((size_t)n * cv->k + k) * cv->p * cv->q;
        for (int i = 0; i < m && ty * m + i < cv->p; i++)
            for (int j = 0; j < m && tx * m + j < cv->q; j++)
                plane[(size_t)(ty * m + i) * cv->q + tx * m + j] = y[i][j][l];
    }
}

void frk__wino_run(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    geom gm;
    geometry(wd, op, &gm);
    int t2 = wd->t * wd->t, c = gm.cv.c, k = gm.cv.k;
    char *ws = x->ws;
    const float *u = x->pwei;
    if (!u) {
        frk__wino_preprocess(wd, op, ctx, x->wei, ws);
        u = (const float *)ws;
    }
    ws += frk__wino_psize(wd, op);
    float *v = (float *)ws;
    float *mm = (float *)(ws + frk__round64((size_t)4 * t2 * gm.chunk * c));
    for (long t0 = 0; t0 < gm.tiles; t0 += gm.chunk) {
        long cnt = gm.tiles - t0 < gm.chunk ? gm.tiles - t0 : gm.chunk;
        long groups = (cnt + GROUP - 1) / GROUP;
#pragma omp parallel num_threads(ctx->nthreads)
        {
#pragma omp for schedule(static) nowait
            for (long it = 0; it < groups * c; it++) {
                long gi = it % groups;
                int cnt_g = (int)(cnt - gi * GROUP < GROUP ? cnt - gi * GROUP : GROUP);
                input_group(wd, &gm, x->src, (int)(it / groups), t0 + gi * GROUP, cnt_g, v,
                            gi * GROUP);
            }
#pragma omp barrier
#pragma omp for schedule(dynamic)
            for (int e = 0; e < t2; e++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, (int)cnt, c, 1.0f,
                            u + (size_t)e * k * c, c, v + (size_t)e * c * gm.chunk,
                            (int)gm.chunk, 0.0f, mm + (size_t)e * k * gm.chunk, (int)gm.chunk);
#pragma omp for schedule(static)
            for (long it = 0; it < groups * k; it++) {
                long gi = it % groups;
                int cnt_g = (int)(cnt - gi * GROUP < GROUP ? cnt - gi * GROUP : GROUP);
                output_group(wd, &gm, mm, (int)(it / groups), t0 + gi * GROUP, cnt_g, gi * GROUP,
                             x->dst);
            }
        }
    }
}
