/*
 * test_workerkill.c - workers killed with SIGKILL mid-job, again and again, across several
 * jobs: every job completes, every operator is reported exactly once (no result lost, none
 * duplicated), and no operator is profiled again after its upload landed (each operator's
 * "profiled and uploaded" line appears at most once over all the workers' logs).
 *
 * postgres_stop_leaves_no_job_running: PostgreSQL stopped for 4 s while workers profile two jobs,
 * then started again: both jobs complete, with every operator reported once, and no job or
 * attempt is left "running".
 *
 * Kills are spread so that no job loses its lease more than twice: at --max-attempts (3 by
 * default) the server gives a job up as a poison job, which is its policy, not a loss.
 * Kills: $FASTRUN_HARDENING_KILLS (default 4 in the test suite; scripts/reliability.sh runs 20).
 * Built on the jobs tests' fixture (tests/jobs/jobs_fx.c: server with 3 s leases, tokens, job
 * requests); the workers are started here, since each kill brings a new one.
 */
#include "jobs_fx.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_WORKERS = 64, MAX_JOBS = 32, OPS = 6 };

static jfx f;
static frt_proc procs[MAX_WORKERS];
static char names[MAX_WORKERS][16], logs[MAX_WORKERS][300];
static int nworkers;

static void start_worker(void)
{
    cr_assert_lt(nworkers, MAX_WORKERS);
    int i = nworkers++;
    snprintf(names[i], sizeof names[i], "k%d", i);
    char logname[32];
    snprintf(logname, sizeof logname, "%s.log", names[i]);
    snprintf(logs[i], sizeof logs[i], "%s", jfx_path(&f, logname));
    const char *argv[] = {frt_bin("FASTRUN_WORKER_BIN", "fastrun-worker"),
                          "--server",
                          f.srv.url,
                          "--token",
                          f.worker,
                          "--pool",
                          "p",
                          "--name",
                          names[i],
                          "--claim-wait",
                          "5",
                          NULL};
    cr_assert_eq(frt_spawn(&procs[i], argv, logs[i], NULL), 0, "cannot start worker %s", names[i]);
}

static void teardown(void)
{
    for (int i = 0; i < nworkers; i++)
        if (procs[i].pid > 0) frt_stop(&procs[i], SIGKILL, true, 2000);
    jfx_stop(&f);
}

TestSuite(workerkill, .fini = teardown, .timeout = 900);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long submit(int j)
{
    char name[32];
    snprintf(name, sizeof name, "kill-model-%d", j);
    char *model = jfx_conv_model(name, OPS, 16 + 8 * j, 28); /* distinct keys per job */
    long id = jfx_submit(&f, model, "target=p");
    free(model);
    cr_assert_gt(id, 0, "submitting job %d", j);
    return id;
}

/* Kills per job, capped below the server's --max-attempts (default 3): a job whose lease
 * lapses that often is given up as a poison job, by design; the test spreads its kills. */
#define KILLS_PER_JOB 2
static int job_kills[MAX_JOBS];

/* A job being profiled right now with some but not all of its operators landed, and killed
 * fewer than KILLS_PER_JOB times: the index of the worker holding it (its job index in *job),
 * or -1. *open: jobs not done that may still be killed. */
static int mid_job_worker(const long *ids, int njobs, int *job, int *open)
{
    *open = 0;
    for (int j = 0; j < njobs; j++) {
        json_t *doc = jfx_job(&f, ids[j]);
        const char *state = jfx_str(doc, "state");
        long long done = jfx_int(doc, "progress.done"), total = jfx_int(doc, "progress.total");
        cr_assert(strcmp(state, "failed") && strcmp(state, "cancelled"), "job %ld %s: %s %s",
                  ids[j], state, jfx_str(doc, "error"), jfx_str(doc, "note"));
        bool eligible = strcmp(state, "done") != 0 && job_kills[j] < KILLS_PER_JOB;
        *open += eligible;
        int found = -1;
        if (eligible && !strcmp(state, "running") && done >= 1 && done < total)
            for (int i = 0; i < nworkers && found < 0; i++)
                if (procs[i].pid > 0 && !strcmp(names[i], jfx_str(doc, "worker.name"))) found = i;
        json_decref(doc);
        if (found >= 0) {
            *job = j;
            return found;
        }
    }
    return -1;
}

Test(workerkill, killed_again_and_again_across_jobs)
{
    const char *env = getenv("FASTRUN_HARDENING_KILLS");
    int want = env ? (int)strtol(env, NULL, 10) : 4;
    cr_assert(want > 0 && want <= MAX_WORKERS - 4);
    cr_assert_eq(jfx_start(&f, NULL), 0);
    start_worker();
    start_worker();
    long ids[MAX_JOBS];
    int njobs = 0;
    for (; njobs < 3; njobs++)
        ids[njobs] = submit(njobs);

    double t0 = now_s();
    int kills = 0;
    while (kills < want) {
        int job = -1, open;
        int victim = mid_job_worker(ids, njobs, &job, &open);
        if (victim < 0) {
            if (open == 0) { /* the work ran out before the kills did: more jobs */
                cr_assert_lt(njobs, MAX_JOBS, "%d jobs done and still only %d kills", njobs, kills);
                ids[njobs] = submit(njobs);
                njobs++;
            }
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            cr_assert_lt(now_s() - t0, 600, "only %d kills in 10 minutes", kills);
            continue;
        }
        cr_assert_eq(kill(procs[victim].pid, SIGKILL), 0);
        frt_stop(&procs[victim], SIGKILL, true, 2000);
        job_kills[job]++;
        kills++;
        start_worker(); /* the fleet keeps two workers */
    }

    /* Every job completes; every operator landed exactly once. */
    long attempts = 0;
    for (int j = 0; j < njobs; j++) {
        bool ok;
        json_t *job = jfx_until(&f, ids[j], jfx_state_is, "done", 300, &ok);
        cr_assert(ok, "job %ld did not complete: %s %s", ids[j], jfx_str(job, "state"),
                  jfx_str(job, "note"));
        size_t i;
        json_t *op;
        cr_assert_eq(json_array_size(json_object_get(job, "operators")), OPS);
        json_array_foreach(json_object_get(job, "operators"), i, op)
        {
            cr_assert_str_eq(jfx_str(op, "state"), "done", "job %ld operator %zu", ids[j], i);
            cr_assert_eq(jfx_int(op, "reports"), 1, "job %ld operator %zu reported %lld times",
                         ids[j], i, jfx_int(op, "reports"));
        }
        attempts += (long)json_array_size(json_object_get(job, "attempts"));
        json_decref(job);
    }
    /* No operator profiled again after its upload landed: one log line per (job, operator). */
    for (int j = 0; j < njobs; j++) {
        for (int k = 0; k < OPS; k++) {
            char needle[96];
            snprintf(needle, sizeof needle, "operator #%d 'conv%d' profiled and uploaded", k, k);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "job %ld attempt", ids[j]);
            int seen = 0;
            for (int w = 0; w < nworkers; w++) {
                char *log = frt_read_file(logs[w], NULL);
                for (char *p = log; p && (p = strstr(p, prefix)); p++) {
                    char *eol = strchr(p, '\n');
                    char *hit = strstr(p, needle);
                    if (hit && (!eol || hit < eol)) seen++;
                }
                free(log);
            }
            cr_assert_leq(seen, 1, "job %ld operator %d profiled and uploaded %d times", ids[j], k,
                          seen);
        }
    }
    /* No secret in the logs: neither the workers' token nor anyone else's. */
    for (int w = 0; w < nworkers; w++) {
        char *log = frt_read_file(logs[w], NULL);
        cr_assert(!log || (!strstr(log, f.worker) && !strstr(log, f.submitter)), "a token in %s",
                  logs[w]);
        free(log);
    }
    char *slog = frt_read_file(f.srv.log, NULL);
    cr_assert(!slog || (!strstr(slog, f.worker) && !strstr(slog, f.submitter)),
              "a token in the server log");
    free(slog);
    cr_log_info("workerkill: %d SIGKILLs mid-job across %d jobs of %d operators, %ld attempts, "
                "every job done, every operator reported once, none profiled after it landed, "
                "%.0f s",
                kills, njobs, OPS, attempts, now_s() - t0);
}

Test(workerkill, postgres_stop_leaves_no_job_running)
{
    /* As jfx_start, on a cluster of this test's own (the shared one keeps running). */
    static frt_pg pg;
    memset(&f, 0, sizeof f);
    cr_assert_eq(frt_pg_create(&pg), 0);
    frt_pg_conninfo(&pg, NULL, f.conninfo, sizeof f.conninfo);
    cr_assert_eq(frt_tempdir(f.dir, sizeof f.dir), 0);
    setenv("FASTRUN_MEASURE_LOCK", jfx_path(&f, "measure.lock"), 1);
    cr_assert_eq(frt_token(f.conninfo, "submitter", "ci", f.submitter, sizeof f.submitter), 0);
    cr_assert_eq(frt_token(f.conninfo, "worker", "workers", f.worker, sizeof f.worker), 0);
    const char *args[] = {"--lease-seconds", JFX_LEASE, "--db-wait-ms", "500", NULL};
    cr_assert_eq(frt_server_start(&f.srv, f.conninfo, args), 0);
    start_worker();
    start_worker();
    long ids[2] = {submit(0), submit(1)};
    int busy, open;
    double t0 = now_s();
    while (mid_job_worker(ids, 2, &busy, &open) < 0) {
        cr_assert_gt(open, 0, "both jobs finished before PostgreSQL could be stopped");
        cr_assert_lt(now_s() - t0, 120, "no job got going");
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(frt_pg_stop(&pg), 0);
    struct timespec down = {4, 0};
    nanosleep(&down, NULL);
    cr_assert_eq(frt_pg_start(&pg), 0);
    for (int j = 0; j < 2; j++) {
        bool ok;
        json_t *job = jfx_until(&f, ids[j], jfx_state_is, "done", 240, &ok);
        cr_assert(ok, "job %ld did not complete after PostgreSQL came back: %s %s", ids[j],
                  jfx_str(job, "state"), jfx_str(job, "note"));
        size_t i;
        json_t *op;
        json_array_foreach(json_object_get(job, "operators"), i, op)
            cr_assert_eq(jfx_int(op, "reports"), 1, "job %ld operator %zu", ids[j], i);
        json_decref(job);
    }
    char v[64];
    cr_assert_eq(frt_pg_sql(f.conninfo,
                            "SELECT (SELECT count(*) FROM jobs WHERE state = "
                            "'running') || '/' || (SELECT count(*) FROM job_attempts WHERE "
                            "outcome = 'running')",
                            v, sizeof v),
                 0);
    cr_assert_str_eq(v, "0/0", "jobs / attempts still running");
    cr_log_info("postgres_stop_leaves_no_job_running: PostgreSQL down 4 s mid-job; 2 jobs done "
                "%.0f s after the start, every operator reported once, nothing left running",
                now_s() - t0);
    for (int i = 0; i < nworkers; i++)
        if (procs[i].pid > 0) frt_stop(&procs[i], SIGKILL, true, 2000);
    nworkers = 0;
    jfx_stop(&f);
    frt_pg_destroy(&pg);
}
