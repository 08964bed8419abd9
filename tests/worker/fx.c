/*
 * fx.c - the worker tests' fixtures (fx.h): temporary directories, running the real fastrun
 * binary with fork/exec, background processes that are always killed at teardown, file helpers.
 */
#include "fx.h"

#include "cache.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static pid_t spawned[16];
static size_t nspawned;
static fx_result last;
static unsigned runs;

/* Paths handed out, freed at teardown. */
static char *paths[512];
static size_t npaths;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void fx_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fastrun-worker-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp failed");
    nspawned = 0;
}

void fx_teardown(void)
{
    for (size_t i = 0; i < nspawned; i++) {
        /* Each fastrun leads its own process group: its profiling children go with it. */
        kill(-spawned[i], SIGKILL);
        kill(spawned[i], SIGKILL);
        waitpid(spawned[i], NULL, 0);
    }
    nspawned = 0;
    free(last.out);
    free(last.err);
    memset(&last, 0, sizeof last);
    if (tmpdir[0]) nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    npaths = 0;
}

static const char *keep_path(const char *dir, const char *name)
{
    char *p = NULL;
    cr_assert(npaths < sizeof paths / sizeof paths[0], "too many paths in one test");
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0, "out of memory");
    paths[npaths++] = p;
    return p;
}

const char *fx_path(const char *name)
{
    return keep_path(tmpdir, name);
}

const char *fx_model(const char *name)
{
    return keep_path(FR_MODELS_DIR, name);
}

/* In the child: environment, output files, directory, exec. Never returns. */
static void exec_child(const char *const *env, const char *const *args, const char *out,
                       const char *err)
{
    setpgid(0, 0);
    unsetenv("FASTRUN_TEST_CRASH_ALGO");
    unsetenv("FASTRUN_TEST_HANG_ALGO");
    unsetenv("FASTRUN_TEST_WRONG_ALGO");
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq) {
            unsetenv(env[i]);
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        setenv(name, eq + 1, 1);
    }
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || chdir(tmpdir) != 0) _exit(127);
    const char *argv[64] = {FASTRUN_BIN};
    size_t n = 1;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    execv(FASTRUN_BIN, (char *const *)argv);
    _exit(127);
}

pid_t fx_spawn(const char *const *env, const char *const *args, const char *tag)
{
    char out[600], err[600];
    snprintf(out, sizeof out, "%s/%s.out", tmpdir, tag);
    snprintf(err, sizeof err, "%s/%s.err", tmpdir, tag);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) exec_child(env, args, out, err);
    setpgid(pid, pid); /* also here, so the group exists before teardown can race */
    if (nspawned < sizeof spawned / sizeof spawned[0]) spawned[nspawned++] = pid;
    return pid;
}

int fx_wait(pid_t pid)
{
    int st = 0;
    cr_assert(waitpid(pid, &st, 0) == pid, "waitpid failed");
    for (size_t i = 0; i < nspawned; i++)
        if (spawned[i] == pid) spawned[i] = spawned[--nspawned];
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

fx_result fx_run(const char *const *env, const char *const *args)
{
    char tag[32];
    snprintf(tag, sizeof tag, "run%u", runs++);
    pid_t pid = fx_spawn(env, args, tag);
    int code = fx_wait(pid);
    free(last.out);
    free(last.err);
    char p[64];
    snprintf(p, sizeof p, "%s.out", tag);
    last.out = fx_read(fx_path(p), NULL);
    snprintf(p, sizeof p, "%s.err", tag);
    last.err = fx_read(fx_path(p), NULL);
    last.code = code;
    cr_assert(last.out && last.err, "cannot read the output of fastrun");
    return last;
}

char *fx_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    cr_assert_not_null(buf, "out of memory");
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

void fx_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

json_t *fx_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_assert_not_null(j, "%s: %s", path, e.text);
    return j;
}

size_t fx_count_source(const json_t *report, const char *src)
{
    size_t n = 0, i;
    json_t *op;
    json_array_foreach(json_object_get(report, "operators"), i, op)
    {
        const char *s = json_string_value(json_object_get(op, "source"));
        if (s && strcmp(s, src) == 0) n++;
    }
    return n;
}

bool fx_has(const char *text, const char *needle)
{
    return text && strstr(text, needle) != NULL;
}

size_t fx_entries_in(const char *path, const char *id)
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

const char *fx_report_category(const json_t *rep)
{
    return json_string_value(json_object_get(rep, "category"));
}

json_int_t fx_profiled(const json_t *rep)
{
    return json_integer_value(json_object_get(rep, "profiled"));
}

bool fx_has_candidate(const json_t *rep, const char *algo, bool measured)
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

bool fx_attrs_have(const json_t *attrs, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a) if (strcmp(json_string_value(a), name) == 0) return true;
    return false;
}
