/*
 * test_commands.c - the other fastrun commands as a user runs them: info (and the OpenBLAS core
 * decision), algos, verify over the shared models, bench, cache show/merge/diff, model-file
 * errors as the user sees them, and usage errors (exit status 2, naming the bad argument).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cache.h"
#include "fx.h"
#include "kernels.h"

TestSuite(cmd, .init = fx_setup, .fini = fx_teardown, .timeout = 300);

static json_t *run_json(const char *const *env, const char *const *args)
{
    fx_result r = fx_run(env, args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    cr_assert_not_null(j, "not JSON: %s\n%s", e.text, r.out);
    return j;
}

Test(cmd, info_drops_an_inherited_openblas_coretype)
{
    json_t *j = run_json(
        (const char *[]){"OPENBLAS_CORETYPE=Haswell", "FASTRUN_KEEP_OPENBLAS_CORETYPE", NULL},
        (const char *[]){"info", "--json", NULL});
    const char *id = json_string_value(json_object_get(j, "category"));
    cr_assert(id && strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16, "%s", id);
    cr_assert_str_eq(json_string_value(json_object_get(j, "openblas_coretype_dropped")), "Haswell");
    json_t *fp = json_object_get(j, "fingerprint");
    cr_assert_str_neq(json_string_value(json_object_get(fp, "blas_core")), "Haswell");
    /* The id is the cache module's id of the fingerprint shown. */
    frc_fingerprint f = {0};
    fr_diag d = {{0}};
    cr_assert_eq(frc_fingerprint_from_json(fp, "fingerprint", &f, &d), FR_ERR_OK, "%s", d.msg);
    char again[17];
    frc_category_id(&f, again);
    cr_assert_str_eq(again, id);
    frc_fingerprint_cleanup(&f);
    json_decref(j);

    fx_result r =
        fx_run((const char *[]){"OPENBLAS_CORETYPE=Haswell", NULL}, (const char *[]){"info", NULL});
    cr_assert(fx_has(r.out, "OPENBLAS_CORETYPE=Haswell was dropped"), "%s", r.out);
}

Test(cmd, info_keeps_the_coretype_when_asked_and_the_category_changes)
{
    json_t *dropped = run_json((const char *[]){"OPENBLAS_CORETYPE=Haswell", NULL},
                               (const char *[]){"info", "--json", NULL});
    json_t *kept = run_json(
        (const char *[]){"OPENBLAS_CORETYPE=Haswell", "FASTRUN_KEEP_OPENBLAS_CORETYPE=1", NULL},
        (const char *[]){"info", "--json", NULL});
    json_t *fp = json_object_get(kept, "fingerprint");
    cr_assert_str_eq(json_string_value(json_object_get(fp, "blas_core")), "Haswell");
    cr_assert(json_is_null(json_object_get(kept, "openblas_coretype_dropped")));
    cr_assert_str_neq(json_string_value(json_object_get(kept, "category")),
                      json_string_value(json_object_get(dropped, "category")));
    json_decref(dropped);
    json_decref(kept);
}

Test(cmd, info_threads_are_part_of_the_category)
{
    json_t *one = run_json(NULL, (const char *[]){"info", "--json", "--threads", "1", NULL});
    json_t *two = run_json(NULL, (const char *[]){"info", "--json", "--threads", "2", NULL});
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(one, "fingerprint"), "threads")), 1);
    cr_assert_str_neq(json_string_value(json_object_get(one, "category")),
                      json_string_value(json_object_get(two, "category")));
    json_decref(one);
    json_decref(two);
}

Test(cmd, algos_lists_the_registry)
{
    json_t *j = run_json(NULL, (const char *[]){"algos", "--json", NULL});
    cr_assert(json_array_size(j) >= 4);
    size_t i, naive = 0, with_pre = 0;
    json_t *a;
    json_array_foreach(j, i, a)
    {
        cr_assert_not_null(json_string_value(json_object_get(a, "name")));
        cr_assert_not_null(json_string_value(json_object_get(a, "doc")));
        cr_assert(json_is_boolean(json_object_get(a, "weight_preprocess")));
        json_t *attrs = json_object_get(a, "attributes");
        size_t k;
        json_t *at;
        json_array_foreach(attrs, k, at) naive += strcmp(json_string_value(at), "NAIVE") == 0;
        with_pre += json_is_true(json_object_get(a, "weight_preprocess"));
    }
    cr_assert_eq(naive, 2, "one naive reference per operator kind");
    cr_assert_gt(with_pre, 0);
    fx_result r = fx_run(NULL, (const char *[]){"algos", NULL});
    cr_assert(fx_has(r.out, "conv2d.naive") && fx_has(r.out, "matmul.naive"), "%s", r.out);
    json_decref(j);
}

/* Runs verify and checks every line passed. */
static void verify_passes(const char *const *args, size_t min_checks)
{
    fx_result r = fx_run(NULL, args);
    cr_assert_eq(r.code, 0, "verify failed:\n%s%s", r.out, r.err);
    cr_assert_not(fx_has(r.out, "FAIL"), "%s", r.out);
    size_t checks = 0;
    cr_assert(strstr(r.out, " checks, 0 failed"), "%s", r.out);
    for (const char *p = r.out; (p = strstr(p, " ok ")); p++)
        checks++;
    cr_assert_geq(checks, min_checks, "%s", r.out);
}

Test(cmd, verify_passes_on_tiny)
{
    /* Every applicable algorithm of 7 operators, naive included: at least 3 per operator. */
    verify_passes((const char *[]){"verify", fx_model("tiny.json"), NULL}, 21);
}

Test(cmd, verify_passes_on_transformer_and_resnet_operators)
{
    /* Three ResNet-50 shapes (the 7x7 stem, a 3x3, a strided 1x1) keep the naive reference's
     * cost modest; the transformer is small enough to check whole. */
    const char *model = fx_path("resnet-some.json");
    json_t *resnet = fx_json(fx_model("resnet50-b1.json"));
    json_t *ops = json_object_get(resnet, "operators"), *some = json_array();
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "name"));
        if (!strcmp(name, "conv1") || !strcmp(name, "l3.3x3") || !strcmp(name, "l2.down"))
            json_array_append(some, op);
    }
    cr_assert_eq(json_array_size(some), 3);
    json_object_set_new(resnet, "operators", some);
    cr_assert_eq(json_dump_file(resnet, model, 0), 0);
    json_decref(resnet);
    verify_passes((const char *[]){"verify", fx_model("transformer-small.json"), model, NULL}, 30);
}

Test(cmd, verify_names_an_unreadable_model)
{
    fx_result r = fx_run(NULL, (const char *[]){"verify", fx_path("missing.json"), NULL});
    cr_assert_eq(r.code, 1);
    cr_assert(fx_has(r.err, "missing.json"), "%s", r.err);
}

Test(cmd, bench_times_every_algorithm_with_speedups)
{
    const char *model = fx_path("two.json");
    fx_write(model, "{\"name\": \"two\", \"operators\": [{\"name\": \"conv\", \"op\": \"conv2d\", "
                    "\"n\": 1, \"c\": 16, \"h\": 16, \"w\": 16, \"k\": 16, \"r\": 3, \"s\": 3, "
                    "\"stride\": [1, 1], \"pad\": [1, 1], \"dilation\": [1, 1], \"groups\": 1}, "
                    "{\"name\": \"mm\", \"op\": \"matmul\", \"batch\": 1, \"m\": 32, \"n\": 32, "
                    "\"k\": 32}]}");
    json_t *j = run_json(NULL, (const char *[]){"bench", model, "--json", NULL});
    json_t *ops = json_object_get(j, "operators");
    cr_assert_eq(json_array_size(ops), 2);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        json_t *cands = json_object_get(op, "candidates");
        cr_assert_geq(json_array_size(cands), 3, "naive included");
        json_t *first = json_array_get(cands, 0);
        cr_assert_gt(json_real_value(json_object_get(first, "gflops")), 0);
        cr_assert_gt(json_real_value(json_object_get(op, "speedup_over_baseline")), 0.0);
    }
    cr_assert(json_is_false(json_object_get(j, "weight_preprocess")));
    cr_assert(fx_has(json_string_value(json_object_get(json_array_get(ops, 0), "key")), "wp=0"));
    json_decref(j);

    /* --weight-preprocess: the keys say wp=1, and the algorithms with a preprocess step are
     * measured on transformed weights, so they are all still there and verified. */
    j = run_json(NULL, (const char *[]){"bench", model, "--weight-preprocess", "--json", NULL});
    ops = json_object_get(j, "operators");
    cr_assert_eq(json_array_size(ops), 2);
    cr_assert(json_is_true(json_object_get(j, "weight_preprocess")));
    bool saw_preprocessed = false;
    json_array_foreach(ops, i, op)
    {
        cr_assert(fx_has(json_string_value(json_object_get(op, "key")), "wp=1"));
        json_t *c;
        size_t k;
        json_array_foreach(json_object_get(op, "candidates"), k, c)
        {
            const char *name = json_string_value(json_object_get(c, "algorithm"));
            const frk_algo *a = frk_algo_find(name);
            cr_assert(a, "unknown algorithm %s", name);
            cr_assert_null(json_object_get(c, "failure"), "%s failed", name);
            if (a->preprocess) saw_preprocessed = true;
        }
    }
    cr_assert(saw_preprocessed, "no algorithm with a preprocess step was measured");
    json_decref(j);
}

Test(cmd, cache_show_merge_and_diff)
{
    const char *a = fx_path("a.json"), *b = fx_path("b.json"), *out = fx_path("out.json");
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", a, "--iterations", "1", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    r = fx_run(NULL, (const char *[]){"run", fx_model("transformer-small.json"), "--fast-run",
                                      "--fast-run-algo-policy", b, "--iterations", "1", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);

    r = fx_run(NULL, (const char *[]){"cache", "show", a, NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(fx_has(r.out, "matmul batch=3 m=7 n=9 k=5 f32 wp=0"), "%s", r.out);

    r = fx_run(NULL, (const char *[]){"cache", "merge", out, a, b, NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(fx_has(r.out, "13 entries"), "%s", r.out);

    r = fx_run(NULL, (const char *[]){"cache", "diff", a, a, NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(fx_has(r.out, "0 keys with a different winner"), "%s", r.out);

    /* Make the winner of one entry of b slower than its runner-up: diff reports that key. */
    frc_doc doc;
    frc_doc_init(&doc);
    fr_diag d = {{0}};
    cr_assert_eq(frc_file_load(b, &doc, &d), FR_ERR_OK, "%s", d.msg);
    frc_entry *e = NULL;
    for (size_t k = 0; k < doc.cats[0].nentries && !e; k++)
        if (doc.cats[0].entries[k].nresults >= 2 && !doc.cats[0].entries[k].results[1].failure)
            e = &doc.cats[0].entries[k];
    cr_assert_not_null(e, "no entry with two measured results");
    char key[FR_MAX_KEY_LEN];
    snprintf(key, sizeof key, "%s", e->key);
    e->results[0].median_ms = e->results[1].median_ms * 10;
    e->results[0].min_ms = e->results[0].median_ms;
    frc_rank(e->results, e->nresults);
    cr_assert_eq(frc_file_save(fx_path("b2.json"), &doc, &d), FR_ERR_OK, "%s", d.msg);
    frc_doc_cleanup(&doc);
    r = fx_run(NULL, (const char *[]){"cache", "diff", b, fx_path("b2.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(fx_has(r.out, "1 key with a different winner") && fx_has(r.out, key), "%s", r.out);
}

Test(cmd, cache_commands_refuse_corrupt_files)
{
    fx_write(fx_path("bad.json"), "{\"format\": \"fastrun-cache\", ");
    fx_result r = fx_run(NULL, (const char *[]){"cache", "show", fx_path("bad.json"), NULL});
    cr_assert_eq(r.code, 1);
    cr_assert(fx_has(r.err, "bad.json"), "%s", r.err);
    r = fx_run(NULL,
               (const char *[]){"cache", "merge", fx_path("o.json"), fx_path("bad.json"), NULL});
    cr_assert_eq(r.code, 1);
    cr_assert_null(fx_read(fx_path("o.json"), NULL), "nothing written on error");
}

/* fastrun run on a model file with one mistake: exit 1, the detail names file, op and field. */
static void model_error(const char *op_json, const char *const *needles)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"name\": \"bad\", \"operators\": [%s]}", op_json);
    fx_write(fx_path("bad.json"), text);
    fx_result r = fx_run(NULL, (const char *[]){"run", fx_path("bad.json"), NULL});
    cr_assert_eq(r.code, 1, "%s", r.err);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(fx_has(r.err, needles[i]), "'%s' not in: %s", needles[i], r.err);
}

#define MM(extra)                                                                                  \
    "{\"name\": \"fc\", \"op\": \"matmul\", \"batch\": 1, \"m\": 2, \"n\": 2, " extra "}"

Test(cmd, model_file_errors_name_file_operator_and_field)
{
    model_error(MM("\"k\": 2, \"bias\": true"),
                (const char *[]){"bad.json: operator 'fc' (#0): field 'bias'", NULL});
    model_error("{\"name\": \"p\", \"op\": \"maxpool\"}",
                (const char *[]){"bad.json: operator 'p' (#0): field 'op'", "maxpool", NULL});
    model_error(MM("\"k\": \"2\""),
                (const char *[]){"bad.json: operator 'fc' (#0): field 'k'", NULL});
    model_error(MM("\"k\": 2") ", " MM("\"k\": 3"),
                (const char *[]){"bad.json: operator 'fc' (#1): field 'name'", "duplicate", NULL});
    model_error("{\"name\": \"c\", \"op\": \"conv2d\", \"n\": 1, \"c\": 1, \"h\": 2, \"w\": 8, "
                "\"k\": 1, \"r\": 3, \"s\": 1, \"stride\": [1, 1], \"pad\": [0, 0], \"dilation\": "
                "[1, 1], \"groups\": 1}",
                (const char *[]){"bad.json: operator 'c' (#0): field 'h'", "empty", NULL});
}

Test(cmd, usage_errors_exit_2_and_name_the_argument)
{
    struct {
        const char *args[6];
        const char *needle;
    } cases[] = {
        {{"frobnicate", NULL}, "frobnicate"},
        {{"run", NULL}, "MODEL"},
        {{"run", "m.json", "--threads", "0", NULL}, "--threads"},
        {{"run", "m.json", "--iterations", "12x", NULL}, "12x"},
        {{"run", "m.json", "--workspace-limit", "-5", NULL}, "--workspace-limit"},
        {{"run", "m.json", "--what", NULL}, "--what"},
        {{"run", "a.json", "b.json", NULL}, "b.json"},
        {{"info", "--threads", NULL}, "--threads"},
        {{"cache", "shuffle", NULL}, "shuffle"},
        {{"verify", NULL}, "MODEL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_result r = fx_run(NULL, cases[i].args);
        cr_assert_eq(r.code, 2, "case %zu: %s", i, r.err);
        cr_assert(fx_has(r.err, cases[i].needle), "case %zu: %s", i, r.err);
    }
    fx_result r = fx_run(NULL, (const char *[]){"help", NULL});
    cr_assert_eq(r.code, 0);
    cr_assert(fx_has(r.out, "verify") && fx_has(r.out, "cache"), "%s", r.out);
    /* Every command answers --help on stdout with its own usage line, and exits 0. */
    const char *each[] = {"info", "algos", "verify", "bench", "cache", "run"};
    for (size_t i = 0; i < sizeof each / sizeof each[0]; i++) {
        r = fx_run(NULL, (const char *[]){each[i], "--help", NULL});
        cr_assert_eq(r.code, 0, "%s --help: %s", each[i], r.err);
        char want[64];
        snprintf(want, sizeof want, "usage: fastrun %s", each[i]);
        cr_assert(fx_has(r.out, want), "%s --help printed: %s", each[i], r.out);
    }
}
