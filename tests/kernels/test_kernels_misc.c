/*
 * test_kernels_misc.c - the kernel library's contracts other than the numbers: the registry
 * tables' shape, the CPU/thread/BLAS functions, the pre-fork hook, the heuristic's rule and its
 * policy handling, and that frk_verify really rejects wrong and non-reproducible algorithms (so
 * the registry sweep can fail).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"
#include "sweep.h"

Test(registry, tables_are_well_formed)
{
    for (int kind = 0; kind < FR_OP__COUNT; kind++) {
        size_t n;
        const frk_algo *const *t = frk_algos((fr_op_kind)kind, &n);
        cr_assert(n >= 1, "kind %s has no algorithms", fr_op_kind_name((fr_op_kind)kind));
        cr_expect(t[n - 1]->attrs & FR_ATTR_NAIVE, "%s: the naive algorithm must be last",
                  fr_op_kind_name((fr_op_kind)kind));
        cr_expect_eq(frk_naive((fr_op_kind)kind), t[n - 1]);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s.", fr_op_kind_name((fr_op_kind)kind));
        for (size_t i = 0; i < n; i++) {
            const frk_algo *a = t[i];
            cr_expect_eq(a->kind, (fr_op_kind)kind, "%s is in the wrong table", a->name);
            cr_expect(strncmp(a->name, prefix, strlen(prefix)) == 0, "%s lacks prefix %s", a->name,
                      prefix);
            cr_expect_eq(frk_algo_find(a->name), a, "%s not found by name", a->name);
            cr_expect(a->doc && a->doc[0], "%s has no doc line", a->name);
            cr_expect(a->applicable && a->workspace && a->run, "%s misses a function", a->name);
            cr_expect((a->preprocess == NULL) == (a->preprocessed_size == NULL),
                      "%s: preprocess and preprocessed_size come together", a->name);
            if (i + 1 < n)
                cr_expect(!(a->attrs & FR_ATTR_NAIVE), "%s: NAIVE but not last", a->name);
        }
    }
    size_t all;
    frk_all_algos(&all);
    size_t nc, nm;
    frk_algos(FR_OP_CONV2D, &nc);
    frk_algos(FR_OP_MATMUL, &nm);
    cr_expect_eq(all, nc + nm);
    cr_expect_null(frk_algo_find("conv2d.no_such_algorithm"));
    /* The split-reduce algorithm is documented as not reproducible: keep the attribute honest. */
    cr_expect(!(frk_algo_find("conv2d.split_reduce")->attrs & FR_ATTR_REPRODUCIBLE));
}

Test(cpu, isa_and_names)
{
    unsetenv("FASTRUN_ISA");
    frk_isa hw = frk_isa_detect();
    cr_expect_str_eq(frk_isa_name(FRK_ISA_SCALAR), "scalar");
    cr_expect_str_eq(frk_isa_name(FRK_ISA_AVX2), "avx2");
    cr_expect_str_eq(frk_isa_name(FRK_ISA_AVX512), "avx512");
    setenv("FASTRUN_ISA", "scalar", 1);
    cr_expect_eq(frk_isa_detect(), FRK_ISA_SCALAR);
    setenv("FASTRUN_ISA", "avx2", 1);
    cr_expect_eq(frk_isa_detect(), hw < FRK_ISA_AVX2 ? hw : FRK_ISA_AVX2);
    setenv("FASTRUN_ISA", "avx512", 1); /* never raises the level */
    cr_expect_eq(frk_isa_detect(), hw);
    unsetenv("FASTRUN_ISA");
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    cr_expect_eq(ctx.isa, hw);
    char model[128];
    frk_cpu_model(model, sizeof model);
    size_t len = strlen(model);
    cr_expect(len > 0 && model[0] != ' ' && model[len - 1] != ' ', "cpu model '%s'", model);
    char tiny[4];
    frk_cpu_model(tiny, sizeof tiny);
    cr_expect(strlen(tiny) <= 3);
}

Test(cpu, threads_blas_and_alloc)
{
    frk_set_threads(1);
    cr_expect_eq(frk_get_threads(), 1);
    frk_set_threads(2);
    cr_expect_eq(frk_get_threads(), 2);
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    cr_expect_eq(ctx.nthreads, 2);
    char lib[64], core[64];
    frk_blas_info(lib, sizeof lib, core, sizeof core);
    cr_expect(strncmp(lib, "OpenBLAS ", 9) == 0 && strchr(lib + 9, ' ') == NULL, "lib '%s'", lib);
    cr_expect(core[0] != '\0', "empty BLAS core name");
    cr_expect_null(frk_alloc(0));
    void *p = frk_alloc(3);
    cr_assert_not_null(p);
    cr_expect_eq((uintptr_t)p % 64, 0);
    frk_free(p);
    frk_free(NULL);
}

/* The contract of frk_before_fork: a child forked after the parent ran parallel kernels can run
 * parallel kernels itself. Without the hook such a child hangs, so the parent waits with a
 * deadline and kills the child if it passes. */
Test(cpu, fork_after_kernels)
{
    frk_set_threads(2);
    fr_op op = conv_op(1, 16, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    frk_verify_result r;
    cr_assert_eq(frk_verify(frk_algo_find("conv2d.direct_simd"), &op, &ctx, false, 1, &r),
                 FR_ERR_OK);
    frk_before_fork();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        fr_err e = frk_verify(frk_algo_find("conv2d.im2col_gemm"), &op, &ctx, false, 2, &r);
        _exit(e == FR_ERR_OK ? 0 : 3);
    }
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 200 && done == 0; i++) { /* 20 s deadline */
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("the forked child hung running a kernel");
    }
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    /* The parent keeps working after the pause. */
    cr_expect_eq(frk_verify(frk_algo_find("conv2d.direct_simd"), &op, &ctx, false, 3, &r),
                 FR_ERR_OK);
}
