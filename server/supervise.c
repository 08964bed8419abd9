/*
 * supervise.c - `fastrun-server --local-workers N`: one command runs a whole single-machine
 * installation. The server starts N fastrun-worker processes against itself and keeps them
 * running.
 *
 * - The binary: $FASTRUN_WORKER_BIN, else fastrun-worker next to this executable
 *   (/proc/self/exe: an install puts both in one bin/), else ../worker/fastrun-worker (the
 *   build tree, where the two live in server/ and worker/).
 * - The token: a worker token created in the database at start ("local workers of <host>"),
 *   handed to the children in FASTRUN_TOKEN - never on the command line, which `ps` shows to
 *   every user - and revoked at stop. Only its hash is in the database, like every token.
 * - Restarts: a worker that exits is started again after a backoff (1 s, doubling to 30 s;
 *   back to 1 s once a worker has run for a minute), so a crash loop does not spin.
 * - Stop: SIGTERM to each worker (it finishes the operator it is measuring, uploads it, hands
 *   its job back and exits 0), up to STOP_GRACE_S, then SIGKILL.
 * - The children die with the server even when it is killed (PR_SET_PDEATHSIG), and stay in its
 *   process group, so stopping the group stops everything.
 * The workers share the machine-wide measurement lock (worker/measure.c), so N workers on one
 * machine never time at once.
 *
 * fork() in a threaded process: the child only calls async-signal-safe functions (sigprocmask,
 * sigaction, prctl, execve, _exit) on data prepared before fork.
 */
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_S 60
#define BACKOFF_MAX_S 30
#define HEALTHY_RUN_S 60
#define POLL_US 200000u

extern char **environ;

typedef struct {
    pid_t pid;
    uint64_t started_us, next_start_us;
    unsigned backoff_s;
    char name[32];
    char *argv[12];
} child;

struct frs_supervisor {
    frs_server *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    bool stop;
    char exe[PATH_MAX], url[300], threads[16];
    char **envp; /* environ + FASTRUN_TOKEN, built once */
    int64_t token_id;
    child *kids;
    unsigned n;
};

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

static fr_err find_worker(char *out, size_t len, fr_diag *d)
{
    const char *env = getenv("FASTRUN_WORKER_BIN");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return executable(out) ? FR_ERR_OK
                               : fr_diag_set(d, FR_ERR_NOT_FOUND,
                                             "FASTRUN_WORKER_BIN=%s is not "
                                             "an executable",
                                             env);
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return fr_diag_set(d, FR_ERR_IO, "/proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(out, len, "%s/fastrun-worker", self);
    if (executable(out)) return FR_ERR_OK;
    snprintf(out, len, "%s/../worker/fastrun-worker", self);
    if (executable(out)) return FR_ERR_OK;
    return fr_diag_set(d, FR_ERR_NOT_FOUND,
                       "no fastrun-worker next to %s (nor in ../worker/); "
                       "set FASTRUN_WORKER_BIN",
                       self);
}

/* The URL the workers use to reach this server: a wildcard listen address becomes loopback. */
static void server_url(const frs_config *cfg, char *out, size_t len)
{
    const char *h = cfg->listen_host;
    if (!strcmp(h, "0.0.0.0") || !h[0])
        h = "127.0.0.1";
    else if (!strcmp(h, "::"))
        h = "::1";
    snprintf(out, len, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h, cfg->listen_port);
}

/* environ plus FASTRUN_TOKEN=token (any inherited FASTRUN_TOKEN replaced). */
static char **child_env(const char *token)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t len = strlen("FASTRUN_TOKEN=") + strlen(token) + 1, k = 0;
    char *var = malloc(len);
    if (!env || !var) {
        free(env);
        free(var);
        return NULL;
    }
    snprintf(var, len, "FASTRUN_TOKEN=%s", token);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "FASTRUN_TOKEN=", 14) != 0) env[k++] = environ[i];
    env[k++] = var;
    env[k] = NULL;
    return env;
}

static void spawn(frs_supervisor *s, child *k)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL); /* the server blocks SIGTERM in every thread */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGPIPE, &dfl, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1); /* the server died before prctl */
        execve(s->exe, k->argv, s->envp);
        _exit(127);
    }
    k->started_us = frs_now_us();
    if (pid < 0) {
        fprintf(stderr, "fastrun-server: cannot start local worker %s: %s\n", k->name,
                strerror(errno));
        k->next_start_us = k->started_us + (uint64_t)k->backoff_s * 1000000u;
        return;
    }
    k->pid = pid;
    if (!s->srv->cfg.quiet)
        fprintf(stderr, "fastrun-server: local worker %s started (pid %d)\n", k->name, (int)pid);
}

/* Reaps k if it exited and schedules its restart. */
static void reap(child *k)
{
    int status;
    if (k->pid <= 0 || waitpid(k->pid, &status, WNOHANG) != k->pid) return;
    uint64_t now = frs_now_us();
    if (now - k->started_us >= HEALTHY_RUN_S * 1000000ull) k->backoff_s = 1;
    char how[48];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    fprintf(stderr, "fastrun-server: local worker %s (pid %d) %s; restarting in %u s\n", k->name,
            (int)k->pid, how, k->backoff_s);
    k->pid = 0;
    k->next_start_us = now + (uint64_t)k->backoff_s * 1000000u;
    k->backoff_s = k->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : k->backoff_s * 2;
}

/* The supervisor thread: starts, reaps and restarts; on stop, SIGTERM, wait, SIGKILL. It is
 * also the thread that forks, so PR_SET_PDEATHSIG (which follows the forking thread) holds
 * for as long as the supervisor runs. */
static void *supervise(void *arg)
{
    frs_supervisor *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        for (unsigned i = 0; i < s->n; i++) {
            reap(&s->kids[i]);
            if (s->kids[i].pid == 0 && frs_now_us() >= s->kids[i].next_start_us)
                spawn(s, &s->kids[i]);
        }
        usleep(POLL_US);
    }
    for (unsigned i = 0; i < s->n; i++)
        if (s->kids[i].pid > 0) kill(s->kids[i].pid, SIGTERM);
    uint64_t deadline = frs_now_us() + STOP_GRACE_S * 1000000ull;
    for (bool left = true; left;) {
        left = false;
        for (unsigned i = 0; i < s->n; i++) {
            child *k = &s->kids[i];
            int status;
            if (k->pid > 0 && waitpid(k->pid, &status, WNOHANG) == k->pid) k->pid = 0;
            if (k->pid > 0 && frs_now_us() >= deadline) {
                fprintf(stderr, "fastrun-server: local worker %s did not stop in %d s: SIGKILL\n",
                        k->name, STOP_GRACE_S);
                kill(k->pid, SIGKILL);
                waitpid(k->pid, &status, 0);
                k->pid = 0;
            }
            left = left || k->pid > 0;
        }
        if (left) usleep(POLL_US / 4);
    }
    return NULL;
}

/* Creates the workers' token; its id is kept to revoke it at stop. */
static fr_err make_token(frs_supervisor *s, char *token, size_t len, fr_diag *d)
{
    char host[256] = "localhost", name[300], created[40];
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "local workers of %.100s (fastrun-server pid %d)", host,
             (int)getpid());
    frs_conn *c;
    fr_err e = frs_db_borrow(s->srv->db, &c, d);
    if (e != FR_ERR_OK) return e;
    e = frs_token_create(c, FRS_ROLE_WORKER, name, token, len, &s->token_id, created,
                         sizeof created, d);
    frs_db_return(s->srv->db, c);
    return e;
}

fr_err frs_supervisor_start(frs_server *srv, frs_supervisor **out, fr_diag *d)
{
    *out = NULL;
    frs_supervisor *s = calloc(1, sizeof *s);
    if (!s) return FR_ERR_NOMEM;
    s->srv = srv;
    s->n = srv->cfg.local_workers;
    pthread_mutex_init(&s->mu, NULL);
    char token[80];
    fr_err e = find_worker(s->exe, sizeof s->exe, d);
    if (e == FR_ERR_OK) e = make_token(s, token, sizeof token, d);
    if (e == FR_ERR_OK &&
        (!(s->envp = child_env(token)) || !(s->kids = calloc(s->n, sizeof *s->kids))))
        e = fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    explicit_bzero(token, sizeof token);
    server_url(&srv->cfg, s->url, sizeof s->url);
    snprintf(s->threads, sizeof s->threads, "%u", srv->cfg.local_threads);
    for (unsigned i = 0; e == FR_ERR_OK && i < s->n; i++) {
        child *k = &s->kids[i];
        snprintf(k->name, sizeof k->name, "local-%u", i + 1);
        k->backoff_s = 1;
        size_t a = 0;
        char **v = k->argv;
        v[a++] = s->exe, v[a++] = "--server", v[a++] = s->url, v[a++] = "--pool";
        v[a++] = (char *)srv->cfg.local_pool, v[a++] = "--name", v[a++] = k->name;
        if (srv->cfg.local_threads) v[a++] = "--threads", v[a++] = s->threads;
        v[a] = NULL;
    }
    if (e == FR_ERR_OK && pthread_create(&s->thread, NULL, supervise, s) != 0)
        e = fr_diag_set(d, FR_ERR_INTERNAL, "cannot start the supervisor thread");
    if (e != FR_ERR_OK) {
        s->n = 0;
        frs_supervisor_stop(s);
        return e;
    }
    if (!srv->cfg.quiet)
        fprintf(stderr, "fastrun-server: supervising %u local worker%s (%s, pool '%s')\n", s->n,
                s->n == 1 ? "" : "s", s->exe, srv->cfg.local_pool);
    *out = s;
    return FR_ERR_OK;
}

void frs_supervisor_stop(frs_supervisor *s)
{
    if (!s) return;
    if (s->kids && s->n) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    if (s->token_id) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)s->token_id);
        const char *p[] = {id};
        frs_conn *c;
        fr_diag ignored;
        if (frs_db_borrow(s->srv->db, &c, &ignored) == FR_ERR_OK) {
            if (frs_db_exec(c, FRS_Q_token_revoke, 1, p, NULL, &ignored) != FR_ERR_OK)
                fprintf(stderr,
                        "fastrun-server: cannot revoke the local workers' token %s: "
                        "%s\n",
                        id, ignored.msg);
            frs_db_return(s->srv->db, c);
        }
    }
    if (s->envp) {
        for (size_t i = 0; s->envp[i]; i++)
            if (!strncmp(s->envp[i], "FASTRUN_TOKEN=", 14)) {
                explicit_bzero(s->envp[i], strlen(s->envp[i]));
                free(s->envp[i]);
            }
        free(s->envp);
    }
    free(s->kids);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
