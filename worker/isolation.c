/*
 * isolation.c - runs one piece of measurement in a forked child so that a candidate that
 * crashes or hangs cannot take the profiler down (DESIGN.md "Profiling").
 *
 * The child inherits the parent's buffers (copy-on-write, or shared mappings for outputs the
 * parent must see), does its work, and writes one fixed-size message on a pipe; a message is
 * smaller than PIPE_BUF, so it arrives whole or not at all. The parent waits with poll() up to a
 * time limit and SIGKILLs the child when it is exceeded. A child dies with its parent
 * (PR_SET_PDEATHSIG), so a killed fastrun never leaves a hung candidate spinning.
 */
#include "isolation.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(sizeof(frw__child_msg) < PIPE_BUF, "a child message must be one atomic write");

/* Reads exactly one message or reports EOF/timeout. Returns 1 on a message, 0 on EOF, -1 on
 * timeout. */
static int read_message(int fd, double deadline, frw__child_msg *msg)
{
    size_t got = 0;
    char *p = (char *)msg;
    while (got < sizeof *msg) {
        double left = deadline - frw_now();
        if (left <= 0) return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ms = left > 1e6 ? 1000000000 : (int)(left * 1000.0) + 1;
        int rc = poll(&pfd, 1, ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) continue; /* re-check the deadline */
        if (rc < 0) return 0;
        ssize_t n = read(fd, p + got, sizeof *msg - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        got += (size_t)n;
    }
    return 1;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

static void describe_status(int status, frw__child_msg *msg)
{
    if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        if (abbrev)
            snprintf(msg->failure, sizeof msg->failure, "crashed: SIG%s", abbrev);
        else
            snprintf(msg->failure, sizeof msg->failure, "crashed: signal %d", WTERMSIG(status));
    } else if (WIFEXITED(status)) {
        snprintf(msg->failure, sizeof msg->failure, "exited with status %d before reporting",
                 WEXITSTATUS(status));
    } else {
        snprintf(msg->failure, sizeof msg->failure, "ended without reporting");
    }
}

static pid_t wait_child(pid_t pid, int *status)
{
    pid_t r;
    while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR) {
    }
    return r;
}

fr_err frw__isolate(frw__child_fn fn, void *arg, double limit_s, frw__child_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(msg->failure, sizeof msg->failure, "pipe: %s", strerror(errno));
        return FR_ERR_IO;
    }
    frk_before_fork(); /* libgomp's pool does not survive fork (kernels.h) */
    fflush(NULL);      /* a child must not flush the parent's pending output twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg->failure, sizeof msg->failure, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return FR_ERR_IO;
    }
    if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(3); /* the parent died before prctl */
        frw__child_msg out;
        memset(&out, 0, sizeof out);
        fn(arg, &out);
        write_all(fds[1], &out, sizeof out);
        _exit(0);
    }
    close(fds[1]);
    double start = frw_now();
    int got = read_message(fds[0], start + limit_s, msg);
    close(fds[0]);
    if (got < 0) kill(pid, SIGKILL);
    int status = 0;
    if (wait_child(pid, &status) < 0) status = 0;
    msg->wall_s = frw_now() - start;
    if (got > 0) return FR_ERR_OK;
    memset(msg, 0, sizeof *msg);
    msg->wall_s = frw_now() - start;
    if (got < 0) {
        if (limit_s >= 1.0)
            snprintf(msg->failure, sizeof msg->failure, "timed out after %.1f s", limit_s);
        else
            snprintf(msg->failure, sizeof msg->failure, "timed out after %.0f ms",
                     limit_s * 1000.0);
        msg->status = FR_ERR_TIMEOUT;
        return FR_ERR_TIMEOUT;
    }
    describe_status(status, msg);
    msg->status = FR_ERR_CRASHED;
    return FR_ERR_CRASHED;
}
