/*
 * proc.c - child processes for integration tests: spawn into a new process group, as another
 * user when we are root, dying with the test (PR_SET_PDEATHSIG), stopped by an atexit handler
 * if the test did not stop them; plus small file and port helpers.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Children started by this process and not yet stopped, for the atexit handler. The owner pid
 * matters: a forked test process inherits this table but must not stop its parent's children. */
#define MAX_CHILDREN 64
static struct {
    pid_t pid, owner;
} children[MAX_CHILDREN];
static void ensure_cleanup_at_exit(void);

static void stop_all_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i].pid > 0 && children[i].owner == getpid()) {
            kill(-children[i].pid, SIGKILL);
            waitpid(children[i].pid, NULL, 0);
            children[i].pid = 0;
        }
    }
}

static void remember(pid_t pid)
{
    ensure_cleanup_at_exit();
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i].pid == 0) {
            children[i].pid = pid;
            children[i].owner = getpid();
            return;
        }
    }
}

static void forget(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid == pid) children[i].pid = 0;
}

/* In the child: become run_as (when given and we are root). */
static void become(const char *run_as)
{
    if (!run_as || !run_as[0] || geteuid() != 0) return;
    struct passwd *pw = getpwnam(run_as);
    if (!pw || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "harness: cannot become user '%s'\n", run_as);
        _exit(127);
    }
}

/* In the child after fork: group, user, death signal, descriptors, exec. */
static void child_exec(const char *const argv[], int out_fd, int err_fd, const char *run_as)
{
    setpgid(0, 0);
    become(run_as);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* after setuid, which clears it */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int frt_spawn(frt_proc *p, const char *const argv[], const char *log_path, const char *run_as)
{
    int fd = -1;
    if (log_path && (fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "harness: open %s: %s\n", log_path, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    if (pid == 0) child_exec(argv, fd, fd, run_as);
    if (fd >= 0) close(fd);
    setpgid(pid, pid); /* also here, so the group exists before we could signal it */
    p->pid = pid;
    snprintf(p->name, sizeof p->name, "%s",
             strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
    remember(pid);
    return 0;
}

bool frt_alive(frt_proc *p, int *status)
{
    if (p->pid <= 0) return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0) return true;
    if (status) *status = st;
    forget(p->pid);
    kill(-p->pid, SIGKILL); /* anything the group left behind */
    p->pid = 0;
    return false;
}

int frt_stop(frt_proc *p, int sig, bool group, int timeout_ms)
{
    if (p->pid <= 0) return -1;
    int st = -1;
    kill(group ? -p->pid : p->pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) goto done;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "harness: %s (pid %d) did not stop in %d ms; killing it\n", p->name,
            (int)p->pid, timeout_ms);
    kill(-p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
done:
    kill(-p->pid, SIGKILL); /* stragglers in its group */
    forget(p->pid);
    p->pid = 0;
    return st;
}

/* Appends up to n bytes to buf (NUL-terminated, truncated at len). */
static void keep(char *buf, size_t len, size_t *used, const char *data, size_t n)
{
    if (!buf || len == 0) return;
    size_t take = *used + 1 < len ? len - 1 - *used : 0;
    if (take > n) take = n;
    memcpy(buf + *used, data, take);
    *used += take;
    buf[*used] = '\0';
}

/* Reads both pipes to EOF (poll, so neither can fill up and block the child). */
static void drain(int fo, char *out, size_t outlen, int fe, char *err, size_t errlen)
{
    size_t uo = 0, ue = 0;
    if (out && outlen) out[0] = '\0';
    if (err && errlen) err[0] = '\0';
    struct pollfd fds[2] = {{fo, POLLIN, 0}, {fe, POLLIN, 0}};
    int open_fds = fe >= 0 ? 2 : 1;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            char scratch[4096];
            ssize_t n = read(fds[i].fd, scratch, sizeof scratch);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0)
                keep(out, outlen, &uo, scratch, (size_t)n);
            else
                keep(err, errlen, &ue, scratch, (size_t)n);
        }
    }
}

int frt_run(const char *const argv[], const char *run_as, char *out, size_t outlen, char *err,
            size_t errlen)
{
    int po[2], pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) != 0) return -1;
    if (err && pipe2(pe, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) child_exec(argv, po[1], pe[1], run_as);
    close(po[1]);
    if (pe[1] >= 0) close(pe[1]);
    remember(pid);
    drain(po[0], out, outlen, pe[0], err, errlen);
    close(po[0]);
    if (pe[0] >= 0) close(pe[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    forget(pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Temporary folders made by this process and not yet removed, removed at exit. */
#define MAX_DIRS 64
static struct {
    char path[256];
    pid_t owner;
} dirs[MAX_DIRS];

/* At exit: stop the children first (they may be writing into the folders), then the folders. */
static void cleanup_at_exit(void)
{
    stop_all_children();
    for (int i = 0; i < MAX_DIRS; i++)
        if (dirs[i].path[0] && dirs[i].owner == getpid()) frt_rmtree(dirs[i].path);
}

static void ensure_cleanup_at_exit(void)
{
    static bool registered;
    if (!registered) atexit(cleanup_at_exit);
    registered = true;
}

int frt_tempdir(char *out, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, len, "%s/frt-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(out)) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", out, strerror(errno));
        return -1;
    }
    chmod(out, 0755);
    ensure_cleanup_at_exit();
    for (int i = 0; i < MAX_DIRS; i++) {
        if (!dirs[i].path[0]) {
            snprintf(dirs[i].path, sizeof dirs[i].path, "%s", out);
            dirs[i].owner = getpid();
            break;
        }
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void frt_rmtree(const char *path)
{
    if (!path || !path[0]) return;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path); /* path may be a dirs[] entry cleared below */
    for (int i = 0; i < MAX_DIRS; i++)
        if (!strcmp(dirs[i].path, copy)) dirs[i].path[0] = '\0';
    nftw(copy, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void frt_tail(const char *path, char *out, size_t bytes)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)(bytes - 1) ? size - (off_t)(bytes - 1) : 0;
    ssize_t n = pread(fd, out, bytes - 1, from);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
}

int frt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

const char *frt_bin(const char *env, const char *fallback)
{
    const char *v = getenv(env);
    return v && v[0] ? v : fallback;
}

char *frt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[size] = '\0';
        if (len) *len = (size_t)size;
    }
    return buf;
}
