/*
 * matmul_gemm.c - the GEMM core of matmul_gemm.h: packing of A blocks and B panels and the
 * single-threaded blocked loop nest around a micro-kernel (the BLIS loop order: columns of B by
 * NC, k by KC, rows of A by MC, then NR-wide panels and MR-high micro-panels). Callers
 * parallelise by giving each thread its own sub-product of C, never a share of k.
 *
 * Small products skip packing: when all rows of A fit one block (m <= MC), every element of A
 * and of B is used by that block only, so copying them would only add memory traffic. Then
 * whole micro-panels of A and whole panels of B are read in place, and only a partial last
 * micro-panel or panel is packed (zero-padded). Measured on one Zen 5 core: 64x1536x512 at 205
 * instead of 175 GFLOP/s. With several blocks of A, packed panels of B are re-read from cache,
 * which beats re-reading strided rows of B from memory.
 */
#include "matmul_gemm.h"

#include <string.h>

#define ROUND_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

const frk__ukernel *frk__gemm_ukernel(frk_isa isa)
{
    switch (isa) {
    case FRK_ISA_AVX512:
        return &frk__ukernel_avx512;
    case FRK_ISA_AVX2:
        return &frk__ukernel_avx2;
    default:
        return NULL;
    }
}

/* Rows of A per packed block: FRK__GEMM_MC rounded down to whole micro-panels. */
static int mc_block(const frk__ukernel *uk)
{
    return FRK__GEMM_MC / uk->mr * uk->mr;
}

static bool in_place(const frk__ukernel *uk, int m)
{
    return m <= mc_block(uk);
}

/* Floats of the A packing buffer: the partial micro-panel, or one block. */
static size_t a_pack_floats(const frk__ukernel *uk, int m, int k)
{
    const size_t rows = in_place(uk, m) ? (m % uk->mr ? (size_t)uk->mr : 0) : (size_t)mc_block(uk);
    return ROUND_UP(rows * (size_t)MIN(k, FRK__GEMM_KC), 16);
}

size_t frk__gemm_ws_bytes(const frk__ukernel *uk, int m, int n, int k, bool b_packed)
{
    size_t b_cols = 0;
    if (b_packed)
        b_cols = 0;
    else if (in_place(uk, m))
        b_cols = n % FRK__GEMM_NR ? FRK__GEMM_NR : 0; /* the partial panel */
    else
        b_cols = (size_t)ROUND_UP(MIN(n, FRK__GEMM_NC), FRK__GEMM_NR);
    return (a_pack_floats(uk, m, k) + b_cols * (size_t)MIN(k, FRK__GEMM_KC)) * sizeof(float);
}

size_t frk__gemm_panels_floats(int n, int k)
{
    return (size_t)ROUND_UP(n, FRK__GEMM_NR) * (size_t)k;
}

/* Packs k rows and n columns of b into panels pstride floats apart, zero-padding the last.
 * Row by row, so b is read sequentially; the full-width copies have a constant size and
 * compile to vector moves. */
static void pack_b(int n, int k, const float *b, ptrdiff_t ldb, float *bp, ptrdiff_t pstride)
{
    const int full = n / FRK__GEMM_NR * FRK__GEMM_NR;
    for (int p = 0; p < k; p++) {
        const float *src = b + (ptrdiff_t)p * ldb;
        float *dst = bp + (ptrdiff_t)p * FRK__GEMM_NR;
        for (int j = 0; j < full; j += FRK__GEMM_NR, dst += pstride)
            memcpy(dst, src + j, FRK__GEMM_NR * sizeof(float));
        if (full < n) {
            memcpy(dst, src + full, (size_t)(n - full) * sizeof(float));
            for (int q = n - full; q < FRK__GEMM_NR; q++)
                dst[q] = 0.0f;
        }
    }
}

void frk__gemm_pack_panels(int n, int k, const float *b, ptrdiff_t ldb, float *bp)
{
    pack_b(n, k, b, ldb, bp, (ptrdiff_t)k * FRK__GEMM_NR);
}

void frk__gemm_pack_a(int m, int k, const float *a, ptrdiff_t lda, int mr, float *ap)
{
    for (int i = 0; i < m; i += mr) {
        const int h = MIN(mr, m - i);
        const float *rows = a + (ptrdiff_t)i * lda;
        for (int p = 0; p < k; p++) {
            for (int r = 0; r < h; r++)
                ap[r] = rows[(ptrdiff_t)r * lda + p];
            for (int r = h; r < mr; r++)
                ap[r] = 0.0f;
            ap += mr;
        }
    }
}

/* One micro-panel of A: in place (rows lda apart) or packed. */
typedef struct {
    const float *a;
    ptrdiff_t lda; /* 0 when packed */
} apanel;

static void run_tile(const frk__ukernel *uk, int kc, apanel ap, const float *bp, ptrdiff_t ldb,
                     float *c, ptrdiff_t ldc, bool accumulate)
{
    if (ap.lda)
        uk->fn_rows(kc, ap.a, ap.lda, bp, ldb, c, ldc, accumulate);
    else
        uk->fn(kc, ap.a, bp, ldb, c, ldc, accumulate);
}

/* An edge tile (fewer than mr rows or nr columns left): the micro-kernel writes a full tile into
 * a local buffer, and only the valid part reaches C, added the same way the kernel adds. */
static void edge_tile(const frk__ukernel *uk, int kc, apanel ap, const float *bp, ptrdiff_t ldb,
                      float *c, ptrdiff_t ldc, int rows, int cols, bool accumulate)
{
    float tile[16 * FRK__GEMM_NR] __attribute__((aligned(64)));
    run_tile(uk, kc, ap, bp, ldb, tile, uk->nr, false);
    for (int r = 0; r < rows; r++) {
        float *crow = c + (ptrdiff_t)r * ldc;
        const float *trow = tile + r * uk->nr;
        if (accumulate)
            for (int q = 0; q < cols; q++)
                crow[q] += trow[q];
        else
            memcpy(crow, trow, (size_t)cols * sizeof(float));
    }
}

void frk__gemm_serial(const frk__ukernel *uk, const frk__gemm *g, float *ws)
{
    const int mr = uk->mr, nr = uk->nr, mcb = mc_block(uk);
    const bool here = in_place(uk, g->m);
    /* Rows [0, a_direct) of A and columns [0, b_direct) of each NC block are read in place. */
    const int a_direct = here ? g->m / mr * mr : 0;
    float *apack = ws;
    float *bpack = ws + a_pack_floats(uk, g->m, g->k);

    for (int jc = 0; jc < g->n; jc += FRK__GEMM_NC) {
        const int nc = MIN(FRK__GEMM_NC, g->n - jc);
        const int b_direct = here && !g->bp ? nc / FRK__GEMM_NR * FRK__GEMM_NR : 0;
        for (int pc = 0; pc < g->k; pc += FRK__GEMM_KC) {
            const int kc = MIN(FRK__GEMM_KC, g->k - pc);
            const bool accumulate = pc > 0;
            const float *brows = g->b + (ptrdiff_t)pc * g->ldb + jc;
            const float *panels;
            ptrdiff_t pstride;
            if (g->bp) {
                panels = g->bp + (ptrdiff_t)(jc / FRK__GEMM_NR) * g->bp_stride +
                         (ptrdiff_t)pc * FRK__GEMM_NR;
                pstride = g->bp_stride;
            } else {
                pstride = (ptrdiff_t)kc * FRK__GEMM_NR;
                pack_b(nc - b_direct, kc, brows + b_direct, g->ldb, bpack, pstride);
                panels = bpack;
            }
            for (int ic = 0; ic < g->m; ic += mcb) {
                const int mc = MIN(mcb, g->m - ic);
                const float *a = g->a + (ptrdiff_t)ic * g->lda + pc;
                const float *arest = a + (ptrdiff_t)a_direct * g->lda;
                if (a_direct < mc) {
                    if (uk->pack_a)
                        uk->pack_a(mc - a_direct, kc, arest, g->lda, apack);
                    else
                        frk__gemm_pack_a(mc - a_direct, kc, arest, g->lda, mr, apack);
                }
                for (int jr = 0; jr < nc; jr += nr) {
                    const int pj = jr - b_direct; /* column within the packed panels */
                    const bool b_here = jr < b_direct;
                    const float *bp = b_here ? brows + jr
                                             : panels + (ptrdiff_t)(pj / FRK__GEMM_NR) * pstride +
                                                   pj % FRK__GEMM_NR;
                    const ptrdiff_t ldb = b_here ? g->ldb : FRK__GEMM_NR;
                    const int cols = MIN(nr, nc - jr);
                    for (int ir = 0; ir < mc; ir += mr) {
                        const int rows = MIN(mr, mc - ir);
                        const apanel ap =
                            ir < a_direct ? (apanel){a + (ptrdiff_t)ir * g->lda, g->lda}
                                          : (apanel){apack + (ptrdiff_t)(ir - a_direct) * kc, 0};
                        float *c = g->c + (ptrdiff_t)(ic + ir) * g->ldc + jc + jr;
                        if (rows == mr && cols == nr)
                            run_tile(uk, kc, ap, bp, ldb, c, g->ldc, accumulate);
                        else
                            edge_tile(uk, kc, ap, bp, ldb, c, g->ldc, rows, cols, accumulate);
                    }
                }
            }
        }
    }
}
