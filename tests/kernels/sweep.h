/*
 * sweep.h - the kernel tests' driver: verifies every applicable algorithm of the registry on one
 * operator over a sweep of settings (threads, ISA levels, with and without weight preprocessing),
 * through frk_verify, and records which algorithms were exercised. Shared by the test files of
 * tests/kernels/.
 */
#ifndef FRK_TEST_SWEEP_H
#define FRK_TEST_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels.h"

typedef enum {
    SWEEP_FULL,  /* threads 1 and 2, every ISA level up to the detected one, preprocess on/off */
    SWEEP_QUICK, /* 2 threads, detected ISA, preprocess on/off: for large shapes */
} sweep_mode;

#define SWEEP_MAX_ALGOS 64

typedef struct {
    const char *names[SWEEP_MAX_ALGOS]; /* algorithms verified at least once */
    size_t count;
    size_t checks; /* frk_verify_check calls */
    /* Algorithms that would apply to a shape at an ISA level above this CPU's, so cannot be
     * run here (e.g. the AVX-512-only kernels on an AVX2 machine). */
    const char *beyond[SWEEP_MAX_ALGOS];
    size_t nbeyond;
} sweep_seen;

/* Verifies every non-naive algorithm of op's kind that is applicable, against ref (NULL = the
 * naive algorithm), expecting FR_ERR_OK; every failure is a Criterion expectation failure naming
 * the algorithm, operator and setting. label names the operator in messages. */
void sweep_op(const fr_op *op, const char *label, sweep_mode mode, const frk_algo *ref,
              sweep_seen *seen);

/* Expects every algorithm of kind (naive excluded) to be in seen. One that applies only at an ISA
 * level this CPU lacks cannot be verified here: that is said in a warning, not a failure (on the
 * AVX-512 machines of CI it is verified). */
void sweep_expect_all_seen(fr_op_kind kind, const sweep_seen *seen);

/* Operator constructors for readable tables. */
fr_op conv_op(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw,
              int dh, int dw, int groups);
fr_op mm_op(int batch, int m, int n, int k);

#endif
