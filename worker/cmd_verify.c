/*
 * cmd_verify.c - `fastrun verify MODEL.json... [--threads N]`: every applicable algorithm of
 * every operator (and its preprocessed-weights variant where it has one) checked against the
 * naive reference with frk_verify's rule (tolerance scaled to the reduction length, unwritten
 * outputs, bit-identical repeats for REPRODUCIBLE algorithms). The reference is computed once
 * per operator; each check runs in a child, so a crashing algorithm is reported, not fatal.
 * One line per (operator, algorithm); exit status 1 if anything fails.
 */
#include <string.h>

#include "cli.h"

/* A check taking longer than this is reported as hung. */
#define VERIFY_LIMIT_S 300.0

typedef struct {
    size_t checks, failed;
} tally;

static void check_one(const char *model, const char *opname, const frk_verify_ref *vr,
                      const frk_algo *a, bool pre, tally *t)
{
    frk_verify_result r;
    char failure[256];
    fr_err e = frw_verify_isolated(vr, a, pre, VERIFY_LIMIT_S, &r, failure, sizeof failure);
    t->checks++;
    printf("%-20s %-16s %-26s %-4s ", model, opname, a->name, pre ? "wp" : "");
    if (e) {
        t->failed++;
        printf("FAIL %s\n", failure);
    } else {
        printf("ok   max error %.3g <= %.3g%s\n", r.max_abs_err, r.tolerance,
               r.repro_checked ? ", repeat bit-identical" : "");
    }
    fflush(stdout);
}

static void verify_op(const char *model, const fr_model_op *mop, tally *t)
{
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    char key[FR_MAX_KEY_LEN];
    fr_op_key(&mop->op, false, key, sizeof key);
    frk_verify_ref vr;
    memset(&vr, 0, sizeof vr);
    fr_err e = frk_verify_ref_init(&vr, &mop->op, NULL, &ctx, frw_seed_of(key));
    if (e) {
        t->checks++;
        t->failed++;
        printf("%-20s %-16s FAIL cannot compute the naive reference: %s\n", model, mop->name,
               fr_err_message(e));
        return;
    }
    size_t n;
    const frk_algo *const *table = frk_algos(mop->op.kind, &n);
    for (size_t i = 0; i < n; i++) {
        if (!table[i]->applicable(&mop->op, &ctx)) continue;
        check_one(model, mop->name, &vr, table[i], false, t);
        if (table[i]->preprocess) check_one(model, mop->name, &vr, table[i], true, t);
    }
    frk_verify_ref_cleanup(&vr);
}

int frw_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c != 't') return frw_cli_bad_option("verify", argv, c);
        if (!frw_cli_threads("verify", optarg)) return FRW_EXIT_USAGE;
    }
    if (optind >= argc) return frw_cli_usage("verify", "expects at least one MODEL.json");
    tally t = {0, 0};
    size_t bad_models = 0;
    for (int i = optind; i < argc; i++) {
        fr_model m = {0};
        fr_diag d = {{0}};
        if (fr_model_load_file(argv[i], &m, &d)) {
            fprintf(stderr, "fastrun verify: %s\n", d.msg);
            bad_models++;
            continue;
        }
        for (size_t k = 0; k < m.nops; k++)
            verify_op(m.name, &m.ops[k], &t);
        fr_model_cleanup(&m);
    }
    printf("%zu checks, %zu failed%s\n", t.checks, t.failed,
           bad_models ? " (and some models could not be read)" : "");
    return t.failed || bad_models ? FRW_EXIT_FAIL : FRW_EXIT_OK;
}
