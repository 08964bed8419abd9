/*
 * matmul_gemm.h - internal to kernels/: the packed, cache-blocked single-precision GEMM core
 * behind matmul.packed_simd and matmul.splitk (and usable by any algorithm that reduces to a
 * GEMM, e.g. an im2col convolution).
 *
 * C[m][n] = A[m][k] * B[k][n], row-major with leading dimensions. B is read either as a plain
 * row-major matrix (in place for products whose A fits one block, otherwise packed into
 * workspace on the fly; see matmul_gemm.c) or from panels packed ahead of time (weight
 * preprocessing). A panel is FRK__GEMM_NR columns of B, all k rows of it contiguous,
 * row p at offset p * FRK__GEMM_NR, zero-padded past the last column. The panel layout does not
 * depend on the ISA, so weights packed once serve every micro-kernel.
 *
 * Order of summation: every element of C is summed over k in increasing order, in blocks of
 * FRK__GEMM_KC (a block's partial sum is formed in a register from zero, then added to C), with
 * one fused multiply-add per term. That order does not depend on the ISA, the tiling or the
 * thread count, so results are bit-identical across all of them.
 */
#ifndef FRK_MATMUL_GEMM_H
#define FRK_MATMUL_GEMM_H

#include <stddef.h>

#include "kernels.h"

#define FRK__GEMM_NR 32  /* columns of a packed B panel */
#define FRK__GEMM_KC 256 /* rows of k per block: a kc x NR panel of B stays in L1 */
#define FRK__GEMM_MC 128 /* rows of A per packed block (kept in L2) */
#define FRK__GEMM_NC 512 /* columns of B per packed block when B is packed on the fly */

/* A micro-kernel: for an mr x nr tile, acc = sum_{p<kc} ap[p][.] (x) bp[p][.] where ap is a
 * packed A micro-panel (kc rows of mr floats) and bp points at nr columns of B with row stride
 * ldb (FRK__GEMM_NR inside a packed panel, the matrix's own stride when B is read in place).
 * Then c = acc (accumulate false) or c += acc (accumulate true) for the full mr x nr tile at c
 * with row stride ldc. */
typedef void frk__ukernel_fn(int kc, const float *ap, const float *bp, ptrdiff_t ldb, float *c,
                             ptrdiff_t ldc, bool accumulate);

/* The same with A read in place: element (r, p) of the micro-panel is a[r * lda + p]. */
typedef void frk__ukernel_rows_fn(int kc, const float *a, ptrdiff_t lda, const float *bp,
                                  ptrdiff_t ldb, float *c, ptrdiff_t ldc, bool accumulate);

/* Packs m rows and k columns of a (row stride lda) into micro-panels of mr rows: panel i holds,
 * for each p, the mr values a[i*mr + r][p] contiguously; rows past m are zero. */
typedef void frk__pack_a_fn(int m, int k, const float *a, ptrdiff_t lda, float *ap);

typedef struct {
    int mr, nr;
    frk__ukernel_fn *fn;
    frk__ukernel_rows_fn *fn_rows;
    frk__pack_a_fn *pack_a; /* a faster packer for this mr, or NULL for the portable one */
} frk__ukernel;

extern const frk__ukernel frk__ukernel_avx512; /* matmul_ukernel_avx512.c */
extern const frk__ukernel frk__ukernel_avx2;   /* matmul_ukernel_avx2.c */

/* The micro-kernel for an ISA level, NULL below AVX2. */
const frk__ukernel *frk__gemm_ukernel(frk_isa isa);

/* One GEMM. Pointers are borrowed. When bp is non-NULL, b and ldb are ignored and panel j
 * (columns j*NR ...) of this product starts at bp + j * bp_stride, already offset to the first
 * row of k this product uses. */
typedef struct {
    int m, n, k;
    const float *a;
    ptrdiff_t lda;
    const float *b;
    ptrdiff_t ldb;
    const float *bp;
    ptrdiff_t bp_stride;
    float *c;
    ptrdiff_t ldc;
} frk__gemm;

/* Bytes of workspace frk__gemm_serial needs for an m x n x k product with micro-kernel uk,
 * packing B itself unless b_packed. A multiple of 64. */
size_t frk__gemm_ws_bytes(const frk__ukernel *uk, int m, int n, int k, bool b_packed);
/* Computes g on the calling thread. ws: frk__gemm_ws_bytes() bytes, 64-byte aligned. */
void frk__gemm_serial(const frk__ukernel *uk, const frk__gemm *g, float *ws);

/* Transposes the 8x8 block at a (row stride lda) into out (row stride ldo): out[i][r] = a[r][i].
 * Needs AVX2 (matmul_ukernel_avx512.c, where the A packer uses it). */
void frk__transpose8(const float *a, ptrdiff_t lda, float *out, ptrdiff_t ldo);

/* The portable A packer (any mr). */
void frk__gemm_pack_a(int m, int k, const float *a, ptrdiff_t lda, int mr, float *ap);

/* Floats of B packed as full-k panels: ceil(n / NR) * k * NR. */
size_t frk__gemm_panels_floats(int n, int k);
/* Packs rows [0, k) and columns [0, n) of row-major b (row stride ldb) into panels at bp,
 * panel j at bp + j * k * NR. bp must be 64-byte aligned. */
void frk__gemm_pack_panels(int n, int k, const float *b, ptrdiff_t ldb, float *bp);

#endif
