/*
 * test_heuristic_verify.c - the heuristic follows its written rule and honours a policy
 * (required and forbidden attributes, workspace limit) down to the naive fallback and NULL; and
 * frk_verify rejects deliberately broken algorithms: a wrong value just above the tolerance, an
 * output left unwritten, a read of uninitialised workspace, and a "reproducible" algorithm whose
 * bits change between runs.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "sweep.h"

static int threads = 2; /* of the ctx pick_wp gives the heuristic */

static const char *pick_wp(const fr_op *op, bool wp, unsigned req, unsigned forb, size_t limit)
{
    frk_ctx ctx = {.nthreads = threads, .isa = frk_isa_detect()};
    const char *why = NULL;
    const frk_algo *a = frk_heuristic(op, wp, &ctx, req, forb, limit, &why);
    cr_expect(why && why[0], "no reason given");
    if (!a) return "(none)";
    cr_expect(a->applicable(op, &ctx), "%s picked but not applicable", a->name);
    cr_expect((a->attrs & req) == req && !(a->attrs & forb), "%s breaks the policy", a->name);
    cr_expect(limit == 0 || a->workspace(op, &ctx) <= limit, "%s exceeds the limit", a->name);
    return a->name;
}

static const char *pick(const fr_op *op, unsigned req, unsigned forb, size_t limit)
{
    return pick_wp(op, false, req, forb, limit);
}

Test(heuristic, follows_the_rule)
{
    fr_op c3 = conv_op(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    fr_op c1 = conv_op(1, 256, 56, 56, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    fr_op dw = conv_op(1, 32, 16, 16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 32);
    fr_op stem = conv_op(1, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1);
    fr_op small3 = conv_op(1, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    fr_op tiny3 = conv_op(1, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    fr_op longred = conv_op(1, 4096, 1, 1, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    fr_op longred3 = conv_op(1, 512, 2, 2, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    fr_op mm = mm_op(1, 64, 512, 512);
    fr_op gemv = mm_op(1, 1, 8000, 512);
    fr_op small_mm = mm_op(8, 64, 64, 64);
    bool avx512 = frk_isa_detect() >= FRK_ISA_AVX512;
    /* Winograd F(4x4) at 1 thread; at 2 the channel-blocked direct kernel scales better. */
    threads = 1;
    cr_expect_str_eq(pick(&c3, 0, 0, 0), "conv2d.winograd_f43");
    threads = 2;
    cr_expect_str_eq(pick(&c3, 0, 0, 0), avx512 ? "conv2d.direct_blocked" : "conv2d.winograd_f43");
    cr_expect_str_eq(pick(&small3, 0, 0, 0), "conv2d.winograd_f23");
    /* Too few tiles for Winograd without preprocessed weights: the general rule. */
    cr_expect_str_eq(pick(&tiny3, 0, 0, 0), frk_isa_detect() >= FRK_ISA_AVX512
                                                ? "conv2d.direct_blocked"
                                                : "conv2d.im2col_gemm");
    /* With the filter transform done once, F(4x4) pays for itself down to 14x14. */
    threads = 1;
    cr_expect_str_eq(pick_wp(&tiny3, true, 0, 0, 0), "conv2d.winograd_f43");
    threads = 2;
    cr_expect_str_eq(pick_wp(&c1, true, 0, 0, 0), pick(&c1, 0, 0, 0));
    bool avx2 = frk_isa_detect() >= FRK_ISA_AVX2;
    const char *one = avx2 ? "conv2d.gemm_1x1_packed" : "conv2d.gemm_1x1";
    cr_expect_str_eq(pick(&c1, 0, 0, 0), one);
    cr_expect_str_eq(pick(&dw, 0, 0, 0),
                     avx512 ? "conv2d.depthwise_blocked" : "conv2d.depthwise_simd");
    cr_expect_str_eq(pick(&stem, 0, 0, 0), avx512 ? "conv2d.direct_blocked" : "conv2d.direct_simd");
    fr_op s2 = conv_op(1, 256, 14, 14, 256, 3, 3, 2, 2, 1, 1, 1, 1, 1);
    cr_expect_str_eq(pick(&s2, 0, 0, 0), avx512 ? "conv2d.direct_blocked" : "conv2d.im2col_gemm");
    cr_expect_str_eq(pick(&longred, 0, 0, 0), one); /* 1x1 rule comes first */
    cr_expect_str_eq(pick(&longred3, 0, 0, 0), "conv2d.split_reduce");
    /* Below AVX2 (FASTRUN_ISA=scalar) fastrun's SIMD matmuls do not apply: BLAS follows. */
    cr_expect_str_eq(pick(&mm, 0, 0, 0), avx2 ? "matmul.packed_simd" : "matmul.blas");
    cr_expect_str_eq(pick(&gemv, 0, 0, 0), avx512 ? "matmul.gemv_packed"
                                           : avx2 ? "matmul.gemv_simd"
                                                  : "matmul.blas");
    cr_expect_str_eq(pick(&small_mm, 0, 0, 0), "matmul.blas");
    /* Without BLAS the small product takes the rule's next preference. */
    cr_expect_str_eq(pick(&small_mm, 0, FR_ATTR_USES_BLAS, 0),
                     avx2 ? "matmul.packed_simd" : "matmul.naive");
}

Test(heuristic, honours_the_policy)
{
    fr_op c3 = conv_op(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    fr_op c1 = conv_op(1, 256, 56, 56, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    fr_op longred3 = conv_op(1, 512, 2, 2, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    /* split_reduce is not reproducible: asking for REPRODUCIBLE moves to the next preference. */
    cr_expect_str_eq(pick(&longred3, FR_ATTR_REPRODUCIBLE, 0, 0), "conv2d.im2col_gemm");
    /* No BLAS: the 1x1 rule's own GEMM needs none; below AVX2 its other choices both use BLAS,
     * so the table walk takes the first other. */
    const char *nb = pick(&c1, 0, FR_ATTR_USES_BLAS, 0);
    if (frk_isa_detect() >= FRK_ISA_AVX2) cr_expect_str_eq(nb, "conv2d.gemm_1x1_packed");
    cr_expect(strcmp(nb, "conv2d.naive") != 0 && strcmp(nb, "(none)") != 0, "got %s", nb);
    /* Only the naive algorithm needs no workspace for a padded 3x3. */
    cr_expect_str_eq(pick(&c3, 0, 0, 1), "conv2d.naive");
    cr_expect_str_eq(pick(&c3, 0, FR_ATTR_NAIVE, 1), "(none)");
    /* A limit between the candidates' needs picks one that fits, not the naive one. */
    frk_ctx ctx = {.nthreads = 2, .isa = frk_isa_detect()};
    size_t wino = frk_algo_find("conv2d.winograd_f43")->workspace(&c3, &ctx);
    const char *fit = pick(&c3, 0, FR_ATTR_NAIVE, wino - 1);
    cr_expect(strcmp(fit, "conv2d.winograd_f43") != 0 && strcmp(fit, "(none)") != 0, "%s", fit);
}

/* ---- deliberately broken algorithms, built on the naive one ---------------------------------- */

static float perturb; /* test-only knob: added to output 0 by perturbed_run */
static int runs;      /* counts runs of drifting_run */

static bool any_conv(const fr_op *op, const frk_ctx *ctx)
{
    (void)ctx;
    return op->kind == FR_OP_CONV2D;
}
static size_t no_ws(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 0;
}
static size_t small_ws(const fr_op *op, const frk_ctx *ctx)
{
    (void)op;
    (void)ctx;
    return 64;
}
static void perturbed_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk_naive(FR_OP_CONV2D)->run(op, ctx, x);
    x->dst[0] += perturb;
}
static void unwritten_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    float last = x->dst[fr_op_sizes_of(op).dst - 1];
    frk_naive(FR_OP_CONV2D)->run(op, ctx, x);
    x->dst[fr_op_sizes_of(op).dst - 1] = last; /* as if never written */
}
static void ws_reading_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk_naive(FR_OP_CONV2D)->run(op, ctx, x);
    x->dst[0] += 0.0f * ((const float *)x->ws)[0]; /* uses a workspace value it never wrote */
}
static void drifting_run(const fr_op *op, const frk_ctx *ctx, const frk_exec *x)
{
    frk_naive(FR_OP_CONV2D)->run(op, ctx, x);
    x->dst[0] = nextafterf(x->dst[0], runs++ % 2 ? INFINITY : -INFINITY); /* one ulp off */
}

#define BROKEN(nm, run_fn, ws_fn)                                                                  \
    {                                                                                              \
        .name = nm, .kind = FR_OP_CONV2D, .attrs = FR_ATTR_REPRODUCIBLE,                           \
        .doc = "broken on purpose", .applicable = any_conv, .workspace = ws_fn, .run = run_fn      \
    }

static const frk_algo perturbed = BROKEN("conv2d.test_perturbed", perturbed_run, no_ws);
static const frk_algo unwritten = BROKEN("conv2d.test_unwritten", unwritten_run, no_ws);
static const frk_algo ws_reading = BROKEN("conv2d.test_ws_reading", ws_reading_run, small_ws);
static const frk_algo drifting = BROKEN("conv2d.test_drifting", drifting_run, no_ws);

Test(verify, rejects_broken_algorithms)
{
    fr_op op = conv_op(2, 6, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    frk_ctx ctx = {.nthreads = 2, .isa = frk_isa_detect()};
    frk_verify_ref vr;
    memset(&vr, 0, sizeof vr);
    cr_assert_eq(frk_verify_ref_init(&vr, &op, NULL, &ctx, 7), FR_ERR_OK);
    frk_verify_result r;
    perturb = 0.0f;
    cr_assert_eq(frk_verify_check(&vr, &perturbed, &ctx, false, &r), FR_ERR_OK);
    cr_expect(r.pass && r.repro_checked && r.bit_identical && r.max_abs_err == 0.0);
    double tol = r.tolerance;
    cr_expect(tol > 0.0 && tol < 1e-3, "tolerance %g", tol);
    perturb = (float)(tol * 0.5);
    cr_expect_eq(frk_verify_check(&vr, &perturbed, &ctx, false, &r), FR_ERR_OK,
                 "half the tolerance");
    perturb = (float)(tol * 2.0);
    cr_expect_eq(frk_verify_check(&vr, &perturbed, &ctx, false, &r), FR_ERR_WRONG_RESULT);
    cr_expect(!r.pass && r.worst == 0 && r.max_abs_err > tol);
    cr_expect_eq(frk_verify_check(&vr, &unwritten, &ctx, false, &r), FR_ERR_WRONG_RESULT);
    cr_expect(isinf(r.max_abs_err));
    cr_expect_eq(frk_verify_check(&vr, &ws_reading, &ctx, false, &r), FR_ERR_WRONG_RESULT);
    cr_expect_eq(frk_verify_check(&vr, &drifting, &ctx, false, &r), FR_ERR_NOT_REPRODUCIBLE);
    cr_expect(r.pass && r.repro_checked && !r.bit_identical);
    /* An algorithm of another kind, or one that is not applicable, is refused. */
    cr_expect_eq(frk_verify_check(&vr, frk_naive(FR_OP_MATMUL), &ctx, false, &r),
                 FR_ERR_INVALID_ARGUMENT);
    cr_expect_eq(frk_verify_check(&vr, frk_algo_find("conv2d.gemm_1x1"), &ctx, false, &r),
                 FR_ERR_INVALID_ARGUMENT);
    frk_verify_ref_cleanup(&vr);
    frk_verify_ref_cleanup(&vr); /* safe twice */
    /* The one-shot form checks a good algorithm, with preprocessed weights when it has them. */
    cr_expect_eq(frk_verify(frk_algo_find("conv2d.winograd_f23"), &op, &ctx, true, 9, &r),
                 FR_ERR_OK);
    cr_expect(r.preprocessed);
    fr_op bad = conv_op(1, 6, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4); /* 6 % 4 != 0 */
    cr_expect_eq(frk_verify(frk_naive(FR_OP_CONV2D), &bad, &ctx, false, 1, &r),
                 FR_ERR_INVALID_ARGUMENT);
}
