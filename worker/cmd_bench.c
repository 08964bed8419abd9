/*
 * cmd_bench.c - `fastrun bench MODEL.json [--threads N] [--weight-preprocess] [--json]`: every
 * applicable algorithm of every operator, NAIVE included, measured by the profiler (checked,
 * isolated, median of repeated runs), with GFLOP/s and the speed-up of the best over the
 * baseline a plain library would use (conv2d.im2col_gemm for convolutions, matmul.blas for
 * matrix products). With --weight-preprocess the algorithms that have a preprocess step run on
 * weights transformed before timing, as `fastrun run --weight-preprocess` would (wp=1 keys).
 */
#include <jansson.h>
#include <string.h>

#include "cli.h"

static const char *baseline_of(fr_op_kind kind)
{
    return kind == FR_OP_CONV2D ? "conv2d.im2col_gemm" : "matmul.blas";
}

static const frc_result *find_result(const frc_result *r, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].algorithm, name) == 0 && !r[i].failure) return &r[i];
    return NULL;
}

static json_t *op_json(const fr_model_op *mop, bool wp, const frc_result *r, size_t n,
                       double speedup)
{
    char key[FR_MAX_KEY_LEN];
    fr_op_key(&mop->op, wp, key, sizeof key);
    double flops = fr_op_flops(&mop->op);
    json_t *cands = json_array();
    for (size_t i = 0; cands && i < n; i++) {
        json_t *c =
            r[i].failure
                ? json_pack("{s:s, s:s}", "algorithm", r[i].algorithm, "failure", r[i].failure)
                : json_pack("{s:s, s:f, s:f, s:I, s:f}", "algorithm", r[i].algorithm, "median_ms",
                            r[i].median_ms, "min_ms", r[i].min_ms, "samples",
                            (json_int_t)r[i].samples, "gflops", flops / (r[i].median_ms * 1e6));
        json_array_append_new(cands, c);
    }
    return json_pack("{s:s, s:s, s:f, s:s, s:s, s:o, s:o}", "name", mop->name, "key", key, "flops",
                     flops, "best", r[0].failure ? "" : r[0].algorithm, "baseline",
                     baseline_of(mop->op.kind), "speedup_over_baseline",
                     speedup > 0 ? json_real(speedup) : json_null(), "candidates", cands);
}

static void print_op(const fr_model_op *mop, const frc_result *r, size_t n, double speedup)
{
    char desc[160];
    fr_op_describe(&mop->op, desc, sizeof desc);
    double flops = fr_op_flops(&mop->op);
    printf("%s: %s (%.3g MFLOP)\n", mop->name, desc, flops / 1e6);
    for (size_t i = 0; i < n; i++) {
        if (r[i].failure)
            printf("  %-28s failed: %s\n", r[i].algorithm, r[i].failure);
        else
            printf("  %-28s median %10.4f ms  min %10.4f ms  %4lld samples  %8.2f GFLOP/s\n",
                   r[i].algorithm, r[i].median_ms, r[i].min_ms, (long long)r[i].samples,
                   flops / (r[i].median_ms * 1e6));
    }
    if (speedup > 0)
        printf("  best: %s, %.2fx over %s\n", r[0].algorithm, speedup, baseline_of(mop->op.kind));
    else
        printf("  best: %s (baseline %s not measured)\n", r[0].failure ? "none" : r[0].algorithm,
               baseline_of(mop->op.kind));
}

int frw_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"weight-preprocess", no_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, wp = false;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!frw_cli_threads("bench", optarg)) return FRW_EXIT_USAGE;
            break;
        case 'j':
            json = true;
            break;
        case 'w':
            wp = true;
            break;
        default:
            return frw_cli_bad_option("bench", argv, c);
        }
    }
    if (optind >= argc) return frw_cli_usage("bench", "expects a MODEL.json");
    if (optind + 1 < argc)
        return frw_cli_usage("bench", "unexpected argument '%s'", argv[optind + 1]);
    fr_model m = {0};
    fr_diag d = {{0}};
    fr_err e = fr_model_load_file(argv[optind], &m, &d);
    if (e) return frw_cli_fail("bench", e, &d);
    frw_profile_opts po;
    frw_profile_opts_default(&po);
    po.full = true;
    json_t *ops = json_array();
    for (size_t i = 0; !e && i < m.nops; i++) {
        frc_result *r = NULL;
        size_t n = 0;
        e = frw_profile_op(&m.ops[i].op, wp, &po, &r, &n, NULL, &d);
        if (e) {
            fr_diag_prefix(&d, "%s: operator '%s'", argv[optind], m.ops[i].name);
            break;
        }
        const frc_result *base = find_result(r, n, baseline_of(m.ops[i].op.kind));
        double speedup = base && !r[0].failure ? base->median_ms / r[0].median_ms : 0;
        if (json)
            json_array_append_new(ops, op_json(&m.ops[i], wp, r, n, speedup));
        else
            print_op(&m.ops[i], r, n, speedup);
        fflush(stdout);
        frw_results_free(r, n);
    }
    if (!e && json) {
        json_t *root = json_pack("{s:s, s:i, s:b, s:O}", "model", m.name, "threads",
                                 frk_get_threads(), "weight_preprocess", wp, "operators", ops);
        frw_cli_print_json(root);
        json_decref(root);
    }
    json_decref(ops);
    fr_model_cleanup(&m);
    return e ? frw_cli_fail("bench", e, &d) : FRW_EXIT_OK;
}
