/*
 * test_local.c - `fastrun-server --local-workers N`: one command runs server and workers. The
 * workers register and profile jobs; the token reaches them in the environment, never on the
 * command line; a worker killed with SIGKILL is started again; stopping the server stops the
 * workers, whose job in progress is handed back (not failed), and revokes their token.
 */
#include "jobs_fx.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Pids of the live children of parent (at most max). */
static size_t children_of(pid_t parent, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *close = strrchr(buf, ')');
        char state;
        int ppid;
        if (close && sscanf(close + 2, "%c %d", &state, &ppid) == 2 && ppid == parent &&
            state != 'Z')
            out[n++] = (pid_t)strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    return n;
}

/* A /proc file (whose size stat does not know) with NULs made spaces (caller frees). */
static char *proc_text(pid_t pid, const char *what)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    for (size_t i = 0; i < len; i++)
        if (!buf[i]) buf[i] = ' ';
    buf[len] = '\0';
    char *text = strdup(buf);
    cr_assert_not_null(text);
    return text;
}

static size_t live_workers(jfx *f)
{
    json_t *out;
    cr_assert_eq(jfx_req(f, "GET", "/v1/workers", NULL, NULL, &out), 200);
    size_t i, n = 0;
    json_t *w;
    json_array_foreach(json_object_get(out, "workers"), i, w)
    {
        n += json_is_true(json_object_get(w, "live")) && !strcmp(jfx_str(w, "pool"), "local") &&
             !strncmp(jfx_str(w, "name"), "local-", 6);
    }
    json_decref(out);
    return n;
}

Test(local, server_supervises_its_workers, .timeout = 120)
{
    const char *extra[] = {"--local-workers", "2", "--local-pool", "local", NULL};
    jfx f;
    cr_assert_eq(jfx_start(&f, extra), 0);
    for (int i = 0; i < 100 && live_workers(&f) < 2; i++)
        usleep(100000);
    cr_assert_eq(live_workers(&f), 2, "the two local workers did not register");

    pid_t kids[8];
    size_t nkids = children_of(f.srv.proc.pid, kids, 8);
    cr_assert_eq(nkids, 2);
    for (size_t i = 0; i < nkids; i++) {
        char *cmd = proc_text(kids[i], "cmdline"), *env = proc_text(kids[i], "environ");
        cr_assert(strstr(cmd, "fastrun-worker") && !strstr(cmd, "frt_"),
                  "the token must not be on the command line: %s", cmd);
        cr_assert(strstr(env, "FASTRUN_TOKEN=frt_"), "the token is passed in the environment");
        free(cmd);
        free(env);
    }

    /* They profile jobs. */
    char *tiny = frt_read_file(FR_MODELS_DIR "/tiny.json", NULL);
    long id = jfx_submit(&f, tiny, "target=local");
    free(tiny);
    bool ok;
    json_t *job = jfx_until(&f, id, jfx_state_is, "done", 60, &ok);
    cr_assert(ok, "job state %s", jfx_str(job, "state"));
    cr_assert(!strncmp(jfx_str(json_array_get(json_object_get(job, "attempts"), 0), "worker.name"),
                       "local-", 6));
    json_decref(job);

    /* A worker killed with SIGKILL is started again. */
    cr_assert_eq(kill(kids[0], SIGKILL), 0);
    char *log = NULL;
    for (int i = 0; i < 100; i++) {
        free(log);
        log = frt_read_file(f.srv.log, NULL);
        if (log && strstr(log, "was killed by signal 9; restarting")) break;
        usleep(100000);
    }
    cr_assert(log && strstr(log, "was killed by signal 9; restarting"), "server log:\n%s",
              log ? log : "");
    free(log);
    for (int i = 0; i < 100 && live_workers(&f) < 3; i++)
        usleep(100000);
    cr_assert_eq(live_workers(&f), 3,
                 "no new registration after the restart (the killed "
                 "worker still counts as live until its window passes)");

    /* Stopping the server mid-job: the worker finishes its operator and hands the job back. */
    char *model = jfx_conv_model("slow", 6, 32, 28);
    id = jfx_submit(&f, model, "target=local");
    free(model);
    int one = 1;
    json_decref(jfx_until(&f, id, jfx_done_at_least, &one, 60, &ok));
    cr_assert(ok);
    /* SIGTERM to the server's group, as a service manager would; the workers finish their
     * operator first, so allow for it. */
    int status = frt_stop(&f.srv.proc, SIGTERM, true, 60000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit status %d", status);
    char q[160], v[64];
    snprintf(q, sizeof q,
             "SELECT state || ' ' || (SELECT outcome FROM job_attempts WHERE "
             "job_id = %ld ORDER BY attempt DESC LIMIT 1) FROM jobs WHERE id = %ld",
             id, id);
    cr_assert_eq(frt_pg_sql(f.conninfo, q, v, sizeof v), 0);
    if (strcmp(v, "queued released") != 0) {
        char tail[4096];
        frt_tail(f.srv.log, tail, sizeof tail);
        char att[1024];
        snprintf(q, sizeof q,
                 "SELECT string_agg(attempt || ':' || worker_id || ':' || outcome || "
                 "':' || started_at, ' ') FROM job_attempts WHERE job_id = %ld",
                 id);
        frt_pg_sql(f.conninfo, q, att, sizeof att);
        cr_assert_fail("the job in progress was not handed back: '%s' (%s); server log:\n%s", v,
                       att, tail);
    }
    cr_assert_eq(frt_pg_sql(f.conninfo,
                            "SELECT count(*) FROM tokens WHERE revoked_at IS NULL "
                            "AND name LIKE 'local workers%'",
                            v, sizeof v),
                 0);
    cr_assert_str_eq(v, "0", "the local workers' token outlived the server");
    cr_assert_eq(frt_pg_sql(f.conninfo, "SELECT count(*) FROM workers WHERE stopped_at IS NULL", v,
                            sizeof v),
                 0);
    cr_assert_str_eq(v, "1", "every worker but the killed one signed off");
    jfx_stop(&f);
}
