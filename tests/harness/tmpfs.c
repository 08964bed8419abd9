/*
 * tmpfs.c - the private tmpfs of tmpfs.h: mounted directly when the process may mount, else the
 * test is run again by unshare(1) in a user and mount namespace where it may.
 */
#include "tmpfs.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

int frt_private_tmpfs(const char *dir, const char *size, char *why, size_t len)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount("tmpfs", dir, "tmpfs", 0, opts) == 0)
        return 0;
    snprintf(why, len, "as uid %u: %s", (unsigned)getuid(), strerror(errno));
    return -1;
}

bool frt_tmpfs_waived(void)
{
    const char *w = getenv("FASTRUN_WAIVE_TMPFS_TESTS");
    return w && strcmp(w, "1") == 0;
}

int frt_rerun_in_userns(const char *filter, char *why, size_t len)
{
    if (getenv("FRT_IN_USERNS")) {
        snprintf(why, len, "already inside the user namespace");
        return -1;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(why, len, "/proc/self/exe: %s", strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, len, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setenv("FRT_IN_USERNS", "1", 1);
        unsetenv("BXFI_MAP"); /* Criterion's worker map: the re-run is a runner, not a worker */
        execlp("unshare", "unshare", "-Urm", "--", exe, "--filter", filter, (char *)NULL);
        fprintf(stderr, "unshare: %s\n", strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    snprintf(why, len, "the re-run under `unshare -Urm` %s %d (its output is above)",
             WIFEXITED(st) ? "exited with" : "was killed by signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return -1;
}
