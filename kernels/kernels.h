/*
 * kernels.h - the kernel library: operators' algorithms, one registry table per operator kind,
 * the heuristic, weight preprocessing, the thread-count setting and the CPU's ISA level.
 *
 * Pure compute: no files, no JSON, no sockets. Callers allocate every buffer (64-byte aligned,
 * via frk_alloc) before calling run, so nothing is allocated inside a timed region.
 *
 * An algorithm (FFTW's solver, MegDNN's algo pack) is one file ending with its applicable(),
 * workspace() and run() functions and one line in the table of registry.c. Its name is its
 * identity everywhere (cache, database, API); nothing ever persists an index into the table.
 *
 * Thread model: our kernels parallelise with OpenMP and OpenBLAS is the OpenMP build, so one
 * pool of threads serves both and frk_set_threads() sets both. Before fork() a caller that has
 * run kernels must call frk_before_fork(): libgomp's pool does not survive fork (a child that
 * opens a parallel region after the parent used one hangs; measured on this machine).
 */
#ifndef FRK_KERNELS_H
#define FRK_KERNELS_H

#include "fr_common.h"

/* Bumped whenever an algorithm is removed or renamed, or its attributes or semantics change,
 * and when algorithms are added (a ranking that never measured the new ones would hide them:
 * resume would see the operator as done). Part of the category, so caches measured with another
 * kernel set never match; the dashboard marks the older category.
 *   1: the first kernel set.
 *   2: + conv2d.gemm_1x1_packed, conv2d.depthwise_blocked, conv2d.direct_blocked,
 *      matmul.gemv_packed; direct_simd's threads take static row bands. */
#define FRK_KERNEL_SET_VERSION 2

/* ---------------------------------------------------------------------------------------------
 * CPU and threads (cpu.c)
 * ------------------------------------------------------------------------------------------- */
typedef enum { FRK_ISA_SCALAR = 0, FRK_ISA_AVX2 = 1, FRK_ISA_AVX512 = 2 } frk_isa;

/* Highest ISA level both the CPU and the OS support (cpuid + xgetbv), lowered by the
 * environment variable FASTRUN_ISA=scalar|avx2|avx512 if set (to test the lower code paths). */
frk_isa frk_isa_detect(void);
const char *frk_isa_name(frk_isa isa); /* "scalar", "avx2", "avx512" */
/* CPU model string from cpuid's brand string, trimmed ("AMD EPYC 9R45 ..."). */
void frk_cpu_model(char *buf, size_t len);

/* Sets the number of threads used by every algorithm, OpenBLAS included. n >= 1. */
void frk_set_threads(int n);
int frk_get_threads(void);
/* Releases the OpenMP thread pool so that a following fork() gives a usable child. */
void frk_before_fork(void);

/* BLAS identity for the category: library and version ("OpenBLAS 0.3.21") and the core it
 * actually uses ("Cooperlake"). */
void frk_blas_info(char *lib, size_t liblen, char *core, size_t corelen);

/* Execution context every algorithm receives. */
typedef struct {
    int nthreads;
    frk_isa isa;
} frk_ctx;

/* ctx for the current thread setting and detected ISA. */
void frk_ctx_default(frk_ctx *ctx);

/* 64-byte aligned allocation; NULL on failure and for 0 bytes (an algorithm that needs no
 * workspace gets ws == NULL). frk_free(NULL) is a no-op. */
void *frk_alloc(size_t bytes);
void frk_free(void *p);

/* ---------------------------------------------------------------------------------------------
 * Algorithms (registry.c holds the tables)
 * ------------------------------------------------------------------------------------------- */

/* Operand pointers of one run. src/wei/dst as in fr_op_sizes (conv: input, weights KCRS,
 * output NKPQ; matmul: A, B, C). pwei is the algorithm's preprocessed weights (from its own
 * preprocess()) or NULL: when NULL an algorithm that has a preprocess step transforms wei itself
 * inside run(), in its workspace. ws is workspace() bytes, 64-byte aligned (NULL if 0). */
typedef struct {
    const float *src;
    const float *wei;
    const void *pwei;
    float *dst;
    void *ws;
} frk_exec;

typedef struct frk_algo {
    const char *name; /* stable identity, "conv2d.winograd_f43" */
    fr_op_kind kind;
    unsigned attrs; /* FR_ATTR_* */
    const char *doc; /* one line: what it is and when it wins */
    bool (*applicable)(const fr_op *op, const frk_ctx *ctx);
    /* Workspace bytes for run() when pwei == NULL (it must cover the in-run transform). */
    size_t (*workspace)(const fr_op *op, const frk_ctx *ctx);
    void (*run)(const fr_op *op, const frk_ctx *ctx, const frk_exec *x);
    /* Optional weight preprocessing (both NULL if none). preprocessed_size() gives the bytes
     * of the buffer preprocess() fills from the plain weights; run() with that buffer as pwei
     * skips its own transform. */
    size_t (*preprocessed_size)(const fr_op *op, const frk_ctx *ctx);
    void (*preprocess)(const fr_op *op, const frk_ctx *ctx, const float *wei, void *pwei);
    /* Verification tolerance multiplier (0 means 1): for algorithms whose rounding error is
     * larger by design, e.g. Winograd F(4x4,3x3). See frk_verify below. */
    float tol_factor;
} frk_algo;

/* The registry table of a kind, preference order, the naive algorithm last. */
const frk_algo *const *frk_algos(fr_op_kind kind, size_t *count);
/* Every algorithm of every kind, in table order. */
const frk_algo *const *frk_all_algos(size_t *count);
/* By stable name, NULL if unknown. */
const frk_algo *frk_algo_find(const char *name);
/* The NAIVE reference of a kind. */
const frk_algo *frk_naive(fr_op_kind kind);

/* ---------------------------------------------------------------------------------------------
 * Heuristic (heuristic.c): picks an algorithm for any operator without measuring. It honours a
 * policy: required attributes, forbidden attributes, a workspace limit (0 = none). wp says the
 * weights are preprocessed once before running (the key's wp=1), which makes the algorithms with
 * a preprocess step cheaper per run, so the rule may differ. It always finds one when the naive
 * algorithm is allowed; NULL otherwise. *why (may be NULL) receives a static sentence saying
 * why, e.g. "1x1 stride-1 convolution: direct GEMM".
 * ------------------------------------------------------------------------------------------- */
const frk_algo *frk_heuristic(const fr_op *op, bool wp, const frk_ctx *ctx, unsigned required,
                              unsigned forbidden, size_t workspace_limit, const char **why);

/* ---------------------------------------------------------------------------------------------
 * Verification (verify.c): runs an algorithm on seeded random data (uniform in [-1, 1)) and
 * compares its output with a reference algorithm's, the naive one unless told otherwise. Shared
 * by the kernel tests, the profiler and `fastrun verify`. Not for timed regions: it allocates.
 *
 * Tolerance: max |out - ref| <= tol_factor * 8 * FLT_EPSILON * L * rms(src) * rms(wei), with L the
 * reduction length (c/groups*r*s, or matmul k). sqrt(L)*rms(src)*rms(wei) is the typical size of
 * an output for zero-mean data, and float rounding of a length-L sum grows like sqrt(L) times
 * that (random-walk) to L times it (worst case). Measured on ResNet-50's layers, a plain float
 * loop (direct_simd) reaches 0.25 of the bound and BLAS-based ones less; a missing or wrong term
 * (typically rms(src)*rms(wei) = 1/3) is orders of magnitude above it for the L of real layers.
 * A scale from the data rather than from max|ref| keeps the bound sane when an output happens to
 * be near zero.
 *
 * Besides values, it catches: outputs left unwritten (dst starts as NaN), reads of uninitialised
 * workspace (the workspace starts as NaN, and as different finite garbage on the repeat run), and
 * for REPRODUCIBLE algorithms any bit that differs between two runs.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    double max_abs_err; /* max over outputs of |out - ref|; +inf if an output is not finite */
    int64_t worst;      /* index (in dst) of that output */
    double ref_max;     /* max |ref|, for reports */
    double tolerance;   /* the bound max_abs_err was held to */
    bool pass;          /* max_abs_err <= tolerance */
    bool preprocessed;  /* ran from its own preprocessed weights */
    bool repro_checked; /* REPRODUCIBLE: a second run was compared bit for bit */
    bool bit_identical; /* that second run matched (true when not checked) */
} frk_verify_result;

/* Data and reference output of one operator, made once and checked against many algorithms. */
typedef struct {
    fr_op op;
    float *src, *wei, *ref; /* owned, frk_alloc'ed */
    double tol_base;        /* 8 * FLT_EPSILON * L * rms(src) * rms(wei) */
    double ref_max;
} frk_verify_ref;

/* Fills vr with random data from seed and runs ref (NULL = the naive algorithm of the kind) on
 * it with ctx. vr must be zeroed; on error it stays empty. Errors: INVALID_ARGUMENT (invalid op,
 * ref of another kind or not applicable), NOMEM. */
FR_WUR fr_err frk_verify_ref_init(frk_verify_ref *vr, const fr_op *op, const frk_algo *ref,
                                  const frk_ctx *ctx, uint64_t seed);
/* Frees vr's buffers; safe on a zeroed or cleaned one. */
void frk_verify_ref_cleanup(frk_verify_ref *vr);
/* Runs a (borrowed) on vr's data with ctx, with its preprocessed weights when preprocess is true
 * and it has a preprocess step, twice when it is REPRODUCIBLE, and fills *out. Returns OK,
 * WRONG_RESULT (tolerance exceeded or non-finite output), NOT_REPRODUCIBLE, INVALID_ARGUMENT (a
 * of another kind, or not applicable under ctx), or NOMEM; *out is filled whenever it ran. */
FR_WUR fr_err frk_verify_check(const frk_verify_ref *vr, const frk_algo *a, const frk_ctx *ctx,
                               bool preprocess, frk_verify_result *out);
/* One-shot: frk_verify_ref_init with the naive reference, frk_verify_check, cleanup. */
FR_WUR fr_err frk_verify(const frk_algo *a, const fr_op *op, const frk_ctx *ctx, bool preprocess,
                         uint64_t seed, frk_verify_result *out);

#endif
