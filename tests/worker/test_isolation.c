/*
 * test_isolation.c - `fastrun run` when things go wrong: a run killed half-way resumes where it
 * stopped, a second run on the same cache file gets the lock error, a corrupt or truncated cache
 * file is an error that leaves it untouched, and candidates that crash or hang (the profiler's
 * test hooks) are recorded as failures while the run succeeds.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fx.h"

TestSuite(isolation, .init = fx_setup, .fini = fx_teardown, .timeout = 180);

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

Test(isolation, corrupt_or_truncated_cache_is_an_error_and_left_untouched)
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

Test(isolation, resumes_after_sigkill_and_profiles_only_the_rest)
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
    size_t saved = fx_entries_in(cache, json_string_value(json_object_get(info, "category")));
    cr_assert(saved >= 1 && saved < 6, "saved %zu", saved);

    r = fx_run(NULL, (const char *[]){"run", model, "--fast-run", "--fast-run-algo-policy", cache,
                                      "--iterations", "1", "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq((size_t)fx_profiled(rep), 6 - saved);
    cr_assert_eq(fx_count_source(rep, "cache"), saved);
    cr_assert_eq(fx_entries_in(cache, fx_report_category(rep)), 6);
    json_decref(rep);
    json_decref(info);
}

Test(isolation, a_second_run_on_the_same_file_gets_the_lock_error)
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

Test(isolation, a_crashing_candidate_is_recorded_and_the_run_succeeds)
{
    fx_result r =
        fx_run((const char *[]){"FASTRUN_TEST_CRASH_ALGO=conv2d.im2col_gemm", NULL},
               (const char *[]){"run", fx_model("tiny.json"), "--fast-run", "--iterations", "1",
                                "--report", fx_path("r.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_t *rep = fx_json(fx_path("r.json"));
    cr_assert_eq(fx_profiled(rep), 7);
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

Test(isolation, a_hanging_candidate_is_killed_and_recorded)
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

/* The algorithm a --report chose for its first operator (copied; caller frees). */
static char *first_choice(const char *report)
{
    json_t *rep = fx_json(report);
    json_t *op = json_array_get(json_object_get(rep, "operators"), 0);
    char *name = strdup(json_string_value(json_object_get(op, "algorithm")));
    json_decref(rep);
    return name;
}

Test(isolation, a_wrong_candidate_is_recorded_failed_never_timed_nor_chosen)
{
    const char *model = fx_path("one.json");
    fx_write(model, "{\"name\": \"one\", \"operators\": [{\"name\": \"pw\", \"op\": \"conv2d\", "
                    "\"n\": 1, \"c\": 16, \"h\": 16, \"w\": 16, \"k\": 32, \"r\": 1, \"s\": 1, "
                    "\"stride\": [1, 1], \"pad\": [0, 0], \"dilation\": [1, 1], \"groups\": 1}]}");
    /* The winner of an honest run is the candidate the hook then breaks. */
    fx_result r = fx_run(NULL, (const char *[]){"run", model, "--fast-run", "--iterations", "1",
                                                "--report", fx_path("r0.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *winner = first_choice(fx_path("r0.json"));
    char hook[128];
    snprintf(hook, sizeof hook, "FASTRUN_TEST_WRONG_ALGO=%s", winner);
    const char *cache = fx_path("c.json");
    r = fx_run((const char *[]){hook, NULL},
               (const char *[]){"run", model, "--fast-run", "--fast-run-algo-policy", cache,
                                "--verbose", "--iterations", "1", "--report", fx_path("r.json"),
                                NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *chosen = first_choice(fx_path("r.json"));
    cr_assert_str_neq(chosen, winner, "a wrong candidate was chosen");
    /* --verbose shows it failed with a wrong result. */
    char line[200];
    snprintf(line, sizeof line, "%-28s failed: wrong result: max error", winner);
    cr_assert(fx_has(r.out, line), "no '%s' in:\n%s", line, r.out);
    /* The cache file records the failure and no figures: it was never timed. */
    json_t *doc = fx_json(cache);
    json_t *ent = json_array_get(
        json_object_get(json_array_get(json_object_get(doc, "categories"), 0), "entries"), 0);
    size_t j;
    json_t *c;
    bool seen = false;
    json_array_foreach(json_object_get(ent, "results"), j, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "algorithm")), winner)) continue;
        const char *f = json_string_value(json_object_get(c, "failure"));
        cr_assert(f && strstr(f, "wrong result"), "%s", f ? f : "-");
        cr_assert_null(json_object_get(c, "median_ms"), "a wrong candidate was timed");
        cr_assert_null(json_object_get(c, "samples"), "a wrong candidate was timed");
        seen = true;
    }
    cr_assert(seen, "%s is missing from the cache file", winner);
    json_decref(doc);
    /* A later run from the file alone does not choose it either. */
    r = fx_run(NULL, (const char *[]){"run", model, "--fast-run-algo-policy", cache, "--iterations",
                                      "1", "--report", fx_path("r2.json"), NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *again = first_choice(fx_path("r2.json"));
    cr_assert_str_neq(again, winner);
    free(again);
    free(chosen);
    free(winner);
}
