/*
 * test_file.c - the cache file as a user meets it: damaged files are errors naming the file and
 * the position and are never modified; a save that fails (read-only directory, file size limit,
 * full disk) leaves the old file byte for byte and no temporary file behind; a second writer is
 * told which process holds the lock.
 */
#include "helpers.h"
#include "tmpfs.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static char path[512];

static void setup(void)
{
    dir = fx_tmpdir();
    snprintf(path, sizeof path, "%s/cache.json", dir);
}

static void teardown(void)
{
    umount2(dir, MNT_DETACH); /* the full-disk test's tmpfs, if an assertion left it mounted */
    fx_rmtree(dir);
    free(dir);
}

TestSuite(file, .init = setup, .fini = teardown);

/* Writes the sample document to path and returns its bytes. */
static char *save_sample(size_t *len)
{
    frc_doc doc;
    fr_diag d = {""};
    fx_sample_doc(&doc, false);
    cr_assert_eq(frc_file_save(path, &doc, &d), FR_ERR_OK, "%s", d.msg);
    frc_doc_cleanup(&doc);
    char *bytes = fx_read(path, len);
    cr_assert_not_null(bytes);
    return bytes;
}

static void assert_unchanged(const char *before, size_t len)
{
    size_t now_len;
    char *now = fx_read(path, &now_len);
    cr_assert_not_null(now, "%s disappeared", path);
    cr_assert_eq(now_len, len, "%s changed size", path);
    cr_assert(memcmp(now, before, len) == 0, "%s changed", path);
    cr_assert_eq(fx_count_matching(dir, ".tmp."), 0, "a temporary file was left behind");
    free(now);
}

Test(file, save_then_load)
{
    size_t len;
    char *bytes = save_sample(&len);
    frc_doc doc;
    fr_diag d = {""};
    cr_assert_eq(frc_file_load(path, &doc, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(doc.ncats, 2);
    size_t again_len;
    char *again = fx_dump(&doc, &again_len);
    cr_assert_eq(again_len, len);
    cr_assert(memcmp(again, bytes, len) == 0);
    cr_assert_eq(fx_count_matching(dir, ".tmp."), 0);
    free(again);
    free(bytes);
    frc_doc_cleanup(&doc);
}

Test(file, save_keeps_the_mode_of_the_file_it_replaces)
{
    size_t len;
    free(save_sample(&len));
    cr_assert_eq(chmod(path, 0600), 0);
    free(save_sample(&len));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(file, missing_file_is_not_found)
{
    frc_doc doc;
    fr_diag d = {""};
    cr_assert_eq(frc_file_load(path, &doc, &d), FR_ERR_NOT_FOUND);
    char want[600];
    snprintf(want, sizeof want, "%s: no such file", path);
    cr_assert_str_eq(d.msg, want);
}

Test(file, zero_length_file_is_an_error_naming_it)
{
    fx_write(path, "", 0);
    frc_doc doc;
    fr_diag d = {""};
    cr_assert_eq(frc_file_load(path, &doc, &d), FR_ERR_CORRUPT);
    char want[600];
    snprintf(want, sizeof want, "%s: empty file (0 bytes)", path);
    cr_assert(strncmp(d.msg, want, strlen(want)) == 0, "%s", d.msg);
    cr_assert_eq(doc.ncats, 0);
    size_t len;
    free(fx_read(path, &len));
    cr_assert_eq(len, 0, "the empty file was modified");
}

Test(file, truncated_file_names_file_and_position)
{
    size_t len;
    char *full = save_sample(&len);
    size_t cuts[] = {1, 2, 15, len / 4, len / 3, len / 2, len - 40, len - 3, len - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        fx_write(path, full, cuts[i]);
        frc_doc doc;
        fr_diag d = {""};
        cr_assert_eq(frc_file_load(path, &doc, &d), FR_ERR_CORRUPT, "cut at %zu loaded", cuts[i]);
        char want[600];
        snprintf(want, sizeof want, "%s: line 1 column ", path);
        cr_assert(strncmp(d.msg, want, strlen(want)) == 0, "cut %zu: %s", cuts[i], d.msg);
        cr_assert(strstr(d.msg, "(byte ") != NULL, "cut %zu: %s", cuts[i], d.msg);
        cr_assert(strstr(d.msg, "truncated document") != NULL, "cut %zu: %s", cuts[i], d.msg);
        cr_assert_eq(doc.ncats, 0);
        size_t now;
        free(fx_read(path, &now));
        cr_assert_eq(now, cuts[i], "the damaged file was modified");
    }
    free(full);
}

/* Forks; the child runs prep() (drop privileges, lower a limit), then saves a large document
 * over path and sends back the detail. Returns the child's error and the detail. */
static fr_err save_in_child(void (*prep)(void), char *msg, size_t msglen)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        prep();
        frc_doc doc;
        fx_big_doc(&doc, 300);
        fr_diag d = {""};
        fr_err e = frc_file_save(path, &doc, &d);
        ssize_t w = write(fds[1], d.msg, strlen(d.msg));
        _exit(w < 0 ? 100 : (int)e);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < msglen && (n = read(fds[0], msg + got, msglen - 1 - got)) > 0)
        got += (size_t)n;
    msg[got] = '\0';
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the saving child died (signal %d)", WTERMSIG(status));
    cr_assert_neq(WEXITSTATUS(status), 100, "the child could not set itself up");
    return (fr_err)WEXITSTATUS(status);
}

/* Root writes anywhere: become nobody, for whom the 0555 directory is read-only. */
static void become_nobody(void)
{
    if (geteuid() != 0) return;
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
}

Test(file, failed_save_into_read_only_directory_keeps_the_file)
{
    size_t len;
    char *before = save_sample(&len);
    cr_assert_eq(chmod(dir, 0555), 0);
    char msg[800];
    fr_err e = save_in_child(become_nobody, msg, sizeof msg);
    cr_assert_eq(chmod(dir, 0700), 0);
    cr_assert_eq(e, FR_ERR_IO, "%s", msg);
    cr_assert(strstr(msg, path) == msg, "%s", msg);
    cr_assert(strstr(msg, "Permission denied") != NULL, "%s", msg);
    assert_unchanged(before, len);
    free(before);
}

/* A 4 KiB file size limit: write() fails with EFBIG half-way through the temporary file. */
static void small_file_limit(void)
{
    struct rlimit rl = {4096, 4096};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(100);
}

Test(file, failed_write_removes_the_temporary_file)
{
    size_t len;
    char *before = save_sample(&len);
    char msg[800];
    fr_err e = save_in_child(small_file_limit, msg, sizeof msg);
    cr_assert_eq(e, FR_ERR_IO, "%s", msg);
    cr_assert(strstr(msg, "File too large") != NULL, "%s", msg);
    cr_assert(strstr(msg, "the file is unchanged") != NULL, "%s", msg);
    assert_unchanged(before, len);
    free(before);
}

Test(file, full_disk_keeps_the_file)
{
    /* A 64 KiB tmpfs in a private mount namespace (this test's process only); without one the
     * test fails unless waived (tmpfs.h). */
    FRT_PRIVATE_TMPFS_OR_FAIL(dir, "64k", "file/full_disk_keeps_the_file");
    size_t len;
    char *before = save_sample(&len);
    frc_doc big;
    fx_big_doc(&big, 1000);
    fr_diag d = {""};
    fr_err e = frc_file_save(path, &big, &d);
    frc_doc_cleanup(&big);
    cr_assert_eq(e, FR_ERR_IO, "%s", d.msg);
    cr_assert(strstr(d.msg, "No space left on device") != NULL, "%s", d.msg);
    assert_unchanged(before, len);
    free(before);
    cr_assert_eq(umount(dir), 0);
}

/* A child takes the lock, says so, and holds it until the parent writes a byte (or dies). */
static pid_t lock_in_child(int *release_fd)
{
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        frc_lock l = {0};
        char ok = frc_lock_acquire(path, &l, NULL) == FR_ERR_OK ? '1' : '0';
        if (write(up[1], &ok, 1) != 1) _exit(1);
        char c;
        if (read(down[0], &c, 1) < 0) _exit(1);
        frc_unlock(&l);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    char ok = 0;
    cr_assert_eq(read(up[0], &ok, 1), 1);
    cr_assert_eq(ok, '1', "the child could not take the lock");
    close(up[0]);
    *release_fd = down[1];
    return pid;
}

Test(file, lock_names_the_holder_and_is_released_when_it_exits)
{
    int release;
    pid_t child = lock_in_child(&release);
    frc_lock mine = {0};
    fr_diag d = {""};
    cr_assert_eq(frc_lock_acquire(path, &mine, &d), FR_ERR_LOCKED);
    char want[600];
    snprintf(want, sizeof want, "%s is locked by another fastrun process (pid %ld)", path,
             (long)child);
    cr_assert_str_eq(d.msg, want);
    cr_assert_eq(write(release, "x", 1), 1);
    close(release);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert_eq(frc_lock_acquire(path, &mine, &d), FR_ERR_OK, "%s", d.msg);
    /* Held by us now: a second acquisition (another open file) is refused with our pid. */
    frc_lock again = {0};
    cr_assert_eq(frc_lock_acquire(path, &again, &d), FR_ERR_LOCKED);
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    cr_assert(strstr(d.msg, want) != NULL, "%s", d.msg);
    frc_unlock(&mine);
    frc_unlock(&mine); /* a second unlock is a no-op */
    frc_unlock(&again);
}

Test(file, lock_is_released_when_the_holder_is_killed)
{
    int release;
    pid_t child = lock_in_child(&release);
    frc_lock mine = {0};
    fr_diag d = {""};
    cr_assert_eq(frc_lock_acquire(path, &mine, &d), FR_ERR_LOCKED);
    cr_assert_eq(kill(child, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    close(release);
    cr_assert_eq(frc_lock_acquire(path, &mine, &d), FR_ERR_OK, "%s", d.msg);
    frc_unlock(&mine);
}
