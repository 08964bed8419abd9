/*
 * test_jobs.c - jobs end to end: a real PostgreSQL, fastrun-server and real fastrun-worker
 * processes profiling real models.
 *   - the README's CI recipe, run verbatim with bash and curl, completes a job and downloads
 *     its cache, while a second job keeps the other worker busy: two workers never measured at
 *     the same time (the machine-wide lock), and an algorithm that crashes is a recorded
 *     candidate failure, not a job failure;
 *   - the recipe fails the CI step when its job is cancelled;
 *   - a worker killed with SIGKILL mid-job is replaced, and the job completes with every
 *     operator reported exactly once and no result lost;
 *   - cancel stops the worker;
 *   - a job for a pool with no worker stays queued and says so.
 */
#include "cache.h"
#include "jobs_fx.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ```sh block of the README's "## CI recipe" section, verbatim (caller frees). */
static char *readme_recipe(void)
{
    char *readme = frt_read_file(frt_bin("FASTRUN_README", "README.md"), NULL);
    cr_assert_not_null(readme, "cannot read README.md");
    char *sec = strstr(readme, "\n## CI recipe\n");
    cr_assert_not_null(sec, "README.md has no '## CI recipe' section");
    char *start = strstr(sec, "\n```sh\n");
    cr_assert_not_null(start, "the CI recipe has no ```sh block");
    start += strlen("\n```sh\n");
    char *end = strstr(start, "\n```");
    cr_assert_not_null(end);
    char *recipe = strndup(start, (size_t)(end - start + 1));
    free(readme);
    return recipe;
}

/* Runs the recipe in f's folder with MODEL and POOL; returns its exit code, output in out. */
static int run_recipe(jfx *f, const char *model, const char *pool, char *out, size_t len)
{
    char *recipe = readme_recipe();
    char path[300];
    snprintf(path, sizeof path, "%s", jfx_path(f, "ci.sh"));
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(recipe, fp);
    fclose(fp);
    free(recipe);
    char env_server[128], env_token[128], env_model[64], env_pool[64];
    snprintf(env_server, sizeof env_server, "FASTRUN_SERVER=%s", f->srv.url);
    snprintf(env_token, sizeof env_token, "FASTRUN_TOKEN=%s", f->submitter);
    snprintf(env_model, sizeof env_model, "MODEL=%s", model);
    snprintf(env_pool, sizeof env_pool, "POOL=%s", pool);
    const char *argv[] = {"/usr/bin/env", "-C",     f->dir, env_server, env_token,
                          env_model,      env_pool, "bash", "ci.sh",    NULL};
    static char err[8192];
    int rc = frt_run(argv, NULL, out, len, err, sizeof err);
    fprintf(stderr, "ci.sh (exit %d) stderr:\n%s\n", rc, err);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

/* Every measurement window of every done operator of the jobs, sorted; none may overlap. */
static void assert_no_overlap(jfx *f, const long *ids, size_t n)
{
    double from[64], to[64];
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        json_t *job = jfx_job(f, ids[j]);
        size_t i;
        json_t *op;
        json_array_foreach(json_object_get(job, "operators"), i, op)
        {
            json_t *c = json_object_get(op, "conditions");
            if (!json_is_object(c) || k == 64) continue;
            from[k] = (double)jfx_int(c, "measured_from_ms") / 1000.0;
            to[k] = (double)jfx_int(c, "measured_to_ms") / 1000.0;
            cr_assert(from[k] > 0 && to[k] > from[k], "operator without a measurement window: %s",
                      json_dumps(c, 0));
            k++;
        }
        json_decref(job);
    }
    cr_assert_gt(k, 4);
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++)
            cr_assert(to[a] <= from[b] + 0.005 || to[b] <= from[a] + 0.005,
                      "two measurements overlapped: [%.3f, %.3f] and [%.3f, %.3f]", from[a], to[a],
                      from[b], to[b]);
}

Test(jobs, readme_recipe_completes_and_downloads_the_cache, .timeout = 120)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    /* Every candidate im2col_gemm crashes in its isolated child: recorded, not fatal. */
    setenv("FASTRUN_TEST_CRASH_ALGO", "conv2d.im2col_gemm", 1);
    jfx_worker_start(&f, "w1", "ci");
    jfx_worker_start(&f, "w2", "ci");
    char *tiny = frt_read_file(FR_MODELS_DIR "/tiny.json", NULL);
    cr_assert_not_null(tiny);
    write_file(jfx_path(&f, "model.json"), tiny);
    /* A second job (weight-preprocessed keys) keeps the other worker measuring meanwhile. */
    long other = jfx_submit(&f, tiny, "target=ci&weight_preprocess=1");
    cr_assert_gt(other, 0);
    free(tiny);

    char out[65536];
    cr_assert_eq(run_recipe(&f, "model.json", "ci", out, sizeof out), 0, "the recipe failed");
    json_t *job = json_loads(out, 0, NULL);
    cr_assert_not_null(job, "step 2 printed no job: %s", out);
    cr_assert_str_eq(jfx_str(job, "state"), "done");
    cr_assert_eq(jfx_int(job, "progress.done"), 7);
    long id = (long)jfx_int(job, "id");
    size_t i, crashed = 0;
    json_t *op;
    /* The cache the recipe downloaded: a valid document of the job's category holding every
     * operator of the model (and whatever else the category has). */
    frc_doc doc;
    fr_diag d;
    frc_doc_init(&doc);
    cr_assert_eq(frc_file_load(jfx_path(&f, "fastrun-cache.json"), &doc, &d), FR_ERR_OK, "%s",
                 d.msg);
    cr_assert_eq(doc.ncats, 1);
    cr_assert_str_eq(doc.cats[0].id, jfx_str(job, "category"));
    json_array_foreach(json_object_get(job, "operators"), i, op)
    {
        cr_assert_eq(jfx_int(op, "reports"), 1);
        crashed += (size_t)jfx_int(op, "failed_candidates");
        cr_assert_not_null(frc_category_find(&doc.cats[0], jfx_str(op, "key")),
                           "%s is not in the downloaded cache", jfx_str(op, "key"));
    }
    cr_assert_gt(crashed, 0, "the crashing candidate was not recorded as a failure");
    frc_doc_cleanup(&doc);
    json_decref(job);

    bool ok;
    json_decref(jfx_until(&f, other, jfx_state_is, "done", 60, &ok));
    cr_assert(ok, "the second job did not finish");
    long ids[] = {id, other};
    assert_no_overlap(&f, ids, 2);
    unsetenv("FASTRUN_TEST_CRASH_ALGO");
    jfx_stop(&f);
}

Test(jobs, readme_recipe_fails_when_the_job_is_cancelled, .timeout = 60)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    write_file(jfx_path(&f, "model.json"),
               "{\"name\": \"m\", \"operators\": [{\"name\": \"mm\", "
               "\"op\": \"matmul\", \"batch\": 1, \"m\": 8, \"n\": 8, \"k\": 8}]}");
    pid_t pid = fork();
    if (pid == 0) { /* no worker in pool "none": the recipe waits until the job is cancelled */
        char out[4096];
        _exit(run_recipe(&f, "model.json", "none", out, sizeof out) == 0 ? 0 : 42);
    }
    json_t *list = NULL;
    for (int i = 0; i < 100 && json_array_size(json_object_get(list, "jobs")) == 0; i++) {
        json_decref(list);
        usleep(100000);
        jfx_req(&f, "GET", "/v1/jobs?target=none", NULL, NULL, &list);
    }
    long id = (long)jfx_int(json_array_get(json_object_get(list, "jobs"), 0), "id");
    json_decref(list);
    cr_assert_gt(id, 0, "the recipe did not submit");
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    cr_assert_eq(jfx_req(&f, "DELETE", path, f.submitter, NULL, NULL), 200);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42,
              "the CI step must fail when its job was cancelled");
    jfx_stop(&f);
}

Test(jobs, killed_worker_is_replaced_and_nothing_is_profiled_twice, .timeout = 120)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    jfx_worker_start(&f, "w1", "p");
    jfx_worker_start(&f, "w2", "p");
    char *model = jfx_conv_model("five-convs", 5, 32, 28);
    long id = jfx_submit(&f, model, "target=p");
    free(model);
    cr_assert_gt(id, 0);
    bool ok;
    int one = 1;
    json_t *job = jfx_until(&f, id, jfx_done_at_least, &one, 60, &ok);
    cr_assert(ok, "no operator was reported");
    char victim[32];
    snprintf(victim, sizeof victim, "%s", jfx_str(job, "worker.name"));
    long long victim_id = jfx_int(job, "worker.id");
    jfx_worker *w = jfx_worker_named(&f, victim);
    cr_assert_not_null(w, "job held by unknown worker '%s'", victim);
    cr_assert_eq(kill(w->proc.pid, SIGKILL), 0);
    json_decref(job);
    usleep(500000); /* a report the victim had fully sent may still be committing */
    /* Which operators had landed when it died: read after the kill, so none can land later. */
    job = jfx_job(&f, id);
    bool landed[5] = {false};
    size_t i, nlanded = 0;
    json_t *op;
    json_array_foreach(json_object_get(job, "operators"), i, op)
    {
        landed[i] = !strcmp(jfx_str(op, "state"), "done");
        nlanded += landed[i];
    }
    cr_assert_lt(nlanded, 5, "the job finished before the kill: make the model slower");
    json_decref(job);

    job = jfx_until(&f, id, jfx_state_is, "done", 90, &ok);
    cr_assert(ok, "the job did not complete after its worker died: %s", jfx_str(job, "note"));
    json_t *atts = json_object_get(job, "attempts");
    cr_assert_geq(json_array_size(atts), 2);
    cr_assert_str_eq(jfx_str(json_array_get(atts, 0), "outcome"), "lease_expired");
    cr_assert_str_eq(jfx_str(json_array_get(atts, json_array_size(atts) - 1), "outcome"),
                     "completed");
    json_array_foreach(json_object_get(job, "operators"), i, op)
    {
        cr_assert_str_eq(jfx_str(op, "state"), "done");
        cr_assert_eq(jfx_int(op, "reports"), 1, "operator %zu reported more than once", i);
        if (landed[i]) { /* kept from the dead worker's attempt, not profiled again */
            cr_assert_eq(jfx_int(op, "attempt"), 1);
            cr_assert_eq(jfx_int(op, "worker_id"), victim_id);
        } else {
            cr_assert_neq(jfx_int(op, "worker_id"), victim_id);
        }
    }
    json_decref(job);
    /* The survivor profiled only what was missing: its log names no landed operator. */
    jfx_worker *survivor = jfx_worker_named(&f, strcmp(victim, "w1") ? "w1" : "w2");
    char *log = frt_read_file(survivor->log, NULL);
    cr_assert_not_null(log);
    for (int k = 0; k < 5; k++) {
        char line[64];
        snprintf(line, sizeof line, "operator #%d 'conv%d' profiled", k, k);
        cr_assert_eq(strstr(log, line) != NULL, !landed[k], "operator %d: landed=%d, log:\n%s", k,
                     landed[k], log);
    }
    free(log);
    /* Nothing lost, nothing twice: every result in the merged cache comes from one report. */
    char path[64];
    json_t *cache;
    snprintf(path, sizeof path, "/v1/jobs/%ld/cache", id);
    cr_assert_eq(jfx_req(&f, "GET", path, NULL, NULL, &cache), 200);
    json_t *entries =
        json_object_get(json_array_get(json_object_get(cache, "categories"), 0), "entries");
    cr_assert_eq(json_array_size(entries), 5);
    json_t *en;
    json_array_foreach(entries, i, en)
    {
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(en, "results"), k, r)
            cr_assert_eq(jfx_int(r, "reports"), 1, "%s uploaded twice", jfx_str(en, "key"));
    }
    json_decref(cache);
    jfx_stop(&f);
}

Test(jobs, cancel_stops_the_worker, .timeout = 90)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    jfx_worker *w = jfx_worker_start(&f, "w1", "p");
    char *model = jfx_conv_model("slow", 6, 32, 28);
    long id = jfx_submit(&f, model, "target=p");
    free(model);
    bool ok;
    int one = 1;
    json_decref(jfx_until(&f, id, jfx_done_at_least, &one, 60, &ok));
    cr_assert(ok);
    char path[64];
    json_t *job;
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    cr_assert_eq(jfx_req(&f, "DELETE", path, f.submitter, NULL, &job), 200);
    cr_assert_str_eq(jfx_str(job, "state"), "cancelled");
    long long done_at_cancel = jfx_int(job, "progress.done");
    json_decref(job);
    cr_assert_eq(jfx_req(&f, "DELETE", path, f.submitter, NULL, NULL), 409, "cancel twice");
    /* The worker learns it at its next heartbeat or report and drops the job. */
    char *log = NULL;
    for (int i = 0; i < 150; i++) {
        free(log);
        log = frt_read_file(w->log, NULL);
        if (log && strstr(log, "lease lost")) break;
        usleep(100000);
    }
    cr_assert(log && strstr(log, "lease lost") && strstr(log, "cancelled"),
              "the worker did not stop the cancelled job:\n%s", log ? log : "");
    free(log);
    job = jfx_job(&f, id);
    cr_assert_str_eq(jfx_str(job, "state"), "cancelled");
    cr_assert_eq(jfx_int(job, "progress.done"), done_at_cancel, "an operator landed after cancel");
    json_decref(job);
    /* Waiting for a cancelled job with require=done is an error naming it. */
    snprintf(path, sizeof path, "/v1/jobs/%ld?wait=5&require=done", id);
    cr_assert_eq(jfx_req(&f, "GET", path, NULL, NULL, &job), 409);
    cr_assert(strstr(jfx_str(job, "error.detail"), "cancelled"));
    json_decref(job);
    jfx_stop(&f);
}

Test(jobs, job_for_a_pool_without_workers_stays_queued_and_says_so, .timeout = 60)
{
    jfx f;
    cr_assert_eq(jfx_start(&f, NULL), 0);
    jfx_worker_start(&f, "cpu1", "cpu");
    long id = jfx_submit(&f,
                         "{\"name\": \"m\", \"operators\": [{\"name\": \"mm\", \"op\": "
                         "\"matmul\", \"batch\": 1, \"m\": 8, \"n\": 8, \"k\": 8}]}",
                         "target=gpu");
    cr_assert_gt(id, 0);
    char path[64];
    json_t *job;
    snprintf(path, sizeof path, "/v1/jobs/%ld?wait=3&require=done", id);
    cr_assert_eq(jfx_req(&f, "GET", path, NULL, NULL, &job), 504);
    cr_assert(strstr(jfx_str(job, "error.detail"), "still queued"), "%s",
              jfx_str(job, "error.detail"));
    json_decref(job);
    job = jfx_job(&f, id);
    cr_assert_str_eq(jfx_str(job, "state"), "queued");
    cr_assert_str_eq(jfx_str(job, "note"), "no live worker in pool 'gpu'");
    cr_assert_eq(jfx_int(job, "attempt"), 0);
    json_decref(job);
    /* The worker of pool cpu is live and idle meanwhile. */
    json_t *workers;
    cr_assert_eq(jfx_req(&f, "GET", "/v1/workers", NULL, NULL, &workers), 200);
    json_t *w0 = json_array_get(json_object_get(workers, "workers"), 0);
    cr_assert_str_eq(jfx_str(w0, "pool"), "cpu");
    cr_assert(json_is_true(json_object_get(w0, "live")));
    cr_assert(json_is_null(json_object_get(w0, "job")));
    json_decref(workers);
    jfx_stop(&f);
}
