/*
 * test_cachefile.c - the local cache file under faults, through the `fastrun` command a user
 * runs: a truncated, corrupted or zero-length file, two runs writing one file at once, and a
 * full disk (a small tmpfs in a private mount namespace). Each fault gives a clear error naming
 * the file, and a file that existed is never lost or changed; two writers leave a valid file
 * that covers the model.
 */
#include "harness.h"
#include "tmpfs.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

static char dir[256], model1[320], model2[320], cache[320];

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* The two model files and the cache path, in dir. */
static void write_models(void)
{
    snprintf(model1, sizeof model1, "%s/one.json", dir);
    snprintf(model2, sizeof model2, "%s/two.json", dir);
    snprintf(cache, sizeof cache, "%s/cache.json", dir);
    const char *m1 = "{\"name\":\"one\",\"operators\":[{\"name\":\"fc\",\"op\":\"matmul\","
                     "\"batch\":1,\"m\":8,\"n\":8,\"k\":8}]}";
    const char *m2 = "{\"name\":\"two\",\"operators\":[{\"name\":\"fc\",\"op\":\"matmul\","
                     "\"batch\":1,\"m\":8,\"n\":8,\"k\":8},{\"name\":\"c\",\"op\":\"conv2d\","
                     "\"n\":1,\"c\":4,\"h\":8,\"w\":8,\"k\":4,\"r\":3,\"s\":3,\"stride\":[1,1],"
                     "\"pad\":[1,1],\"dilation\":[1,1],\"groups\":1}]}";
    write_text(model1, m1, strlen(m1));
    write_text(model2, m2, strlen(m2));
}

static void setup(void)
{
    cr_assert_eq(frt_tempdir(dir, sizeof dir), 0);
    write_models();
}

static void teardown(void)
{
    umount2(dir, MNT_DETACH); /* the full-disk test's tmpfs, if an assertion left it mounted */
    frt_rmtree(dir);
}

TestSuite(cachefile, .init = setup, .fini = teardown, .timeout = 120);

/* `fastrun run MODEL [--fast-run] --fast-run-algo-policy FILE`: exit code, stderr in err. */
static int fastrun(const char *model, bool profile, const char *file, char *err, size_t len)
{
    static char out[65536];
    const char *bin = frt_bin("FASTRUN_BIN", "fastrun");
    const char *with[] = {bin,  "run",          model, "--fast-run", "--fast-run-algo-policy",
                          file, "--iterations", "1",   NULL};
    const char *without[] = {bin,  "run",          model, "--fast-run-algo-policy",
                             file, "--iterations", "1",   NULL};
    return frt_run(profile ? with : without, NULL, out, sizeof out, err, len);
}

/* A valid cache file of model1 at cache; its bytes (caller frees). */
static char *valid_cache(size_t *len)
{
    char err[4096];
    cr_assert_eq(fastrun(model1, true, cache, err, sizeof err), 0, "%s", err);
    char *bytes = frt_read_file(cache, len);
    cr_assert(bytes && *len > 0);
    return bytes;
}

static void assert_bytes(const char *path, const char *want, size_t len)
{
    size_t got_len = 0;
    char *got = frt_read_file(path, &got_len);
    cr_assert(got, "%s is gone", path);
    cr_assert(got_len == len && memcmp(got, want, len) == 0, "%s changed (%zu -> %zu bytes)", path,
              len, got_len);
    free(got);
}

/* Runs both modes on a damaged file: each fails naming the file and `what`, the file stays. */
static void refused_and_kept(const char *bytes, size_t len, const char *what)
{
    char err[4096];
    write_text(cache, bytes, len);
    for (int profile = 0; profile < 2; profile++) {
        cr_assert_eq(fastrun(model2, profile, cache, err, sizeof err), 1, "accepted: %s", err);
        cr_assert(strstr(err, cache), "the error does not name the file: %s", err);
        cr_assert(strstr(err, what), "the error does not say '%s': %s", what, err);
        assert_bytes(cache, bytes, len);
    }
}

Test(cachefile, truncated)
{
    size_t len;
    char *good = valid_cache(&len);
    refused_and_kept(good, len / 2, "truncated");
    free(good);
}

Test(cachefile, corrupted)
{
    size_t len;
    char *good = valid_cache(&len);
    char *at = strstr(good, "\"median_ms\":");
    cr_assert(at);
    at += strlen("\"median_ms\":");
    *at = *at == '9' ? '8' : '9'; /* one digit of a figure: still JSON, no longer the content */
    refused_and_kept(good, len, "digest mismatch");
    /* Not JSON at all in the middle. */
    good[len / 2] = '\x01';
    refused_and_kept(good, len, "line 1");
    free(good);
}

Test(cachefile, zero_length)
{
    refused_and_kept("", 0, "empty");
}

Test(cachefile, concurrent_writers)
{
    /* Two runs profile into one new file at once. Each either finishes or stops at once
     * because the other holds the file's lock; the file they leave is valid and complete. */
    const char *bin = frt_bin("FASTRUN_BIN", "fastrun");
    const char *argv[] = {bin,   "run",          model2, "--fast-run", "--fast-run-algo-policy",
                          cache, "--iterations", "1",    NULL};
    char logs[2][320];
    frt_proc p[2];
    for (int i = 0; i < 2; i++) {
        snprintf(logs[i], sizeof logs[i], "%s/writer%d.log", dir, i);
        cr_assert_eq(frt_spawn(&p[i], argv, logs[i], NULL), 0);
    }
    int ok = 0;
    for (int i = 0; i < 2; i++) {
        int st = frt_stop(&p[i], 0, false, 60000);
        char tail[2048];
        frt_tail(logs[i], tail, sizeof tail);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        cr_assert(code == 0 || (code == 1 && strstr(tail, "lock")), "writer %d: status %d: %s", i,
                  st, tail);
        ok += code == 0;
    }
    cr_assert_geq(ok, 1, "neither writer finished");
    char err[4096];
    cr_assert_eq(fastrun(model2, false, cache, err, sizeof err), 0, "the file left: %s", err);
    /* Read-only: every operator must come from the file; then run both writers' job again
     * with the file complete: nothing is left to profile and the bytes stay. */
    size_t len;
    char *bytes = frt_read_file(cache, &len);
    cr_assert_eq(fastrun(model2, true, cache, err, sizeof err), 0, "%s", err);
    assert_bytes(cache, bytes, len);
    free(bytes);
}

/* Fills the file system holding dir with a filler file until it is full; refuses to when that
 * file system is not the small tmpfs (never fill a real disk). */
static void fill_disk(void)
{
    struct statvfs vfs;
    cr_assert_eq(statvfs(dir, &vfs), 0);
    cr_assert_leq((unsigned long long)vfs.f_blocks * vfs.f_frsize, 1ull << 20,
                  "%s is not the small tmpfs; not filling it", dir);
    char path[400];
    snprintf(path, sizeof path, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(fd >= 0);
    char block[512];
    memset(block, 'x', sizeof block);
    while (write(fd, block, sizeof block) > 0) {
    }
    while (write(fd, block, 1) > 0) {
    }
    close(fd);
}

Test(cachefile, disk_full)
{
    /* A 64 KiB tmpfs over dir in a private mount namespace (this test process and its
     * children only), as tests/cache/test_file.c does for the library. */
    FRT_PRIVATE_TMPFS_OR_FAIL(dir, "64k", "cachefile/disk_full"); /* else fails (tmpfs.h) */
    write_models(); /* again, inside the tmpfs that now hides the first ones */
    size_t len;
    char *good = valid_cache(&len);
    fill_disk();
    char err[4096];
    /* model2 has an operator the file lacks: profiled, then the save fails. */
    int rc = fastrun(model2, true, cache, err, sizeof err);
    cr_assert_eq(rc, 1, "a save on a full disk succeeded? %s", err);
    cr_assert(strstr(err, "No space left on device"), "%s", err);
    cr_assert(strstr(err, cache), "the error does not name the file: %s", err);
    assert_bytes(cache, good, len);
    /* No temporary file left behind. */
    DIR *d = opendir(dir);
    cr_assert(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(!strstr(e->d_name, ".tmp"), "temporary file left: %s", e->d_name);
    closedir(d);
    free(good);
    cr_assert_eq(umount2(dir, MNT_DETACH), 0);
}
