/*
 * sweep.c - the registry sweep behind the kernel tests (see sweep.h).
 */
#include "sweep.h"

#include <criterion/criterion.h>
#include <string.h>

static void mark(const char **names, size_t *count, const char *name)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp(names[i], name) == 0) return;
    if (*count < SWEEP_MAX_ALGOS) names[(*count)++] = name;
}

static void mark_seen(sweep_seen *seen, const char *name)
{
    mark(seen->names, &seen->count, name);
}

static bool listed(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

static void check_one(const frk_verify_ref *vr, const frk_algo *a, const frk_ctx *ctx, bool pre,
                      const char *label, sweep_seen *seen)
{
    if (!a->applicable(&vr->op, ctx)) return;
    frk_verify_result res;
    fr_err e = frk_verify_check(vr, a, ctx, pre, &res);
    seen->checks++;
    mark_seen(seen, a->name);
    cr_expect(e == FR_ERR_OK,
              "%s on %s (threads=%d isa=%s preprocess=%d): %s; max err %.3g, tolerance %.3g "
              "(at output %lld, max|ref| %.3g), bit-identical repeat: %d",
              a->name, label, ctx->nthreads, frk_isa_name(ctx->isa), (int)pre, fr_err_name(e),
              res.max_abs_err, res.tolerance, (long long)res.worst, res.ref_max,
              (int)res.bit_identical);
    if (pre && a->preprocess)
        cr_expect(res.preprocessed, "%s on %s: preprocessed weights were not used", a->name, label);
}

void sweep_op(const fr_op *op, const char *label, sweep_mode mode, const frk_algo *ref,
              sweep_seen *seen)
{
    frk_ctx base;
    frk_ctx_default(&base);
    base.nthreads = 2;
    frk_verify_ref vr;
    memset(&vr, 0, sizeof vr);
    fr_err e = frk_verify_ref_init(&vr, op, ref, &base, 0x5eed + seen->checks);
    cr_assert(e == FR_ERR_OK, "reference for %s: %s", label, fr_err_name(e));
    size_t n;
    const frk_algo *const *table = frk_algos(op->kind, &n);
    for (size_t i = 0; i < n; i++) {
        const frk_algo *a = table[i];
        if ((a->attrs & FR_ATTR_NAIVE) || a == ref) continue;
        /* applicable() is a predicate on the shape and ctx: asking it about a higher ISA level
         * runs none of that level's code. */
        frk_ctx above = {.nthreads = 2, .isa = FRK_ISA_AVX512};
        if (base.isa < FRK_ISA_AVX512 && a->applicable(op, &above) && !a->applicable(op, &base))
            mark(seen->beyond, &seen->nbeyond, a->name);
        for (int threads = 1; threads <= 2; threads++) {
            if (mode == SWEEP_QUICK && threads == 1) continue;
            for (int isa = (int)base.isa; isa >= FRK_ISA_SCALAR; isa--) {
                if (mode == SWEEP_QUICK && isa != (int)base.isa) continue;
                frk_ctx ctx = {.nthreads = threads, .isa = (frk_isa)isa};
                check_one(&vr, a, &ctx, false, label, seen);
                if (a->preprocess) check_one(&vr, a, &ctx, true, label, seen);
            }
        }
    }
    frk_verify_ref_cleanup(&vr);
}

void sweep_expect_all_seen(fr_op_kind kind, const sweep_seen *seen)
{
    size_t n;
    const frk_algo *const *table = frk_algos(kind, &n);
    for (size_t i = 0; i < n; i++) {
        if (table[i]->attrs & FR_ATTR_NAIVE) continue;
        const char *name = table[i]->name;
        bool found = listed(seen->names, seen->count, name);
        if (!found && listed(seen->beyond, seen->nbeyond, name)) {
            cr_log_info("%s applies only at an ISA level this CPU (%s) lacks: not verified here",
                        name, frk_isa_name(frk_isa_detect()));
            continue;
        }
        cr_expect(found, "%s was never applicable to any test shape, so it went unverified", name);
    }
}

fr_op conv_op(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw,
              int dh, int dw, int groups)
{
    fr_op op = {.kind = FR_OP_CONV2D};
    op.conv = (fr_conv2d){.n = n,
                          .c = c,
                          .h = h,
                          .w = w,
                          .k = k,
                          .r = r,
                          .s = s,
                          .stride = {sh, sw},
                          .pad = {ph, pw},
                          .dilation = {dh, dw},
                          .groups = groups};
    return op;
}

fr_op mm_op(int batch, int m, int n, int k)
{
    fr_op op = {.kind = FR_OP_MATMUL};
    op.mm = (fr_matmul){.batch = batch, .m = m, .n = n, .k = k};
    return op;
}
