/*
 * test_run.c - `fastrun run` as a user runs it, one test per row of DESIGN.md's table of the
 * local runner, and the fallbacks when nothing meets the policy
 * (test_isolation.c has the interrupted, concurrent and failing cases). Assertions read what a user
 * reads: the exit status, the messages, the --report JSON and the cache file (loaded with the cache
 * module).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fx.h"

TestSuite(run, .init = fx_setup, .fini = fx_teardown, .timeout = 180);

Test(run, no_flags_uses_the_heuristic_for_every_operator)
{
    fx_result r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--iterations", "2",
                                                "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(fx_count_source(rep, "heuristic"), 7);
    cr_assert_eq(fx_profiled(rep), 0);
    cr_assert(fx_has(r.out, "stem") && fx_has(r.out, "bmm") && fx_has(r.out, "total"), "%s", r.out);
    json_decref(rep);
}

Test(run, fast_run_profiles_every_operator_in_memory_without_naive)
{
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run", "--iterations",
                                      "2", "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(fx_profiled(rep), 7);
    cr_assert_eq(fx_count_source(rep, "profiled"), 7);
    cr_assert_not(fx_has_candidate(rep, "conv2d.naive", false));
    cr_assert_not(fx_has_candidate(rep, "matmul.naive", false));
    json_decref(rep);
}

Test(run, full_run_also_measures_naive)
{
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--full-run", "--iterations",
                                      "2", "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(fx_profiled(rep), 7);
    cr_assert(fx_has_candidate(rep, "conv2d.naive", true));
    cr_assert(fx_has_candidate(rep, "matmul.naive", true));
    json_decref(rep);
}

Test(run, fast_and_full_together_is_a_usage_error)
{
    fx_result r = fx_run(
        NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run", "--full-run", NULL});
    cr_assert_eq(r.code, 2);
    cr_assert(fx_has(r.err, "--fast-run") && fx_has(r.err, "--full-run"), "%s", r.err);
}

Test(run, policy_file_is_filled_once_then_reused)
{
    const char *cache = fx_path("c.json");
    fx_result r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                                "--fast-run-algo-policy", cache, "--iterations",
                                                "2", "--report", fx_path("r1.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r1.json"));
    cr_assert_eq(fx_profiled(rep), 7);
    cr_assert_eq(fx_entries_in(cache, fx_report_category(rep)), 7);
    json_decref(rep);

    size_t len1, len2;
    char *before = fx_read(cache, &len1);
    r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", cache, "--iterations", "2",
                                      "--report", fx_path("r2.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    rep = fx_json(fx_path("r2.json"));
    cr_assert_eq(fx_profiled(rep), 0);
    cr_assert_eq(fx_count_source(rep, "cache"), 7);
    char *after = fx_read(cache, &len2);
    cr_assert(len1 == len2 && memcmp(before, after, len1) == 0, "nothing new, nothing written");
    free(before);
    free(after);
    json_decref(rep);
}

Test(run, several_models_accumulate_in_one_file)
{
    const char *cache = fx_path("c.json");
    const char *models[] = {"tiny.json", "transformer-small.json"};
    for (int i = 0; i < 2; i++) {
        fx_result r = fx_run(NULL, (const char *[]){"run", fx_model(models[i]), "--fast-run",
                                                    "--fast-run-algo-policy", cache, "--iterations",
                                                    "1", "--report", fx_path("r.json"), NULL});
        cr_assert_eq(r.code, 0, "%s", r.err);
    }
    json_t *rep = fx_json(fx_path("r.json"));
    /* transformer-small has 7 operators but attn.scores and attn.context share one key. */
    cr_assert_eq(fx_profiled(rep), 6);
    cr_assert_eq(fx_entries_in(cache, fx_report_category(rep)), 13);
    json_decref(rep);
}

Test(run, policy_file_alone_never_profiles_nor_rewrites)
{
    const char *cache = fx_path("c.json");
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", cache, "--iterations", "1", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    struct stat st1, st2;
    cr_assert_eq(stat(cache, &st1), 0);
    size_t len1, len2;
    char *before = fx_read(cache, &len1);
    sleep(1); /* so that a rewrite would show in the mtime even on coarse clocks */

    /* A covered model: every operator from the cache. */
    r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run-algo-policy", cache,
                                      "--iterations", "1", "--report", fx_path("r1.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r1.json"));
    cr_assert_eq(fx_count_source(rep, "cache"), 7);
    json_decref(rep);

    /* An uncovered model: heuristic for every miss, and it says so. */
    r = fx_run(NULL, (const char *[]){"run", fx_model("transformer-small.json"),
                                      "--fast-run-algo-policy", cache, "--verbose", "--iterations",
                                      "1", "--report", fx_path("r2.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    rep = fx_json(fx_path("r2.json"));
    cr_assert_eq(fx_count_source(rep, "heuristic"), 7);
    cr_assert_eq(fx_profiled(rep), 0);
    cr_assert(fx_has(r.out, "miss: not in"), "%s", r.out);
    json_decref(rep);

    cr_assert_eq(stat(cache, &st2), 0);
    char *after = fx_read(cache, &len2);
    cr_assert(len1 == len2 && memcmp(before, after, len1) == 0, "the file was rewritten");
    cr_assert(st1.st_mtim.tv_sec == st2.st_mtim.tv_sec &&
                  st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec,
              "mtime changed");
    free(before);
    free(after);
}

Test(run, policy_file_alone_must_exist)
{
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run-algo-policy",
                                      fx_path("none.json"), NULL});
    cr_assert_eq(r.code, 1);
    cr_assert(fx_has(r.err, "none.json"), "%s", r.err);
    cr_assert_null(fx_read(fx_path("none.json"), NULL), "must not be created");
}

Test(run, reproducible_chooses_only_reproducible_but_measures_all)
{
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run", "--reproducible",
                                      "--iterations", "1", "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(rep, "operators"), i, op)
    {
        cr_assert(fx_attrs_have(json_object_get(op, "attributes"), "REPRODUCIBLE"), "%s",
                  json_string_value(json_object_get(op, "algorithm")));
    }
    /* split_reduce is not REPRODUCIBLE and applies to these convolutions: still measured. */
    cr_assert(fx_has_candidate(rep, "conv2d.split_reduce", true));
    json_decref(rep);
}

/* Fills cache with tiny's profile. */
static void profile_tiny(const char *cache)
{
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", cache, "--iterations", "1", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
}

/* Rewrites every entry of cache that measured conv2d.split_reduce (not REPRODUCIBLE in the
 * registry) as a downloaded or edited file might: split_reduce labelled REPRODUCIBLE and made the
 * fastest, plus a REPRODUCIBLE "conv2d.from_elsewhere" this build does not know, faster still.
 * Returns how many entries were rewritten. */
static size_t mislabel(const char *cache)
{
    frc_doc doc;
    fr_diag d = {0};
    cr_assert_eq(frc_file_load(cache, &doc, &d), FR_ERR_OK, "%s", d.msg);
    size_t rewritten = 0;
    for (size_t c = 0; c < doc.ncats; c++) {
        frc_category *cat = &doc.cats[c];
        for (size_t k = 0; k < cat->nentries; k++) {
            frc_entry *e = &cat->entries[k];
            size_t n = e->nresults, sr = n;
            for (size_t i = 0; i < n; i++)
                if (strcmp(e->results[i].algorithm, "conv2d.split_reduce") == 0) sr = i;
            if (sr == n || e->results[sr].failure) continue;
            frc_result *rs = calloc(n + 1, sizeof *rs);
            cr_assert_not_null(rs);
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(frc_result_copy(&e->results[i], &rs[i]), FR_ERR_OK);
            rs[sr].attrs |= FR_ATTR_REPRODUCIBLE;
            rs[sr].median_ms = rs[sr].min_ms = 1e-6;
            rs[n] = rs[sr];
            rs[n].algorithm = strdup("conv2d.from_elsewhere");
            rs[n].failure = NULL;
            rs[n].median_ms = rs[n].min_ms = 1e-7;
            char *key = strdup(e->key);
            cr_assert_eq(frc_category_put(cat, key, rs, n + 1), FR_ERR_OK);
            free(key);
            free(rs[n].algorithm);
            for (size_t i = 0; i < n; i++)
                frc_result_cleanup(&rs[i]);
            free(rs);
            rewritten++;
        }
    }
    cr_assert_eq(frc_file_save(cache, &doc, &d), FR_ERR_OK, "%s", d.msg);
    frc_doc_cleanup(&doc);
    return rewritten;
}

Test(run, reproducible_takes_attributes_from_the_registry_not_the_cache)
{
    const char *cache = fx_path("c.json");
    profile_tiny(cache);
    cr_assert_gt(mislabel(cache), 0, "tiny's convolutions measure split_reduce");
    fx_result r = fx_run(
        NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run-algo-policy", cache,
                               "--reproducible", "--verbose", "--iterations", "1", "--report",
                               fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(rep, "operators"), i, op)
    {
        const char *algo = json_string_value(json_object_get(op, "algorithm"));
        cr_assert_str_neq(algo, "conv2d.split_reduce", "the cache's label was obeyed");
        cr_assert(fx_attrs_have(json_object_get(op, "attributes"), "REPRODUCIBLE"), "%s", algo);
    }
    json_decref(rep);
    cr_assert(fx_has(r.out, "skipped (unknown to this build's registry): conv2d.from_elsewhere"),
              "%s", r.out);
    cr_assert(fx_has(r.out, "attributes taken from this build's registry, not the cache, for: "
                            "conv2d.split_reduce"),
              "%s", r.out);
}

Test(run, weight_preprocess_is_part_of_the_key)
{
    const char *cache = fx_path("c.json");
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--weight-preprocess", "--fast-run-algo-policy", cache,
                                      "--iterations", "1", "--report", fx_path("r1.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r1.json"));
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(rep, "operators"), i, op)
    {
        const char *key = json_string_value(json_object_get(op, "key"));
        cr_assert(strlen(key) > 5 && strcmp(key + strlen(key) - 5, " wp=1") == 0, "%s", key);
    }
    json_decref(rep);
    /* The plain run finds none of these keys: it profiles all seven again. */
    r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", cache, "--iterations", "1",
                                      "--report", fx_path("r2.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    rep = fx_json(fx_path("r2.json"));
    cr_assert_eq(fx_profiled(rep), 7);
    cr_assert_eq(fx_entries_in(cache, fx_report_category(rep)), 14);
    json_decref(rep);
}

Test(run, verbose_explains_every_operator)
{
    fx_result r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                                "--verbose", "--iterations", "1", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(fx_has(r.out, "key: conv2d n=1 c=3 h=32 w=32 k=16"), "%s", r.out);
    cr_assert(fx_has(r.out, "key: matmul batch=3 m=7 n=9 k=5 f32 wp=0"), "%s", r.out);
    cr_assert(fx_has(r.out, "profiled -> "), "%s", r.out);
    cr_assert(fx_has(r.out, "candidates:") && fx_has(r.out, "median"), "%s", r.out);
}

/* The chosen algorithms of a report all use at most `limit` bytes of workspace. */
static void assert_workspace_at_most(const json_t *rep, json_int_t limit)
{
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(rep, "operators"), i, op)
    {
        cr_assert_leq(json_integer_value(json_object_get(op, "workspace")), limit, "%s",
                      json_string_value(json_object_get(op, "algorithm")));
    }
}

Test(run, nothing_meeting_the_policy_falls_back_to_the_heuristic_and_says_so)
{
    const char *cache = fx_path("c.json");
    profile_tiny(cache);
    /* Every convolution needs workspace except gemm_1x1 (pw): with a 1-byte limit the cached
     * entries of the other four have nothing acceptable. */
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run-algo-policy", cache,
                                      "--workspace-limit", "1", "--verbose", "--iterations", "1",
                                      "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_geq(fx_count_source(rep, "heuristic"), 4);
    cr_assert_eq(fx_count_source(rep, "heuristic") + fx_count_source(rep, "cache"), 7);
    assert_workspace_at_most(rep, 1);
    cr_assert(fx_has(r.out, "cached entry has no algorithm meeting the policy"), "%s", r.out);
    json_decref(rep);
}

Test(run, nothing_meeting_the_policy_is_reprofiled_when_profiling_is_allowed)
{
    const char *cache = fx_path("c.json");
    profile_tiny(cache);
    fx_result r = fx_run(
        NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run", "--fast-run-algo-policy",
                               cache, "--workspace-limit", "1", "--verbose", "--iterations", "1",
                               "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_geq(fx_profiled(rep), 4, "the entries without an acceptable result");
    assert_workspace_at_most(rep, 1);
    cr_assert(fx_has(r.out, "no measured algorithm meets the policy"), "%s", r.out);
    json_decref(rep);
}
