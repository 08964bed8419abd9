/*
 * conv2d_split_reduce.c - conv2d.split_reduce: parallel over the reduction. Each group's input
 * channels are cut into chunks handed out dynamically; a thread lays out its chunk's patches
 * (im2col restricted to those channels) in its slice of the workspace and adds W[:, chunk] * col
 * into a private partial output with a single-threaded sgemm; at the end every thread adds its
 * partial into the output inside a critical section.
 *
 * Why it exists: the other algorithms parallelise over outputs (images, channels, rows, pixels, or
 * the GEMM's M and N), which leaves threads idle when n*k*p*q is small but the reduction c*r*s is
 * long: a convolution on a 1x1 or 2x2 map with thousands of input channels, or a classifier
 * written as a conv. Splitting the reduction keeps every thread busy there.
 *
 * NOT reproducible, honestly: which chunks a thread gets and the order in which threads enter the
 * critical section depend on scheduling, so the partial sums are added in a different order from
 * run to run and the low bits of the output vary when nthreads > 1. (At one thread the order is
 * fixed, but the attribute describes the algorithm, not one setting.)
 */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "algos.h"
#include "conv2d_util.h"

typedef struct {
    frk__conv cv;
    int chunks;    /* chunks per group */
    int chunk_c;   /* input channels per chunk (the last may have fewer) */
    size_t part_b; /* bytes of one private partial output */
    size_t col_b;  /* bytes of one thread's patch matrix */
} plan;

static void make_plan(const fr_op *op, const frk_ctx *ctx, plan *pl)
{
    frk__conv_dims(op, &pl->cv);
    const frk__conv *cv = &pl->cv;
    /* About four chunks per thread over all groups, so dynamic scheduling can balance them. */
    int want = (4 * ctx->nthreads + cv->g - 1) / cv->g;
    pl->chunks = want < cv->cg ? want : cv->cg;
    pl->chunk_c = (cv->cg + pl->chunks - 1) / pl->chunks;
    pl->chunks = (cv->cg + pl->chunk_c - 1) / pl->chunk_c;
    pl->part_b = frk__round64((size_t)fr_op_sizes_of(op).dst * sizeof(float));
    pl->col_b = frk__round64((size_t)pl->chunk_c * cv->r * cv->s * cv->p * cv->q * sizeof(float));
}

static bool split_applicable(const fr_op *op, const frk_ctx *ctx)
{
    if (op->kind != FR_OP_CONV2D) return false;
    frk__conv cv;
    frk__conv_dims(op, &cv);
    /* Bound before make_plan's size_t products could overflow. */
    double part = 4.0 * cv.n * (double)cv.k * cv.p * cv.q;
    double col = 4.0 * cv.cg * (double)cv.r * cv.s * cv.p * cv.q;
    return (part + col + 128.0) * ctx->nthreads <= FRK__WS_MAX;
}

static size_t split_workspace(const fr_op *op, const frk_ctx *ctx)
{
    plan pl;
    make_plan(op, ctx, &pl);
    return (size_t)ctx->nthreads * (pl.part_b + pl.col_b);
}

/* col[(cc*r + i)*s + j][oh*q + ow] for channels c0 .. c0+nc-1 of one image (zero outside). */
static void patches(const frk__conv *cv, const float *img, int c0, int nc, float *col)
{
    size_t pq = (size_t)cv->p * cv->q;
    for (int cc = 0; cc < nc; cc++) {
        const float *plane = img + (size_t)(c0 + cc) * cv->h * cv->w;
        for (int i = 0; i < cv->r; i++) {
            for (int j = 0; j < cv->s; j++) {
                float *o = col + ((size_t)(cc * cv->r + i) * cv->s + j) * pq;
                for (int oh = 0; oh < cv->p; oh++) {
                    int ih = oh * cv->sh - cv->ph + i * cv->dh;
                    for (int ow = 0; ow < cv->q; ow++) {
                        int iw = ow * cv->sw - cv->pw + j * cv->dw;
                        bool in = ih >= 0 && ih < cv->h && iw >= 0 && iw < cv->w;
                        o[(size_t)oh * cv->q + ow] = in ? plane[(size_t)ih * cv->w + iw] : 0.0f;
                    }
                }
            }
        }
    }
}

static void split_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    plan pl;
    make_plan(op, ctx, &pl);
    frk__blas_threads(ctx); /* so a 1-thread run's GEMMs are single-threaded too */
    const frk__conv *cv = &pl.cv;
    int64_t total = fr_op_sizes_of(op).dst;
    int red = cv->cg * cv->r * cv->s, rs = cv->r * cv->s, pq = cv->p * cv->q;
    int items = cv->g * pl.chunks;
    memset(x->dst, 0, (size_t)total * sizeof(float));
#pragma omp parallel num_threads(ctx->nthreads)
    {
        char *mine = (char *)x->ws + (pl.part_b + pl.col_b) * (size_t)omp_get_thread_num();
        float *part = (float *)mine, *col = (float *)(mine + pl.part_b);
        memset(part, 0, (size_t)total * sizeof(float));
#pragma omp for schedule(dynamic) nowait
        for (int it = 0; it < items; it++) {
            int g = it / pl.chunks, c0 = (it % pl.chunks) * pl.chunk_c;
            int nc = cv->cg - c0 < pl.chunk_c ? cv->cg - c0 : pl.chunk_c;
            for (int n = 0; n < cv->n; n++) {
                const float *img =
                    x->src + ((size_t)n * cv->c + (size_t)g * cv->cg) * cv->h * cv->w;
                patches(cv, img, c0, nc, col);
                /* Inside a parallel region OpenBLAS's OpenMP build runs single-threaded. */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cv->kg, pq, nc * rs, 1.0f,
                            x->wei + (size_t)g * cv->kg * red + (size_t)c0 * rs, red, col, pq, 1.0f,
                            part + ((size_t)n * cv->k + (size_t)g * cv->kg) * pq, pq);
            }
        }
#pragma omp critical(frk_split_reduce)
        for (int64_t i = 0; i < total; i++)
            x->dst[i] += part[i];
    }
}

const frk_algo frk_conv2d_split_reduce = {
    .name = "conv2d.split_reduce",
    .kind = FR_OP_CONV2D,
    .attrs = FR_ATTR_USES_BLAS,
    .doc = "parallel over input-channel chunks, partial sums added in completion order; "
           "for small outputs with long reductions; not reproducible",
    .applicable = split_applicable,
    .workspace = split_workspace,
    .run = split_run,
};
