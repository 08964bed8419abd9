/*
 * conv2d_winograd.c - the Winograd F(m x m, 3 x 3) engine (see conv2d_winograd.h) shared by
 * conv2d.winograd_f23 and conv2d.winograd_f43.
 *
 * A run: (1) the filter transform U = G g G^T into the workspace, unless pwei already holds it;
 * then, for each chunk of tiles (chunks bound the workspace and keep V and M near the caches):
 * (2) the input transform V = B^T d B for every channel and tile, (3) t*t GEMMs
 * M_e = U_e * V_e, (4) the output transform Y = A^T M A, writing only pixels inside the output.
 * The transforms come from the table for ctx->isa (conv2d_winograd_xf*.c).
 *
 * Reproducible and independent of the thread count: every parallel loop gives each output value
 * to one thread, and the GEMMs are distributed whole (one e per iteration) and run inside the
 * parallel region, where OpenBLAS's OpenMP build computes them single-threaded in a fixed order.
 */
#include <cblas.h>

#include "conv2d_winograd.h"

#define GROUP FRK__WINO_GROUP
/* Target bytes of one chunk's V + M: small enough to stay in the outer cache levels. */
#define CHUNK_BYTES (4u << 20)

static void geometry(const frk__wino *wd, const fr_op *op, frk__wino_geom *gm)
{
    frk__conv_dims(op, &gm->cv);
    gm->m = wd->m;
    gm->t = wd->t;
    gm->th = (gm->cv.p + wd->m - 1) / wd->m;
    gm->tw = (gm->cv.q + wd->m - 1) / wd->m;
    gm->tiles = (long)gm->cv.n * gm->th * gm->tw;
    double per_tile = 4.0 * wd->t * wd->t * ((double)gm->cv.c + gm->cv.k);
    long chunk = (long)(CHUNK_BYTES / per_tile);
    chunk = chunk < GROUP ? GROUP : chunk / GROUP * GROUP;
    gm->chunk = chunk < gm->tiles ? chunk : gm->tiles;
}

static const frk__wino_xf *transforms(const frk__wino *wd, frk_isa isa)
{
    const frk__wino_xf *table = isa >= FRK_ISA_AVX512 ? frk__wino_xf_avx512
                                : isa >= FRK_ISA_AVX2 ? frk__wino_xf_avx2
                                                      : frk__wino_xf_base;
    return &table[wd->variant];
}

bool frk__wino_applicable(const frk__wino *wd, const fr_op *op)
{
    if (op->kind != FR_OP_CONV2D) return false;
    const fr_conv2d *c = &op->conv;
    if (c->r != 3 || c->s != 3 || c->stride[0] != 1 || c->stride[1] != 1) return false;
    if (c->dilation[0] != 1 || c->dilation[1] != 1 || c->groups != 1) return false;
    frk__wino_geom gm;
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
    frk__wino_geom gm;
    geometry(wd, op, &gm);
    size_t t2 = (size_t)wd->t * wd->t;
    return frk__wino_psize(wd, op) + frk__round64(4 * t2 * gm.chunk * gm.cv.c) +
           frk__round64(4 * t2 * gm.chunk * gm.cv.k);
}

void frk__wino_preprocess(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx,
                          const float *wei, void *pwei)
{
    const frk__wino_xf *xf = transforms(wd, ctx->isa);
    long pairs = (long)op->conv.k * op->conv.c; /* filter (k, c) is wei + (k*c_total + c) * 9 */
    long groups = (pairs + GROUP - 1) / GROUP;
    float *u = pwei;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (long gi = 0; gi < groups; gi++) {
        long first = gi * GROUP;
        int cnt = (int)(pairs - first < GROUP ? pairs - first : GROUP);
        xf->filter(wei + (size_t)first * 9, cnt, u + first, (size_t)pairs);
    }
}

void frk__wino_run(const frk__wino *wd, const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__wino_geom gm;
    geometry(wd, op, &gm);
    const frk__wino_xf *xf = transforms(wd, ctx->isa);
    frk__blas_threads(ctx); /* so a 1-thread run's GEMMs are single-threaded too */
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
#pragma omp for schedule(static)
            for (long it = 0; it < groups * c; it++) {
                long gi = it % groups;
                int n = (int)(cnt - gi * GROUP < GROUP ? cnt - gi * GROUP : GROUP);
                xf->input(&gm, x->src, (int)(it / groups), t0 + gi * GROUP, n, v, gi * GROUP);
            }
#pragma omp for schedule(dynamic)
            for (int e = 0; e < t2; e++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, (int)cnt, c, 1.0f,
                            u + (size_t)e * k * c, c, v + (size_t)e * c * gm.chunk, (int)gm.chunk,
                            0.0f, mm + (size_t)e * k * gm.chunk, (int)gm.chunk);
#pragma omp for schedule(static)
            for (long it = 0; it < groups * k; it++) {
                long gi = it % groups;
                int n = (int)(cnt - gi * GROUP < GROUP ? cnt - gi * GROUP : GROUP);
                xf->output(&gm, mm, (int)(it / groups), t0 + gi * GROUP, n, gi * GROUP, x->dst);
            }
        }
    }
}
