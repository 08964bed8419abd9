/*
 * jobs_fx.c - the jobs tests' fixture (jobs_fx.h).
 */
#include "jobs_fx.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int jfx_start(jfx *f, const char *const *extra)
{
    memset(f, 0, sizeof *f);
    if (frt_pg_shared(&f->pg) != 0 || frt_pg_fresh_db(&f->pg, f->conninfo, sizeof f->conninfo))
        return -1;
    if (frt_tempdir(f->dir, sizeof f->dir) != 0) return -1;
    /* The workers of one test share a measurement lock of their own, so they exclude each
     * other (what is tested) without waiting for measurements of unrelated processes. */
    setenv("FASTRUN_MEASURE_LOCK", jfx_path(f, "measure.lock"), 1);
    const char *args[24] = {"--lease-seconds", JFX_LEASE, "--quiet"};
    size_t n = 3;
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (frt_token(f->conninfo, "submitter", "ci", f->submitter, sizeof f->submitter) ||
        frt_token(f->conninfo, "worker", "workers", f->worker, sizeof f->worker) ||
        frt_token(f->conninfo, "admin", "admin", f->admin, sizeof f->admin))
        return -1;
    return frt_server_start(&f->srv, f->conninfo, args);
}

void jfx_stop(jfx *f)
{
    for (size_t i = 0; i < f->nworkers; i++)
        if (f->workers[i].proc.pid > 0) frt_stop(&f->workers[i].proc, SIGKILL, true, 2000);
    char why[2400];
    cr_expect(frt_server_stop_clean(&f->srv, why, sizeof why), "%s", why);
    if (f->dir[0]) frt_rmtree(f->dir);
    f->dir[0] = '\0';
}

const char *jfx_path(const jfx *f, const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", f->dir, name);
    return buf;
}

jfx_worker *jfx_worker_start(jfx *f, const char *name, const char *pool)
{
    cr_assert_lt(f->nworkers, JFX_MAX_WORKERS);
    jfx_worker *w = &f->workers[f->nworkers++];
    snprintf(w->name, sizeof w->name, "%s", name);
    char logname[64];
    snprintf(logname, sizeof logname, "%s.log", name);
    snprintf(w->log, sizeof w->log, "%s", jfx_path(f, logname));
    const char *argv[] = {frt_bin("FASTRUN_WORKER_BIN", "fastrun-worker"),
                          "--server",
                          f->srv.url,
                          "--token",
                          f->worker,
                          "--pool",
                          pool,
                          "--name",
                          name,
                          "--claim-wait",
                          "5",
                          NULL};
    cr_assert_eq(frt_spawn(&w->proc, argv, w->log, NULL), 0, "cannot start worker %s", name);
    return w;
}

jfx_worker *jfx_worker_named(jfx *f, const char *name)
{
    for (size_t i = 0; i < f->nworkers; i++)
        if (!strcmp(f->workers[i].name, name)) return &f->workers[i];
    return NULL;
}

long jfx_req(jfx *f, const char *method, const char *path, const char *token, const char *body,
             json_t **out)
{
    char url[512], auth[160];
    snprintf(url, sizeof url, "%s%s", f->srv.url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *headers[] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    frt_resp r = {0};
    if (out) *out = NULL;
    if (frt_http(method, url, headers, body, body ? strlen(body) : 0, &r) != 0) return 0;
    if (out && r.body && r.len) *out = json_loads(r.body, 0, NULL);
    long status = r.status;
    frt_resp_free(&r);
    return status;
}

long jfx_submit(jfx *f, const char *model, const char *query)
{
    char path[256];
    json_t *job;
    snprintf(path, sizeof path, "/v1/jobs?%s", query);
    long status = jfx_req(f, "POST", path, f->submitter, model, &job);
    long id = status == 201 ? (long)jfx_int(job, "id") : -1;
    if (status != 201) {
        char *text = job ? json_dumps(job, 0) : NULL;
        fprintf(stderr, "submit %s: HTTP %ld: %s\n", path, status, text ? text : "");
        free(text);
    }
    json_decref(job);
    return id;
}

json_t *jfx_job(jfx *f, long id)
{
    char path[64];
    json_t *job;
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    long status = jfx_req(f, "GET", path, NULL, NULL, &job);
    cr_assert_eq(status, 200, "GET %s: HTTP %ld", path, status);
    cr_assert_not_null(job);
    return job;
}

json_t *jfx_until(jfx *f, long id, jfx_pred pred, const void *arg, double timeout_s, bool *ok)
{
    struct timespec step = {0, 100 * 1000 * 1000};
    for (double waited = 0;; waited += 0.1) {
        json_t *job = jfx_job(f, id);
        *ok = pred(job, arg);
        if (*ok || waited >= timeout_s) return job;
        json_decref(job);
        nanosleep(&step, NULL);
    }
}

bool jfx_done_at_least(const json_t *job, const void *arg)
{
    return jfx_int(job, "progress.done") >= *(const int *)arg;
}

bool jfx_state_is(const json_t *job, const void *arg)
{
    return !strcmp(jfx_str(job, "state"), arg);
}

static const json_t *at(const json_t *obj, const char *path)
{
    char part[64];
    while (obj && *path) {
        size_t n = strcspn(path, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, path);
        obj = json_object_get(obj, part);
        path += n + (path[n] == '.');
    }
    return obj;
}

long long jfx_int(const json_t *obj, const char *path)
{
    const json_t *v = at(obj, path);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

const char *jfx_str(const json_t *obj, const char *path)
{
    const char *s = json_string_value(at(obj, path));
    return s ? s : "";
}

char *jfx_conv_model(const char *name, int n, int c, int hw)
{
    json_t *ops = json_array();
    for (int i = 0; i < n; i++) {
        char opname[32];
        snprintf(opname, sizeof opname, "conv%d", i);
        json_array_append_new(
            ops,
            json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:[i,i],s:[i,i],s:[i,i],s:i}", "name",
                      opname, "op", "conv2d", "n", 1, "c", c, "h", hw, "w", hw, "k", c + 8 * i, "r",
                      3, "s", 3, "stride", 1, 1, "pad", 1, 1, "dilation", 1, 1, "groups", 1));
    }
    json_t *m = json_pack("{s:s,s:o}", "name", name, "operators", ops);
    char *text = json_dumps(m, JSON_INDENT(1));
    json_decref(m);
    cr_assert_not_null(text);
    return text;
}
