/*
 * measure.c - the machine-wide measurement lock, the conditions of a measurement, and the two
 * timing helpers every measurement uses (monotonic clock, median).
 *
 * Two processes timing at once on one machine slow each other down and both record wrong
 * figures, so every measurement (one operator's profile, the timed runs of a model) holds an
 * exclusive flock on /tmp/fastrun-measure.lock ($FASTRUN_MEASURE_LOCK overrides). The lock is
 * released by the kernel when the process dies, so a killed run never leaves it stuck. What the
 * conditions were (threads, load, whether we had to wait) is recorded for the daemon to upload.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LOCK_PATH "/tmp/fastrun-measure.lock"

double frw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double frw_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void frw_measure_lock_init(frw_measure_lock *l)
{
    l->fd = -1;
    l->t0 = 0;
}

fr_err frw_measure_lock_acquire(frw_measure_lock *l, frw_conditions *cond, fr_diag *d)
{
    const char *path = getenv("FASTRUN_MEASURE_LOCK");
    if (!path || !*path) path = DEFAULT_LOCK_PATH;
    if (l->fd >= 0) return FR_ERR_OK;
    /* Mode 0666 (before umask) so users sharing the machine share the lock. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return fr_diag_set(d, FR_ERR_IO, "measurement lock %s: %s", path, strerror(errno));
    double t0 = frw_now();
    bool waited = false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        waited = true;
        int rc;
        while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
        }
        if (rc != 0) {
            int err = errno;
            close(fd);
            return fr_diag_set(d, FR_ERR_IO, "measurement lock %s: %s", path, strerror(err));
        }
    }
    l->fd = fd;
    l->t0 = frw_now();
    if (cond) {
        double load[1];
        cond->threads = frk_get_threads();
        cond->load1 = getloadavg(load, 1) == 1 ? load[0] : -1.0;
        cond->lock_waited = waited;
        cond->lock_wait_s = l->t0 - t0;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        cond->acquired_unix = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
        cond->started_unix = (int64_t)now.tv_sec;
        cond->duration_s = 0;
    }
    return FR_ERR_OK;
}

void frw_measure_lock_release(frw_measure_lock *l, frw_conditions *cond)
{
    if (l->fd < 0) return;
    if (cond) cond->duration_s = frw_now() - l->t0;
    close(l->fd); /* closing the only descriptor releases the flock */
    l->fd = -1;
}
