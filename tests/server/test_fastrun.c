/*
 * test_fastrun.c - `fastrun run --cache-url URL [--token T] [--upload]` against a real server:
 * a first machine profiles and uploads; a second run downloads the category (kept beside the
 * local cache, or in $XDG_CACHE_HOME) and uses it instead of the heuristic or profiling; a third
 * run gets 304 and uses its copy; uploading without a token fails with the server's reason.
 * A token on the command line (--token) works but warns that ps shows it; $FASTRUN_TOKEN does
 * not warn. fastrun-worker's token options: the same warning, and --token-file's errors.
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static fx f;
static char dir[256], model[512];

static void setup(void)
{
    cr_assert_eq(fx_start(&f, NULL), 0, "fixture did not start");
    cr_assert_eq(frt_tempdir(dir, sizeof dir), 0);
    char xdg[300];
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    setenv("XDG_CACHE_HOME", xdg, 1); /* inherited by the fastrun processes */
    unsetenv("FASTRUN_TOKEN");
    /* Small shapes, so profiling takes seconds even on a busy machine. */
    snprintf(model, sizeof model, "%s/small.json", dir);
    FILE *m = fopen(model, "w");
    cr_assert_not_null(m);
    fputs("{\"name\":\"small\",\"operators\":["
          "{\"name\":\"conv\",\"op\":\"conv2d\",\"n\":1,\"c\":4,\"h\":8,\"w\":8,\"k\":8,"
          "\"r\":3,\"s\":3,\"stride\":[1,1],\"pad\":[1,1],\"dilation\":[1,1],\"groups\":1},"
          "{\"name\":\"fc1\",\"op\":\"matmul\",\"batch\":1,\"m\":4,\"n\":16,\"k\":32},"
          "{\"name\":\"fc2\",\"op\":\"matmul\",\"batch\":2,\"m\":3,\"n\":5,\"k\":7}]}",
          m);
    fclose(m);
}

static void teardown(void)
{
    fx_stop(&f);
    frt_rmtree(dir);
}

TestSuite(fastrun, .init = setup, .fini = teardown, .timeout = 240);

/* Runs fastrun with args; returns its exit code, stdout in out, stderr in err. */
static int fastrun(const char *const *args, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *argv[24] = {frt_bin("FASTRUN_BIN", "fastrun")};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return frt_run(argv, NULL, out, outlen, err, errlen);
}

Test(fastrun, profile_upload_then_download_and_use)
{
    static char out[65536], err[65536];
    char local[300], id[32] = "", copy[400];
    snprintf(local, sizeof local, "%s/local.json", dir);

    /* Machine one: nothing on the server yet; profiles, saves locally, uploads. */
    const char *first[] = {"run",     model,          "--fast-run", "--fast-run-algo-policy",
                           local,     "--iterations", "1",          "--cache-url",
                           f.srv.url, "--token",      f.submitter,  "--upload",
                           NULL};
    cr_assert_eq(fastrun(first, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
    cr_assert(strstr(err, "the server has no results for this category yet"), "%s", err);
    cr_assert(strstr(err, "uploaded 3 operators"), "%s", err);
    cr_assert(strstr(err, "--token is visible to other users"), "%s", err);

    const char *info[] = {"info", "--json", NULL};
    cr_assert_eq(fastrun(info, out, sizeof out, NULL, 0), 0);
    json_t *j = json_loads(out, 0, NULL);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "category")));
    json_decref(j);
    frt_resp r = fx_req(&f, "GET", "/v1/categories", NULL, NULL);
    j = fx_json(&r);
    json_t *cat = json_array_get(json_object_get(j, "categories"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(cat, "id")), id);
    cr_assert_eq(json_integer_value(json_object_get(cat, "keys")), 3);
    json_decref(j);
    frt_resp_free(&r);

    /* Machine two: no local cache, no profiling: every operator comes from the server. */
    const char *second[] = {"run", model, "--iterations", "1", "--cache-url", f.srv.url, NULL};
    cr_assert_eq(fastrun(second, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
    cr_assert(strstr(err, "downloaded revision 1"), "%s", err);
    cr_assert_null(strstr(out, "heuristic"), "every operator should be a cache hit:\n%s", out);
    cr_assert(strstr(out, " cache "), "%s", out);
    snprintf(copy, sizeof copy, "%s/xdg/fastrun/server-%s.json", dir, id);
    cr_assert_eq(access(copy, R_OK), 0, "the copy %s should exist", copy);

    /* Again: a conditional GET answered 304, the stored copy used. */
    cr_assert_eq(fastrun(second, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "unchanged (revision 1"), "%s", err);
    cr_assert_null(strstr(out, "heuristic"), "%s", out);
    r = fx_req(&f, "GET", "/metrics", NULL, NULL);
    cr_assert(strstr(r.body, "fastrun_cache_not_modified_total 1"), "%s", r.body);
    frt_resp_free(&r);

    /* Profiling with the server's results: nothing is missing, so nothing is profiled. */
    char local2[300];
    snprintf(local2, sizeof local2, "%s/other.json", dir);
    const char *third[] = {"run",     model,          "--fast-run", "--fast-run-algo-policy",
                           local2,    "--iterations", "1",          "--cache-url",
                           f.srv.url, "--upload",     NULL};
    setenv("FASTRUN_TOKEN", f.worker, 1);
    cr_assert_eq(fastrun(third, out, sizeof out, err, sizeof err), 0, "%s", err);
    unsetenv("FASTRUN_TOKEN");
    cr_assert(strstr(err, "nothing was profiled"), "%s", err);
    cr_assert_null(strstr(err, "visible to other users"), "no warning for $FASTRUN_TOKEN:\n%s",
                   err);
    cr_assert(strstr(out, "profiled 0 operators"), "%s", out);
    snprintf(copy, sizeof copy, "%s.server.json", local2);
    cr_assert_eq(access(copy, R_OK), 0, "the copy beside the local cache: %s", copy);
}

Test(fastrun, upload_without_token_fails_with_the_reason)
{
    static char out[65536], err[65536];
    const char *args[] = {"run",     model,      "--fast-run", "--iterations", "1", "--cache-url",
                          f.srv.url, "--upload", NULL};
    cr_assert_eq(fastrun(args, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "401"), "%s", err);
    cr_assert(strstr(err, "Bearer"), "%s", err);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM uploads"), 0);
}

Test(fastrun, unreachable_server_is_reported_not_fatal)
{
    static char out[65536], err[65536];
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", frt_free_port());
    const char *args[] = {"run", model, "--iterations", "1", "--cache-url", url, NULL};
    cr_assert_eq(fastrun(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "continuing without it"), "%s", err);
    cr_assert(strstr(out, "heuristic"), "%s", out);
}

/* Runs fastrun-worker with args; its token problems must end it before it contacts the server,
 * so one still running after 10 s is killed and counts as -1. err receives its output. */
static int worker(const char *const *args, char *err, size_t errlen)
{
    const char *argv[16] = {frt_bin("FASTRUN_WORKER_BIN", "fastrun-worker")};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    static int runs;
    char log[300];
    snprintf(log, sizeof log, "%s/worker-%d.log", dir, runs++);
    frt_proc p = {0};
    cr_assert_eq(frt_spawn(&p, argv, log, NULL), 0);
    int status = 0, rc = -1;
    bool timed_out = false;
    for (int waited = 0; !timed_out && frt_alive(&p, &status); waited += 20) {
        timed_out = waited >= 10000;
        if (timed_out) frt_stop(&p, SIGKILL, true, 1000);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!timed_out && WIFEXITED(status)) rc = WEXITSTATUS(status);
    char *text = frt_read_file(log, NULL);
    snprintf(err, errlen, "%s", text ? text : "");
    free(text);
    return rc;
}

Test(fastrun, worker_token_options_warn_and_refuse_bad_files)
{
    static char err[65536];
    char empty[300], secret[300];
    snprintf(empty, sizeof empty, "%s/empty.token", dir);
    snprintf(secret, sizeof secret, "%s/worker.token", dir);
    FILE *e = fopen(empty, "w"), *s = fopen(secret, "w");
    cr_assert(e && s);
    fputs("\n", e);
    fprintf(s, "%s\n", f.worker);
    fclose(e);
    fclose(s);

    const char *both[] = {"--server", f.srv.url, "--token", f.worker, "--token-file", secret, NULL};
    cr_assert_eq(worker(both, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "warning: --token is visible to other users"), "%s", err);
    cr_assert(strstr(err, "not both"), "%s", err);

    const char *blank[] = {"--server", f.srv.url, "--token-file", empty, NULL};
    cr_assert_eq(worker(blank, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "the first line is empty"), "%s", err);
    cr_assert_null(strstr(err, "visible to other users"), "%s", err);

    const char *none[] = {"--server", f.srv.url, NULL};
    cr_assert_eq(worker(none, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "$FASTRUN_TOKEN"), "%s", err);
    cr_assert(strstr(err, "--token-file"), "%s", err);
}

/* Reads a whole file (static buffer); "" when missing. */
static const char *slurp(const char *path)
{
    static char buf[1 << 20];
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (!fp) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

Test(fastrun, cache_push_then_pull_conditional_on_the_etag)
{
    static char out[65536], err[65536];
    char local[300], pulled[300], etag[320];
    snprintf(local, sizeof local, "%s/local.json", dir);
    snprintf(pulled, sizeof pulled, "%s/pulled.json", dir);
    snprintf(etag, sizeof etag, "%s.etag", pulled);
    /* A cache file made locally, no server involved. */
    const char *prof[] = {"run", model,          "--fast-run", "--fast-run-algo-policy",
                          local, "--iterations", "1",          NULL};
    cr_assert_eq(fastrun(prof, out, sizeof out, err, sizeof err), 0, "%s", err);

    /* Without a token: the API's 401, printed with its message. */
    const char *push[] = {"cache", "push", local, "--server", f.srv.url, NULL};
    cr_assert_eq(fastrun(push, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "fastrun cache push: upload to ") && strstr(err, "server answered 401"),
              "%s", err);
    cr_assert_eq(fx_count(&f, "SELECT count(*) FROM uploads"), 0);

    setenv("FASTRUN_TOKEN", f.worker, 1);
    cr_assert_eq(fastrun(push, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
    cr_assert(strstr(out, "3 entries pushed to"), "%s", out);
    cr_assert_eq(fx_count(&f, "SELECT count(DISTINCT key) FROM reports"), 3);
    /* Not a terminal: no progress line. */
    cr_assert_null(strstr(err, "KiB"), "%s", err);

    /* Pull: this machine's category, written atomically, ETag beside it. */
    const char *pull[] = {"cache", "pull", "--server", f.srv.url, "-o", pulled, NULL};
    cr_assert_eq(fastrun(pull, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
    cr_assert(strstr(out, "1 category, 3 entries"), "%s", out);
    cr_assert(slurp(etag)[0] == '"', "no ETag saved: '%s'", slurp(etag));
    const char *show[] = {"cache", "show", pulled, NULL};
    cr_assert_eq(fastrun(show, out, sizeof out, err, sizeof err), 0, "%s", err);
    /* The pulled file is a cache `fastrun run` uses as it is: every operator a hit. */
    const char *use[] = {"run", model, "--fast-run-algo-policy", pulled, "--iterations", "1", NULL};
    cr_assert_eq(fastrun(use, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_null(strstr(out, "heuristic"), "%s", out);

    /* Unchanged: a 304, and the file is not rewritten. */
    struct stat before, after;
    cr_assert_eq(stat(pulled, &before), 0);
    char *bytes = strdup(slurp(pulled));
    sleep(1);
    cr_assert_eq(fastrun(pull, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "unchanged"), "%s", out);
    cr_assert_eq(stat(pulled, &after), 0);
    cr_assert_eq(before.st_ino, after.st_ino, "the file was replaced");
    cr_assert_eq(before.st_mtime, after.st_mtime, "the file was rewritten");
    cr_assert_str_eq(slurp(pulled), bytes);
    free(bytes);
    frt_resp r = fx_req(&f, "GET", "/metrics", NULL, NULL);
    cr_assert(strstr(r.body, "fastrun_cache_not_modified_total 1"), "%s", r.body);
    frt_resp_free(&r);

    /* A policy the route rejects: its error, naming the parameter. */
    const char *bad[] = {"cache",  "pull", "--server", f.srv.url, "--category",
                         "nothex", "-o",   pulled,     NULL};
    cr_assert_eq(fastrun(bad, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "fastrun cache pull: GET ") && strstr(err, "server answered 400"), "%s",
              err);
    cr_assert(strstr(err, "category"), "%s", err);
    unsetenv("FASTRUN_TOKEN");
}
