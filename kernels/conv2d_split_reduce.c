/*
 * conv2d_split_reduce.c - conv2d.split_reduce: parallel over the reduction. The input channels
 * are cut into chunks handed out dynamically; each thread sums its chunks into a private partial
 * output in the workspace, then adds that partial into the output inside a critical section.
 *
 * Why it exists: the other algorithms parallelise over outputs (images, channels, rows, pixels),
 * which leaves threads idle when n*k*p*q is small but the reduction c*r*s is long (a convolution
 * on a 1x1 or 2x2 map with thousands of input channels, a classifier written as a conv). Splitting
 * the reduction keeps every thread busy there.
 *
 * NOT reproducible, honestly: which chunks a thread gets and the order in which threads enter the
 * critical section depend on scheduling, so floating-point additions happen in a different order
 * from run to run and the low bits of the output vary when nthreads > 1. (At one thread the order
 * is fixed, but the attribute describes the algorithm, not one setting.)
 */
#include <omp.h>
#include <string.h>

#include "algos.h"
#include "conv2d_util.h"

static double partial_bytes(const fr_op *op, const frk_ctx *ctx)
{
    fr_op_sizes sz = fr_op_sizes_of(op);
    return 4.0 * (double)sz.dst * ctx->nthreads;
}

static bool split_applicable(const fr_op *op, const frk_ctx *ctx)
{
    return op->kind == FR_OP_CONV2D && partial_bytes(op, ctx) + 64.0 * ctx->nthreads <= FRK__WS_MAX;
}

static size_t split_workspace(const fr_op *op, const frk_ctx *ctx)
{
    fr_op_sizes sz = fr_op_sizes_of(op);
    return (size_t)ctx->nthreads * frk__round64((size_t)sz.dst * sizeof(float));
}

/* part += the contribution of input channel c to every output of every image. */
static void add_channel(const frk__conv *cv, const float *src, const float *wei, int c, float *part)
{
    int g = c / cv->cg, cc = c % cv->cg;
    size_t pq = (size_t)cv->p * cv->q;
    for (int n = 0; n < cv->n; n++) {
        const float *plane = src + ((size_t)n * cv->c + c) * cv->h * cv->w;
        for (int kk = 0; kk < cv->kg; kk++) {
            int k = g * cv->kg + kk;
            float *out = part + ((size_t)n * cv->k + k) * pq;
            const float *w = wei + ((size_t)k * cv->cg + cc) * cv->r * cv->s;
            for (int i = 0; i < cv->r; i++) {
                for (int j = 0; j < cv->s; j++) {
                    float wv = w[i * cv->s + j];
                    /* Output columns whose input column ow*sw - pw + j*dw lies inside [0, w). */
                    int shift = cv->pw - j * cv->dw;
                    int lo = shift > 0 ? (shift + cv->sw - 1) / cv->sw : 0;
                    int hi_num = cv->w - 1 + shift;
                    int hi = hi_num < 0 ? -1 : hi_num / cv->sw;
                    if (hi > cv->q - 1) hi = cv->q - 1;
                    for (int oh = 0; oh < cv->p; oh++) {
                        int ih = oh * cv->sh - cv->ph + i * cv->dh;
                        if (ih < 0 || ih >= cv->h) continue;
                        const float *in = plane + (size_t)ih * cv->w;
                        float *o = out + (size_t)oh * cv->q;
                        for (int ow = lo; ow <= hi; ow++) o[ow] += wv * in[ow * cv->sw - shift];
                    }
                }
            }
        }
    }
}

static void split_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk__conv cv;
    frk__conv_dims(op, &cv);
    fr_op_sizes sz = fr_op_sizes_of(op);
    size_t slice = frk__round64((size_t)sz.dst * sizeof(float));
    /* About four chunks per thread, so dynamic scheduling can balance them. */
    int chunks = ctx->nthreads * 4 < cv.c ? ctx->nthreads * 4 : cv.c;
    memset(x->dst, 0, (size_t)sz.dst * sizeof(float));
#pragma omp parallel num_threads(ctx->nthreads)
    {
        float *part = (float *)((char *)x->ws + slice * (size_t)omp_get_thread_num());
        memset(part, 0, (size_t)sz.dst * sizeof(float));
#pragma omp for schedule(dynamic) nowait
        for (int ch = 0; ch < chunks; ch++) {
            int c0 = (int)((long)cv.c * ch / chunks), c1 = (int)((long)cv.c * (ch + 1) / chunks);
            for (int c = c0; c < c1; c++) add_channel(&cv, x->src, x->wei, c, part);
        }
#pragma omp critical(frk_split_reduce)
        for (int64_t i = 0; i < sz.dst; i++) x->dst[i] += part[i];
    }
}

const frk_algo frk_conv2d_split_reduce = {
    .name = "conv2d.split_reduce",
    .kind = FR_OP_CONV2D,
    .attrs = 0,
    .doc = "parallel over input-channel chunks, partial sums added in completion order; "
           "for small outputs with long reductions; not reproducible",
    .applicable = split_applicable,
    .workspace = split_workspace,
    .run = split_run,
};
