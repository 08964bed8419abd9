/*
 * conv2d_util.c - helpers shared by the conv2d algorithms (see conv2d_util.h): dimensions,
 * the phase-split packed input, and the BLAS thread-count sync.
 */
#include "conv2d_util.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

void frk__conv_dims(const fr_op *op, frk__conv *cv)
{
    const fr_conv2d *c = &op->conv;
    cv->n = c->n;
    cv->c = c->c;
    cv->h = c->h;
    cv->w = c->w;
    cv->k = c->k;
    cv->r = c->r;
    cv->s = c->s;
    cv->sh = c->stride[0];
    cv->sw = c->stride[1];
    cv->ph = c->pad[0];
    cv->pw = c->pad[1];
    cv->dh = c->dilation[0];
    cv->dw = c->dilation[1];
    cv->g = c->groups;
    cv->cg = c->c / c->groups;
    cv->kg = c->k / c->groups;
    fr_conv2d_out(c, &cv->p, &cv->q);
}

void frk__xpack_geom(const frk__conv *cv, frk__xpack *xp)
{
    xp->hp = cv->h + 2 * cv->ph;
    xp->phases = cv->sw;
    /* Read positions: oq + (s*dw)/sw with oq < q + FRK__QB_MAX - 1 (block slack). Every padded
     * column a valid output reads lies below that too, so nothing real is cut off. */
    int need = cv->q + FRK__QB_MAX + ((cv->s - 1) * cv->dw) / cv->sw;
    xp->len = (need + 15) & ~15;
    xp->used = cv->q + ((cv->s - 1) * cv->dw) / cv->sw;
    xp->plane = (size_t)xp->hp * xp->phases * xp->len;
}

double frk__xpack_bytes(const frk__conv *cv)
{
    double need = cv->q + FRK__QB_MAX + ((double)(cv->s - 1) * cv->dw) / cv->sw + 16;
    return 4.0 * cv->n * (double)cv->c * (cv->h + 2.0 * cv->ph) * cv->sw * need;
}

void frk__xpack_plane(const frk__conv *cv, const frk__xpack *xp, const float *in, float *out)
{
    size_t prow_len = (size_t)xp->phases * xp->len; /* floats per padded row */
    /* Zero only what no input value lands on: the padding rows whole, then per phase row the
     * used columns left and right of the copied values (the slack stays as it is). */
    memset(out, 0, (size_t)cv->ph * prow_len * sizeof(float));
    memset(out + (size_t)(cv->ph + cv->h) * prow_len, 0,
           (size_t)(xp->hp - cv->ph - cv->h) * prow_len * sizeof(float));
    for (int ih = 0; ih < cv->h; ih++) {
        const float *row = in + (size_t)ih * cv->w;
        float *prow = out + (size_t)(ih + cv->ph) * prow_len;
        for (int f = 0; f < cv->sw; f++) { /* phase f holds padded columns f, f+sw, ... */
            float *dst = prow + (size_t)f * xp->len;
            int iw = f - cv->pw; /* input column of padded column f */
            int j = 0;
            if (iw < 0) { /* left padding: first j with j*sw + iw >= 0 */
                j = (-iw + cv->sw - 1) / cv->sw;
                if (j > xp->len) j = xp->len;
                memset(dst, 0, (size_t)j * sizeof(float));
                iw += j * cv->sw;
            }
            if (cv->sw == 1) {
                int ncopy = cv->w - iw < xp->len - j ? cv->w - iw : xp->len - j;
                if (ncopy > 0) {
                    memcpy(dst + j, row + iw, (size_t)ncopy * sizeof(float));
                    j += ncopy;
                }
            } else {
                for (; j < xp->len && iw < cv->w; j++, iw += cv->sw)
                    dst[j] = row[iw];
            }
            if (j < xp->used) memset(dst + j, 0, (size_t)(xp->used - j) * sizeof(float));
        }
    }
}

void frk__xpack_fill(const frk__conv *cv, const frk__xpack *xp, const float *src, float *dst,
                     int nthreads)
{
    long planes = (long)cv->n * cv->c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (long pl = 0; pl < planes; pl++)
        frk__xpack_plane(cv, xp, src + (size_t)pl * cv->h * cv->w, dst + (size_t)pl * xp->plane);
}

void frk__blas_threads(const frk_ctx *ctx)
{
    if (omp_get_max_threads() != ctx->nthreads || openblas_get_num_threads() != ctx->nthreads)
        frk_set_threads(ctx->nthreads);
}
