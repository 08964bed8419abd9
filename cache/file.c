/*
 * file.c - loading and saving the cache file. Loading reads at most FRC_MAX_DOC_BYTES and never
 * modifies the file; an empty, truncated or foreign file is an error naming the file, never an
 * empty cache. Saving is atomic: the new text goes to PATH.tmp.<pid> in the same directory, is
 * fsynced, renamed over PATH, and the directory is fsynced; on any failure (a full disk, a file
 * size limit, a read-only directory) the temporary file is removed and PATH keeps its old bytes.
 * Callers that write should hold the lock (lock.c) so that two writers never interleave.
 */
#include "cache_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fr_err frc_file_load(const char *path, frc_doc *out, fr_diag *d)
{
    frc_doc_init(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return fr_diag_set(d, FR_ERR_NOT_FOUND, "%s: no such file", path);
        return fr_diag_set(d, FR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fr_diag_set(d, FR_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > FRC_MAX_DOC_BYTES) {
        close(fd);
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: %lld bytes exceed the limit of %d bytes", path,
                           (long long)st.st_size, FRC_MAX_DOC_BYTES);
    }
    /* Read up to the cap plus one byte, in case the file grew since fstat. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            if (len > FRC_MAX_DOC_BYTES) break; /* over the cap: reported below */
            size_t grown =
                cap * 2 > (size_t)FRC_MAX_DOC_BYTES + 1 ? (size_t)FRC_MAX_DOC_BYTES + 1 : cap * 2;
            char *nb = realloc(buf, grown);
            if (!nb) {
                free(buf);
                close(fd);
                return fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = grown;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return fr_diag_set(d, FR_ERR_IO, "%s: read failed: %s", path, strerror(err));
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    close(fd);
    fr_err e;
    if (len == 0)
        e = fr_diag_set(d, FR_ERR_CORRUPT,
                        "%s: empty file (0 bytes): not a cache; remove it to start a new cache",
                        path);
    else if (len > FRC_MAX_DOC_BYTES)
        e = fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: larger than the limit of %d bytes", path,
                        FRC_MAX_DOC_BYTES);
    else
        e = frc_doc_parse(buf, len, path, out, d);
    free(buf);
    return e;
}

/* Writes all of buf to fd, retrying short writes; errno set on failure. */
static bool write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* The directory holding path ("." for a bare name), into dir (PATH_MAX-sized). */
static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == path)
        snprintf(dir, len, "/");
    else
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

static fr_err sync_dir(const char *path, fr_diag *d)
{
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return fr_diag_set(d, FR_ERR_IO, "%s: saved, but syncing its directory %s failed: %s", path,
                           dir, strerror(err));
    }
    close(fd);
    return FR_ERR_OK;
}

fr_err frc_file_save(const char *path, const frc_doc *doc, fr_diag *d)
{
    char *text;
    size_t len;
    fr_err e = frc_doc_dump(doc, &text, &len);
    if (e) return fr_diag_set(d, e, "%s: cannot write the document: %s", path, fr_err_message(e));
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        free(text);
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT, "%s: path too long", path);
    }
    /* Keep the permissions of the file being replaced; a new file gets 0644 less the umask. */
    struct stat st;
    bool replacing = stat(path, &st) == 0;
    mode_t mode = replacing ? (st.st_mode & 07777) : 0644;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        int err = errno;
        free(text);
        return fr_diag_set(d, FR_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(err));
    }
    const char *step = "write";
    bool ok = write_all(fd, text, len);
    if (ok && replacing && !(ok = fchmod(fd, mode) == 0)) step = "chmod";
    if (ok && !(ok = fsync(fd) == 0)) step = "fsync";
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        step = "close";
        err = errno;
    }
    if (ok && !(ok = rename(tmp, path) == 0)) {
        step = "rename";
        err = errno;
    }
    free(text);
    if (!ok) {
        unlink(tmp);
        return fr_diag_set(d, FR_ERR_IO,
                           "%s: not saved (%s of %s failed: %s); the file is unchanged", path, step,
                           tmp, strerror(err));
    }
    return sync_dir(path, d);
}
