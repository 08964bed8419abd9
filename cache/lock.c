/*
 * lock.c - the exclusive lock writers of one cache file take: flock on the side file PATH.lock
 * (so PATH itself can be replaced by rename while locked). The holder writes its pid into the
 * lock file so that a second process can say who holds it. flock locks belong to the open file
 * description, so the lock ends when the holder closes it or exits, even by a crash; the lock
 * file itself stays (removing it would let two processes lock two different files).
 */
#include "cache_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid written in the lock file, or 0 if none can be read. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

fr_err frc_lock_acquire(const char *path, frc_lock *lock, fr_diag *d)
{
    char lpath[4096];
    int n = snprintf(lpath, sizeof lpath, "%s.lock", path);
    if (n < 0 || (size_t)n >= sizeof lpath)
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    int fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return fr_diag_set(d, FR_ERR_IO, "%s: cannot open the lock file %s: %s", path, lpath,
                           strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        int err = errno;
        fr_err e;
        if (err == EWOULDBLOCK) {
            long pid = holder_pid(fd);
            if (pid)
                e = fr_diag_set(d, FR_ERR_LOCKED,
                                "%s is locked by another fastrun process (pid %ld)", path, pid);
            else
                e = fr_diag_set(d, FR_ERR_LOCKED,
                                "%s is locked by another fastrun process (pid unknown)", path);
        } else {
            e = fr_diag_set(d, FR_ERR_IO, "%s: cannot lock %s: %s", path, lpath, strerror(err));
        }
        close(fd);
        return e;
    }
    char pid[24];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* The pid is only for others' error messages: failing to write it is not an error. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) != len) {
        /* leave whatever was written; holder_pid() rejects a partial number */
    }
    char *copy = strdup(path);
    if (!copy) {
        close(fd);
        return fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", path);
    }
    lock->fd = fd;
    lock->path = copy;
    return FR_ERR_OK;
}

void frc_unlock(frc_lock *lock)
{
    if (!lock || !lock->path) return;
    /* Clear the pid before releasing, so a stale pid is never shown for a free lock. */
    if (ftruncate(lock->fd, 0) != 0) {
        /* harmless: the next holder rewrites it */
    }
    close(lock->fd);
    free(lock->path);
    lock->fd = 0;
    lock->path = NULL;
}
