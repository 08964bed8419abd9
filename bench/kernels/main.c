/*
 * main.c - `bench-kernels MODEL.json... [--threads 1,2] [--min-time-ms 200] [--json | --markdown]
 *          [--json-file PATH]`:
 * for every operator of every model, at each thread count, fastrun's tuned pick against the im2col
 * + OpenBLAS baseline and oneDNN (plain and blocked layouts), all in the same run on the same
 * operands (kbench.h says how each is measured). Prints the environment the figures belong to
 * (CPU, BLAS core and what happened to OPENBLAS_CORETYPE, oneDNN version and ISA, the timing
 * rule), then one table per model and thread count (--markdown: as markdown tables, for
 * BENCHMARKS.md), or one JSON document with --json; --json-file also writes that document to
 * PATH next to the table.
 *
 * The machine is shared with builds and tests that no lock keeps out, so before measuring an
 * operator it waits (at most --quiet-wait-s) until the rest of the machine uses under 15% of the
 * CPUs, and measures the operator again (up to --attempts in all) when some of its times came out
 * disturbed (kbench.h, KB_DISTURBED); what it saw is reported with every run.
 *
 * Like every fastrun program it first drops an inherited OPENBLAS_CORETYPE by re-executing
 * itself (frw_blas_env_apply, worker/blas_env.c), so OpenBLAS and therefore the baseline and the
 * BLAS-based kernels run on the core OpenBLAS detects. Each operator is measured under fastrun's
 * machine-wide measurement lock (worker/measure.c), so it never overlaps a profiler run.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kbench.h"
#include "worker.h"

#define MAX_THREAD_COUNTS 8

typedef struct {
    int threads[MAX_THREAD_COUNTS];
    int nthreads;
    kb_timing timing;
    bool json, markdown;
    const char *json_path; /* --json-file, NULL if not given */
    int attempts;          /* measurements of an operator at most (again while disturbed) */
    double quiet_wait_s;   /* per attempt, waiting for the machine to be quiet (0: never) */
} options;

/* "Quiet": the rest of the machine uses less than this share of its CPUs. */
#define QUIET_BUSY 0.15

#define USAGE                                                                                      \
    "usage: bench-kernels MODEL.json... [--threads 1,2] [--min-time-ms 200] [--json | "            \
    "--markdown]\n"                                                                                \
    "       [--json-file PATH] [--attempts 3] [--quiet-wait-s 5]\n"

/* A usage error: "bench-kernels: <message>" and the usage line on stderr; exit status 2. */
static int usage(const char *fmt, const char *arg) FR_PRINTF(1, 0);
static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench-kernels: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return 2;
}

static bool parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* "1,2" -> {1, 2}. */
static bool parse_threads(char *text, options *o)
{
    o->nthreads = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (o->nthreads == MAX_THREAD_COUNTS || !parse_long(tok, 1, 256, &v)) return false;
        o->threads[o->nthreads++] = (int)v;
    }
    return o->nthreads > 0;
}

static void environment(char *blas_note, size_t len, json_t **env)
{
    char cpu[128], lib[64], core[64], dnnl[160];
    frk_cpu_model(cpu, sizeof cpu);
    frk_blas_info(lib, sizeof lib, core, sizeof core);
    kb_dnnl_describe(dnnl, sizeof dnnl);
    const char *dropped = frw_blas_coretype_dropped(), *inherited = getenv("OPENBLAS_CORETYPE");
    if (dropped)
        snprintf(blas_note, len,
                 "inherited OPENBLAS_CORETYPE=%s dropped by re-exec "
                 "(frw_blas_env_apply, as every fastrun program does)",
                 dropped);
    else if (inherited)
        snprintf(blas_note, len, "OPENBLAS_CORETYPE=%s kept (FASTRUN_KEEP_OPENBLAS_CORETYPE=1)",
                 inherited);
    else
        snprintf(blas_note, len, "OPENBLAS_CORETYPE not set");
    *env =
        json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "cpu", cpu, "isa",
                  frk_isa_name(frk_isa_detect()), "online_cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                  "blas", lib, "blas_core", core, "openblas_coretype", blas_note, "onednn", dnnl);
}

static void print_environment(const options *o, const json_t *env, FILE *f)
{
    fprintf(f, "bench-kernels: fastrun's kernels vs oneDNN, same operands, same run\n");
    fprintf(f, "cpu:     %s, ISA %s, %d online CPUs\n",
            json_string_value(json_object_get(env, "cpu")),
            json_string_value(json_object_get(env, "isa")),
            (int)json_integer_value(json_object_get(env, "online_cpus")));
    fprintf(f, "blas:    %s, core %s; %s\n", json_string_value(json_object_get(env, "blas")),
            json_string_value(json_object_get(env, "blas_core")),
            json_string_value(json_object_get(env, "openblas_coretype")));
    fprintf(f, "onednn:  %s\n", json_string_value(json_object_get(env, "onednn")));
    fprintf(f, "threads: frk_set_threads(n) = omp_set_num_threads(n) + openblas_set_num_threads(n),"
               " one libgomp pool for fastrun, OpenBLAS and oneDNN\n");
    fprintf(f,
            "timing:  one warm-up run, then samples until >= %.0f ms and >= %d samples (caps "
            "%d samples, %.0f ms); median. Buffers allocated before timing; fastrun: every "
            "applicable non-NAIVE algorithm checked then timed with weights preprocessed "
            "before timing (*), pick ranked as the profiler ranks; oneDNN blocked: operands "
            "reordered before timing, primitive execution alone timed; every output checked "
            "against conv2d.im2col_gemm / matmul.blas\n",
            o->timing.min_ms, o->timing.min_samples, o->timing.max_samples, o->timing.max_ms);
    fprintf(f,
            "noise:   before each operator, wait up to %.0f s for the rest of the machine to use "
            "< %.0f%% of the CPUs; a time is disturbed (marked !) when its median > %.1f x its "
            "min or other processes used more than the CPUs left free + %.2f while it was "
            "sampled; an operator with disturbed times is measured again, up to %d attempts, "
            "keeping the least disturbed\n",
            o->quiet_wait_s, 100 * QUIET_BUSY, KB_DISTURBED, KB_OTHERS_SLACK, o->attempts);
}

/* One attempt: every implementation of the operator on vr's operands, after waiting (at most
 * o->quiet_wait_s) for a quiet machine. */
static fr_err attempt(kb_dnnl *k, const frk_verify_ref *vr, const options *o, double *samples,
                      kb_op_result *out, fr_diag *d)
{
    double waited = 0;
    out->busy = o->quiet_wait_s > 0 ? kb_wait_quiet(QUIET_BUSY, o->quiet_wait_s, &waited)
                                    : kb_machine_busy(250);
    out->waited_s = waited;
    fr_err e = kb_fastrun_measure(vr, &o->timing, samples, &out->fr, d);
    for (int l = 0; !e && l < KB_NLAYOUTS; l++) {
        e = kb_dnnl_measure(k, vr, (kb_layout)l, &o->timing, samples, &out->dnnl[l]);
        if (e) fr_diag_set(d, e, "oneDNN: out of memory");
    }
    kb_count_disturbed(out, &out->disturbed, &out->measured);
    return e;
}

/* Everything about one operator at the current thread count, under fastrun's measurement lock.
 * An attempt in which some times were disturbed is repeated (up to o->attempts in all), and the
 * attempt with the fewest disturbed times is kept: the choice looks at noise, never at speed. */
static fr_err measure_op(kb_dnnl *k, const fr_model_op *mop, const options *o, double *samples,
                         kb_op_result *out, fr_diag *d)
{
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    char key[FR_MAX_KEY_LEN];
    fr_op_key(&mop->op, true, key, sizeof key);
    const frk_algo *ref = frk_algo_find(kb_baseline_name(mop->op.kind));
    if (ref && !ref->applicable(&mop->op, &ctx)) ref = NULL; /* the naive one then */
    frk_verify_ref vr;
    memset(&vr, 0, sizeof vr);
    fr_err e = frk_verify_ref_init(&vr, &mop->op, ref, &ctx, frw_seed_of(key));
    if (e) return fr_diag_set(d, e, "%s: reference: %s", mop->name, fr_err_message(e));
    frw_measure_lock lock;
    frw_measure_lock_init(&lock);
    e = frw_measure_lock_acquire(&lock, NULL, d);
    kb_op_result *try = calloc(1, sizeof *try);
    if (!e && !try) e = fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    double waited = 0;
    for (int a = 0; !e && a < o->attempts; a++) {
        memset(try, 0, sizeof *try);
        e = attempt(k, &vr, o, samples, try, d);
        waited += try->waited_s;
        if (!e && (a == 0 || try->disturbed < out->disturbed)) *out = *try;
        out->attempts = a + 1;
        if (out->disturbed == 0) break;
    }
    out->mop = mop;
    out->flops = fr_op_flops(&mop->op);
    out->waited_s = waited;
    if (e) fr_diag_prefix(d, "%s", mop->name);
    free(try);
    frw_measure_lock_release(&lock, NULL);
    frk_verify_ref_cleanup(&vr);
    return e;
}

static double load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1.0;
}

static fr_err run_model(kb_dnnl *k, const fr_model *m, int threads, const options *o,
                        double *samples, kb_run *r, fr_diag *d)
{
    memset(r, 0, sizeof *r);
    r->model = m;
    r->threads = threads;
    r->ops = calloc(m->nops, sizeof *r->ops);
    if (!r->ops) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    frk_set_threads(threads);
    r->load_before = load1();
    double t0 = kb_now_ms();
    for (size_t i = 0; i < m->nops; i++) {
        fprintf(stderr, "bench-kernels: %s, %d thread(s): %zu/%zu %s\n", m->name, threads, i + 1,
                m->nops, m->ops[i].name);
        fr_err e = measure_op(k, &m->ops[i], o, samples, &r->ops[i], d);
        if (e) return e;
    }
    r->wall_s = (kb_now_ms() - t0) / 1000.0;
    r->load_after = load1();
    return FR_ERR_OK;
}

static int bench(char **paths, int npaths, const options *o)
{
    char blas_note[256];
    json_t *env = NULL, *runs = json_array();
    environment(blas_note, sizeof blas_note, &env);
    if (!env || !runs) return fprintf(stderr, "bench-kernels: out of memory\n"), 1;
    if (!o->json) {
        if (o->markdown) printf("```text\n");
        print_environment(o, env, stdout);
        if (o->markdown) printf("```\n");
    }
    fr_diag d = {{0}};
    kb_dnnl *k = NULL;
    double *samples = malloc((size_t)o->timing.max_samples * sizeof *samples);
    fr_err e = samples ? kb_dnnl_new(&k, &d) : fr_diag_set(&d, FR_ERR_NOMEM, "out of memory");
    for (int p = 0; !e && p < npaths; p++) {
        fr_model m = {0};
        e = fr_model_load_file(paths[p], &m, &d);
        for (int t = 0; !e && t < o->nthreads; t++) {
            kb_run r;
            e = run_model(k, &m, o->threads[t], o, samples, &r, &d);
            if (!e) json_array_append_new(runs, kb_report_json(&r));
            if (!e && !o->json) kb_report_table(&r, o->markdown, stdout);
            fflush(stdout);
            free(r.ops);
        }
        fr_model_cleanup(&m);
    }
    if (!e && (o->json || o->json_path)) {
        json_t *root = json_pack(
            "{s:s, s:o, s:{s:f, s:i, s:i, s:f, s:f, s:i, s:f, s:f}, s:o}", "tool", "bench-kernels",
            "environment", env, "timing", "min_ms", o->timing.min_ms, "min_samples",
            o->timing.min_samples, "max_samples", o->timing.max_samples, "max_ms", o->timing.max_ms,
            "quiet_wait_s", o->quiet_wait_s, "attempts", o->attempts, "quiet_busy", QUIET_BUSY,
            "disturbed_factor", KB_DISTURBED, "runs", runs);
        env = runs = NULL; /* taken by root */
        if (o->json) {
            json_dumpf(root, stdout, JSON_INDENT(1));
            fputc('\n', stdout);
        }
        if (o->json_path && json_dump_file(root, o->json_path, JSON_INDENT(1)) != 0)
            e = fr_diag_set(&d, FR_ERR_IO, "cannot write %s", o->json_path);
        json_decref(root);
    }
    json_decref(env);
    json_decref(runs);
    kb_dnnl_free(k);
    free(samples);
    if (e) fprintf(stderr, "bench-kernels: %s\n", d.msg[0] ? d.msg : fr_err_message(e));
    return e ? 1 : 0;
}

int main(int argc, char **argv)
{
    frw_blas_env_apply(argv);
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, 't'},
        {"min-time-ms", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"markdown", no_argument, NULL, 'M'},
        {"json-file", required_argument, NULL, 'J'},
        {"attempts", required_argument, NULL, 'a'},
        {"quiet-wait-s", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    options o = {.threads = {1, 2},
                 .nthreads = 2,
                 .json = false,
                 .attempts = 3,
                 .quiet_wait_s = 5,
                 .timing = {.min_ms = 200, .min_samples = 7, .max_samples = 20000, .max_ms = 2000}};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!parse_threads(optarg, &o)) return usage("bad --threads '%s' (e.g. 1,2)", optarg);
            break;
        case 'm':
            if (!parse_long(optarg, 1, 60000, &v)) return usage("bad --min-time-ms '%s'", optarg);
            o.timing.min_ms = (double)v;
            o.timing.max_ms = 10.0 * (double)v;
            break;
        case 'j':
            o.json = true;
            break;
        case 'a':
            if (!parse_long(optarg, 1, 10, &v)) return usage("bad --attempts '%s' (1..10)", optarg);
            o.attempts = (int)v;
            break;
        case 'q':
            if (!parse_long(optarg, 0, 3600, &v)) return usage("bad --quiet-wait-s '%s'", optarg);
            o.quiet_wait_s = (double)v;
            break;
        case 'J':
            o.json_path = optarg;
            break;
        case 'M':
            o.markdown = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return usage("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return usage("%s", "expects at least one MODEL.json");
    return bench(argv + optind, argc - optind, &o);
}
