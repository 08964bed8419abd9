/*
 * conv2d_blocked.h - internal to conv2d.direct_blocked (conv2d_blocked*.c): the plan of one run
 * (layouts, register and cache blocking) and the tile interface between the generic driver and
 * the AVX-512 micro-kernels.
 *
 * Layouts, all in floats, 16 channels per vector ("CB" = 16):
 *   packed input  [n][g][cb][ih][phase][col][cbw]  ih: padded rows (0..h+2ph), phase f of a padded
 *                 row holds padded columns f, f+sw, ... (col = padded column / sw), so output
 *                 columns q0, q0+1, ... under one kernel column read consecutive cbw-float
 *                 vectors at any stride; padding is stored as zeros, so no bounds tests.
 *                 cbw = 16 floats per column, 4 when a group has at most 4 input channels.
 *   weights       [g][kb][cb][i][j][cw][k16]  kb: blocks of 16 output channels of the group,
 *                 zero past kg; cw: the channels of block cb (16, fewer in the group's last
 *                 block, so a 3-channel stem reads no padding); what preprocess() stores (wp=1).
 * A tile is nk blocks of 16 output channels x nq consecutive output columns of one row, summed
 * in zmm registers over (cb, i, j, c) in that order; a reduction split into chunks of cb keeps
 * its partial sums in a per-thread buffer between chunks, in the same order, so the result
 * does not depend on the blocking, the thread count or scheduling.
 */
#ifndef FRK_CONV2D_BLOCKED_H
#define FRK_CONV2D_BLOCKED_H

#include "conv2d_util.h"

#define FRK__BLK_CB 16 /* channels per vector */
#define FRK__BLK_NK_MAX 3
#define FRK__BLK_NQ_MAX 14

typedef struct {
    frk__conv cv;
    int cbn, kbn;      /* input / output channel blocks per group */
    int nk, nq;        /* tile: channel blocks x output columns */
    int qtiles;        /* ceil(q / nq) */
    int kgroups;       /* ceil(kbn / nk) */
    int cbc, nchunks;  /* channel blocks per reduction chunk, chunks */
    int rb, rblocks;   /* output rows per task, row blocks per (n, g, kgroup) */
    bool rows_outer;   /* task order (n, g, row block, kgroup), else (n, g, kgroup, row block) */
    int lenq;          /* packed columns per phase row */
    int cbw;           /* floats per packed column: 16, or 4 when cg <= 4 */
    size_t xrow, xcb;  /* floats per packed padded row, per (n, g, cb) */
    size_t wcb, wkb;   /* weight floats per (kb, full cb), per kb */
    size_t tbuf;       /* floats of one thread's partial-sum buffer (0 when nchunks == 1) */
    size_t xbytes, wbytes, bbytes; /* workspace parts, each a multiple of 64 */
} frk__blk;

/* One tile's operands, set by the driver (conv2d_blocked.c). */
typedef struct {
    const float *x; /* packed input at (n, g, first cb of the chunk, row oh*sh, phase 0, col q0) */
    const float *w; /* weights at (g, first kb of the tile, first cb of the chunk) */
    int cb0, ncb;   /* chunk: first channel block and how many */
    float *buf;     /* partial sums [nk][nq][16] of this tile (chunked reductions) */
    bool first;     /* start from zero (else from buf) */
    bool last;      /* write dst (else buf) */
    float *dst;     /* output at (n, first channel of the tile, oh, q0), NCHW */
    int kvalid;     /* output channels of the tile that exist (<= nk*16) */
} frk__blk_tile;

/* Fills b for op under ctx (thread count changes the row blocking and the buffers). */
void frk__blk_plan(const fr_op *op, const frk_ctx *ctx, frk__blk *b);

/* Computes one tile of nk (1..FRK__BLK_NK_MAX) channel blocks x nq (1..FRK__BLK_NQ_MAX)
 * columns. AVX-512 only: call only when ctx->isa >= FRK_ISA_AVX512. */
void frk__blk_tile_avx512(const frk__blk *b, const frk__blk_tile *t, int nk, int nq);

/* Packs one input row: in points at (channel cb*16, row hin, column 0) of an NCHW image whose
 * planes are plane floats apart, cvalid channels of it exist (the other lanes get zeros); out is
 * the packed padded row (conv2d_blocked.h layout), padding columns included. AVX-512 only. */
void frk__blk_pack_row_avx512(const frk__blk *b, const float *in, size_t plane, int cvalid,
                              float *out);

/* Blocks the weights of output channel block kb of group g (KCRS wei) into out, the b->wkb
 * floats of that block in the conv2d_blocked.h layout, zeros past kg. AVX-512 only. */
void frk__blk_wpack_avx512(const frk__blk *b, const float *wei, int g, int kb, float *out);

#endif
