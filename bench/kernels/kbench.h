/*
 * kbench.h - bench/kernels, the `bench-kernels` program: for every operator of a model, in one
 * run and at each thread count asked for, the time of fastrun's tuned pick (the best of its
 * applicable non-NAIVE algorithms, with weight preprocessing done before timing), of the plain
 * library baseline (conv2d.im2col_gemm / matmul.blas: im2col + OpenBLAS), and of oneDNN with
 * plain tensors (NCHW / row-major) and with its preferred layouts (format_tag_any, tensors
 * reordered before timing). Every implementation runs on the same random operands and is timed
 * the way fastrun's profiler times (one warm-up run, then samples until a minimum time and
 * count, median); every output is checked against the baseline's before its time counts.
 *
 * Files: timing.c (the sampling loop), fastrun_side.c (fastrun's candidates and pick), onednn.c
 * (oneDNN primitives), report.c (table and JSON), main.c (options, environment, the runs).
 * Prefix kb_. Benchmark-only: built only when oneDNN is installed (CMakeLists.txt).
 */
#ifndef KB_KBENCH_H
#define KB_KBENCH_H

#include <stdio.h>

#include "fr_common.h"
#include "kernels.h"

/* ---------------------------------------------------------------------------------------------
 * timing.c
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    double min_ms;   /* sampling stops once both min_ms of samples and min_samples are reached */
    int min_samples; /* ... */
    int max_samples; /* or at either cap */
    double max_ms;
} kb_timing;

typedef struct {
    double median_ms, min_ms;
    int samples;
    double others;  /* CPUs other processes used meanwhile (cores, -1 if unknown) */
    bool disturbed; /* median > KB_DISTURBED x min, or others > free CPUs + KB_OTHERS_SLACK */
} kb_time;

/* Two signs that other processes got in the way of a measurement. On this 2-core machine a
 * process taking a core that a 2-thread parallel region needs makes the region wait a whole
 * scheduler slice (4 ms and more) for its descheduled thread: the median is then far above the
 * minimum, or, when every sample was hit, the CPU time the rest of the machine used during the
 * samples (/proc/stat minus our own CPU time) exceeds the CPUs our threads left free. The slack
 * covers the 10 ms granularity of /proc/stat. */
#define KB_DISTURBED 1.5
#define KB_OTHERS_SLACK 0.25

/* One warm-up call of run(arg), then timed calls as kb_timing says; the median and minimum go to
 * *out. samples has room for t->max_samples (allocated by the caller: nothing is allocated
 * here, nothing but run() happens between the clock reads). */
void kb_time_loop(const kb_timing *t, void (*run)(void *arg), void *arg, double *samples,
                  kb_time *out);
double kb_now_ms(void);
/* Share (0..1) of all CPUs busy over window_ms while this process sleeps, i.e. what the rest of
 * the machine uses (/proc/stat); -1 if unknown. */
double kb_machine_busy(int window_ms);
/* Waits until kb_machine_busy(250) < threshold, at most max_s seconds. Returns the last busy
 * share measured; *waited_s receives the time spent. */
double kb_wait_quiet(double threshold, double max_s, double *waited_s);

/* ---------------------------------------------------------------------------------------------
 * fastrun_side.c
 * ------------------------------------------------------------------------------------------- */
#define KB_MAX_CANDIDATES 16

typedef struct {
    const frk_algo *algo;
    bool preprocessed; /* its weight transform ran before timing (it has one) */
    kb_time t;
    char failure[192]; /* "" when measured; else why it was left out */
} kb_candidate;

typedef struct {
    kb_candidate cand[KB_MAX_CANDIDATES];
    size_t ncand;
    int best;     /* index of the tuned pick (ranked as the profiler ranks), -1 if none */
    int baseline; /* index of conv2d.im2col_gemm / matmul.blas, -1 if absent or failed */
} kb_fastrun;

/* The baseline a plain library would use for this kind of operator. */
const char *kb_baseline_name(fr_op_kind kind);
/* Checks every applicable non-NAIVE algorithm against vr's reference (with its preprocessed
 * weights), times those that pass on vr's operands, and ranks them. samples: as kb_time_loop.
 * Errors: NOMEM (the detail names the algorithm); a wrong candidate is a failure, not an
 * error. */
FR_WUR fr_err kb_fastrun_measure(const frk_verify_ref *vr, const kb_timing *t, double *samples,
                                 kb_fastrun *out, fr_diag *d);

/* ---------------------------------------------------------------------------------------------
 * onednn.c
 * ------------------------------------------------------------------------------------------- */
typedef enum { KB_PLAIN = 0, KB_BLOCKED = 1, KB_NLAYOUTS } kb_layout;
const char *kb_layout_name(kb_layout l); /* "nchw", "blocked" */

typedef struct kb_dnnl kb_dnnl; /* engine and stream, opaque */

typedef struct {
    bool measured; /* t is valid (and the output passed the check) */
    kb_time t;
    char impl[96];     /* oneDNN's implementation name, e.g. "brg:avx512_core" */
    char layouts[160]; /* src / weights / dst layouts the primitive runs on */
    double max_err, tolerance;
    char failure[256]; /* "" when measured */
} kb_dnnl_result;

/* One CPU engine and stream; *out owned by the caller (kb_dnnl_free). NOMEM or UNAVAILABLE. */
FR_WUR fr_err kb_dnnl_new(kb_dnnl **out, fr_diag *d);
void kb_dnnl_free(kb_dnnl *k);
/* "oneDNN 2.6.3 (OpenMP runtime), ISA avx512_core_bf16" */
void kb_dnnl_describe(char *buf, size_t len);
/* Builds oneDNN's primitive for vr's operator at the current thread count, in layout l, puts
 * vr's operands into it (reorders happen here, before timing), times the primitive alone and
 * checks its output against vr->ref. oneDNN's own failures (no implementation, wrong output)
 * land in out->failure; the return value is NOMEM only. */
FR_WUR fr_err kb_dnnl_measure(kb_dnnl *k, const frk_verify_ref *vr, kb_layout l, const kb_timing *t,
                              double *samples, kb_dnnl_result *out);

/* ---------------------------------------------------------------------------------------------
 * report.c
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const fr_model_op *mop; /* borrowed from the model */
    double flops;
    kb_fastrun fr;
    kb_dnnl_result dnnl[KB_NLAYOUTS];
    int attempts;    /* measurements of this operator (again when some were disturbed) */
    int disturbed;   /* disturbed times in the attempt kept (the one with fewest) */
    int measured;    /* times measured in the attempt kept */
    double busy;     /* machine busy share just before the attempt kept */
    double waited_s; /* waiting for a quiet machine, all attempts */
} kb_op_result;

typedef struct {
    const fr_model *model; /* borrowed */
    int threads;
    kb_op_result *ops;              /* owned, model->nops entries */
    double load_before, load_after; /* 1-minute load average, -1 if unknown */
    double wall_s;
} kb_run;

/* The compared figures of one operator, or their sum over several: medians in ms, each with a
 * flag saying it was measured (for a sum: measured for every operator in it). */
typedef struct {
    double fr, base, dnnl[KB_NLAYOUTS];
    bool has_fr, has_base, has_dnnl[KB_NLAYOUTS];
    bool dist_fr, dist_base, dist_dnnl[KB_NLAYOUTS]; /* disturbed (any of a sum) */
} kb_cols;

kb_cols kb_cols_of(const kb_op_result *o);
/* The empty sum (zeros, every flag true), and adding one operator's figures to a sum. */
kb_cols kb_cols_none(void);
void kb_cols_add(kb_cols *sum, const kb_cols *c);
/* Sum over every operator of a run: the network totals. */
kb_cols kb_cols_total(const kb_run *r);
/* Counts the disturbed and the measured times of one operator's result. */
void kb_count_disturbed(const kb_op_result *o, int *disturbed, int *measured);
/* Operator class for the per-class summary: "conv 1x1 s1", "conv depthwise", "matmul gemv
 * (m=1)"... */
void kb_class_of(const fr_op *op, char *buf, size_t len);

/* The readable table of one run (aligned text, or GitHub markdown when markdown is true), then
 * the totals with their ratios, a summary per operator class, and what was left out. */
void kb_report_table(const kb_run *r, bool markdown, FILE *f);
/* One run as a new JSON object (json_t *), NULL if out of memory (report_json.c). */
void *kb_report_json(const kb_run *r);

#endif
