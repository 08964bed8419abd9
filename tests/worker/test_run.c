/*
 * test_run.c - `fastrun run` as a user runs it, one test per row of DESIGN.md's table of the
 * local runner, plus resume after SIGKILL, the cache-file lock, corrupt files, and the crash and
 * hang test hooks of the profiler. Assertions read what a user reads: the exit status, the
 * messages, the --report JSON and the cache file (loaded with the cache module).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fx.h"

TestSuite(run, .init = fx_setup, .fini = fx_teardown, .timeout = 180);

/* Six distinct mid-size convolutions: profiling takes a few seconds, long enough to interrupt. */
static void write_six_op_model(const char *path)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"name\": \"six\", \"operators\": [");
    for (int i = 0; i < 6; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%s{\"name\": \"c%d\", \"op\": \"conv2d\", \"n\": 1, \"c\": 32, "
                              "\"h\": 32, \"w\": 32, \"k\": %d, \"r\": 3, \"s\": 3, \"stride\": "
                              "[1, 1], \"pad\": [1, 1], \"dilation\": [1, 1], \"groups\": 1}",
                              i ? ", " : "", i, 32 + 8 * i);
    snprintf(text + n, sizeof text - n, "]}");
    fx_write(path, text);
}

/* Number of entries of the category `id` in a cache file (which must load). */
static size_t entries_in(const char *path, const char *id)
{
    frc_doc doc;
    frc_doc_init(&doc);
    fr_diag d = {{0}};
    cr_assert_eq(frc_file_load(path, &doc, &d), FR_ERR_OK, "%s", d.msg);
    const frc_category *cat = frc_doc_find_category(&doc, id);
    size_t n = cat ? cat->nentries : 0;
    frc_doc_cleanup(&doc);
    return n;
}

static const char *report_category(const json_t *rep)
{
    return json_string_value(json_object_get(rep, "category"));
}

static json_int_t profiled(const json_t *rep)
{
    return json_integer_value(json_object_get(rep, "profiled"));
}

/* Whether any candidate of any operator is named `algo`, and whether one was measured. */
static bool has_candidate(const json_t *rep, const char *algo, bool measured)
{
    size_t i, j;
    json_t *op, *c;
    json_array_foreach(json_object_get(rep, "operators"), i, op)
    {
        json_array_foreach(json_object_get(op, "candidates"), j, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "algorithm")), algo) != 0) continue;
            if (!measured || json_object_get(c, "median_ms")) return true;
        }
    }
    return false;
}

static bool attrs_have(const json_t *attrs, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a) if (strcmp(json_string_value(a), name) == 0) return true;
    return false;
}

Test(run, no_flags_uses_the_heuristic_for_every_operator)
{
    fx_result r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--iterations", "2",
                                                "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(fx_count_source(rep, "heuristic"), 7);
    cr_assert_eq(profiled(rep), 0);
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
    cr_assert_eq(profiled(rep), 7);
    cr_assert_eq(fx_count_source(rep, "profiled"), 7);
    cr_assert_not(has_candidate(rep, "conv2d.naive", false));
    cr_assert_not(has_candidate(rep, "matmul.naive", false));
    json_decref(rep);
}

Test(run, full_run_also_measures_naive)
{
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--full-run", "--iterations",
                                      "2", "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(profiled(rep), 7);
    cr_assert(has_candidate(rep, "conv2d.naive", true));
    cr_assert(has_candidate(rep, "matmul.naive", true));
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
    cr_assert_eq(profiled(rep), 7);
    cr_assert_eq(entries_in(cache, report_category(rep)), 7);
    json_decref(rep);

    size_t len1, len2;
    char *before = fx_read(cache, &len1);
    r = fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", cache, "--iterations", "2",
                                      "--report", fx_path("r2.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    rep = fx_json(fx_path("r2.json"));
    cr_assert_eq(profiled(rep), 0);
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
    cr_assert_eq(profiled(rep), 6);
    cr_assert_eq(entries_in(cache, report_category(rep)), 13);
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
    cr_assert_eq(profiled(rep), 0);
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
        cr_assert(attrs_have(json_object_get(op, "attributes"), "REPRODUCIBLE"), "%s",
                  json_string_value(json_object_get(op, "algorithm")));
    }
    /* split_reduce is not REPRODUCIBLE and applies to these convolutions: still measured. */
    cr_assert(has_candidate(rep, "conv2d.split_reduce", true));
    json_decref(rep);
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
    cr_assert_eq(profiled(rep), 7);
    cr_assert_eq(entries_in(cache, report_category(rep)), 14);
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

Test(run, corrupt_or_truncated_cache_is_an_error_and_left_untouched)
{
    const char *cache = fx_path("c.json");
    fx_result r =
        fx_run(NULL, (const char *[]){"run", fx_model("tiny.json"), "--fast-run",
                                      "--fast-run-algo-policy", cache, "--iterations", "1", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    size_t len;
    char *full = fx_read(cache, &len);
    full[len / 2] = '\0'; /* truncated half-way */
    fx_write(cache, full);
    const char *flags[][2] = {{"--fast-run", "--fast-run-algo-policy"},
                              {"--fast-run-algo-policy", NULL}};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"run",
                              fx_model("tiny.json"),
                              flags[i][0],
                              flags[i][1] ? flags[i][1] : cache,
                              flags[i][1] ? cache : NULL,
                              NULL};
        r = fx_run(NULL, args);
        cr_assert_eq(r.code, 1, "%s", r.err);
        cr_assert(fx_has(r.err, "c.json") && fx_has(r.err, "line"), "%s", r.err);
        char *now = fx_read(cache, NULL);
        cr_assert_str_eq(now, full, "the corrupt file was modified");
        free(now);
    }
    free(full);
}

Test(run, resumes_after_sigkill_and_profiles_only_the_rest)
{
    const char *model = fx_path("six.json");
    const char *cache = fx_path("c.json");
    write_six_op_model(model);
    pid_t pid = fx_spawn(
        NULL, (const char *[]){"run", model, "--fast-run", "--fast-run-algo-policy", cache, NULL},
        "killed");
    struct timespec tick = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 12000 && access(cache, F_OK) != 0; i++)
        nanosleep(&tick, NULL);
    cr_assert_eq(access(cache, F_OK), 0, "no operator was saved in time");
    kill(-pid, SIGKILL);
    cr_assert_eq(fx_wait(pid), -SIGKILL, "it finished before it could be killed");

    fx_result r = fx_run(NULL, (const char *[]){"info", "--json", NULL});
    json_t *info = json_loads(r.out, 0, NULL);
    cr_assert_not_null(info);
    size_t saved = entries_in(cache, json_string_value(json_object_get(info, "category")));
    cr_assert(saved >= 1 && saved < 6, "saved %zu", saved);

    r = fx_run(NULL, (const char *[]){"run", model, "--fast-run", "--fast-run-algo-policy", cache,
                                      "--iterations", "1", "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq((size_t)profiled(rep), 6 - saved);
    cr_assert_eq(fx_count_source(rep, "cache"), saved);
    cr_assert_eq(entries_in(cache, report_category(rep)), 6);
    json_decref(rep);
    json_decref(info);
}

Test(run, a_second_run_on_the_same_file_gets_the_lock_error)
{
    const char *model = fx_path("six.json");
    const char *cache = fx_path("c.json");
    write_six_op_model(model);
    char lockfile[600];
    snprintf(lockfile, sizeof lockfile, "%s.lock", cache);
    pid_t first = fx_spawn(NULL,
                           (const char *[]){"run", model, "--fast-run", "--fast-run-algo-policy",
                                            cache, "--iterations", "1", NULL},
                           "first");
    struct timespec tick = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 2000 && access(lockfile, F_OK) != 0; i++)
        nanosleep(&tick, NULL);
    cr_assert_eq(access(lockfile, F_OK), 0, "the first run never took the lock");
    fx_result r = fx_run(
        NULL, (const char *[]){"run", model, "--fast-run", "--fast-run-algo-policy", cache, NULL});
    cr_assert_eq(r.code, 1, "%s", r.err);
    cr_assert(fx_has(r.err, "c.json") && fx_has(r.err, "lock"), "%s", r.err);
    cr_assert_eq(fx_wait(first), 0, "the first run must finish normally");
}

Test(run, a_crashing_candidate_is_recorded_and_the_run_succeeds)
{
    fx_result r =
        fx_run((const char *[]){"FASTRUN_TEST_CRASH_ALGO=conv2d.im2col_gemm", NULL},
               (const char *[]){"run", fx_model("tiny.json"), "--fast-run", "--iterations", "1",
                                "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(profiled(rep), 7);
    size_t i, j, crashed = 0;
    json_t *op, *c;
    json_array_foreach(json_object_get(rep, "operators"), i, op)
    {
        cr_assert_str_neq(json_string_value(json_object_get(op, "algorithm")),
                          "conv2d.im2col_gemm");
        json_array_foreach(json_object_get(op, "candidates"), j, c)
        {
            const char *f = json_string_value(json_object_get(c, "failure"));
            if (strcmp(json_string_value(json_object_get(c, "algorithm")), "conv2d.im2col_gemm"))
                continue;
            cr_assert(f && strstr(f, "SIGSEGV"), "im2col should have crashed: %s", f ? f : "-");
            crashed++;
        }
    }
    cr_assert_eq(crashed, 5, "im2col applies to the five convolutions of tiny");
    json_decref(rep);
}

Test(run, a_hanging_candidate_is_killed_and_recorded)
{
    const char *model = fx_path("one.json");
    fx_write(model, "{\"name\": \"one\", \"operators\": [{\"name\": \"pw\", \"op\": \"conv2d\", "
                    "\"n\": 1, \"c\": 16, \"h\": 16, \"w\": 16, \"k\": 32, \"r\": 1, \"s\": 1, "
                    "\"stride\": [1, 1], \"pad\": [0, 0], \"dilation\": [1, 1], \"groups\": 1}]}");
    time_t t0 = time(NULL);
    fx_result r = fx_run((const char *[]){"FASTRUN_TEST_HANG_ALGO=conv2d.direct_simd", NULL},
                         (const char *[]){"run", model, "--fast-run", "--iterations", "1",
                                          "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_lt(time(NULL) - t0, 30, "the hang was not cut short");
    json_t *rep = fx_json(fx_path("r.json"));
    json_t *op = json_array_get(json_object_get(rep, "operators"), 0);
    size_t j;
    json_t *c;
    bool seen = false;
    json_array_foreach(json_object_get(op, "candidates"), j, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "algorithm")), "conv2d.direct_simd"))
            continue;
        const char *f = json_string_value(json_object_get(c, "failure"));
        cr_assert(f && strstr(f, "timed out"), "%s", f ? f : "-");
        seen = true;
    }
    cr_assert(seen);
    cr_assert_str_neq(json_string_value(json_object_get(op, "algorithm")), "conv2d.direct_simd");
    json_decref(rep);
}
