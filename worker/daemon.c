/*
 * daemon.c - the fastrun-worker program: profiles jobs for fastrun-server.
 *
 *   fastrun-worker --server URL [--token T | --token-file FILE] [--pool NAME] [--threads N]
 *                  [--name NAME] [--claim-wait S]
 *
 * It computes this machine's category (the same fingerprint as `fastrun info`, at --threads),
 * registers with its name, host and pool, then claims jobs for its pool or its exact category
 * with a long-poll (no busy loop: the server answers as soon as a job is there, or after S
 * seconds with nothing), and runs each (daemon_job.c). The token comes from --token-file (a
 * container secret), $FASTRUN_TOKEN, or --token. Prefer the first two: a command line is
 * readable by every user of the machine (ps, /proc/PID/cmdline), so --token works but says so
 * on stderr.
 *
 * SIGTERM or SIGINT: the operator being measured is finished and uploaded, the job handed back
 * (release: not a failed attempt, another worker continues at once), the worker signs off, and
 * the program exits 0. Signals are taken by a dedicated thread with sigwait, so no system call
 * of the profiler is interrupted. Exit status 1 when the token is refused, 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define RETRY_MAX_S 10

static const char usage[] =
    "usage: fastrun-worker --server URL [--token-file FILE] [--pool NAME]\n"
    "                      [--threads N] [--name NAME] [--claim-wait S]\n"
    "  --server URL      fastrun-server, e.g. http://127.0.0.1:8080\n"
    "  --token-file FILE read the worker token from FILE's first line (e.g. a container\n"
    "                    secret); without it the token comes from $FASTRUN_TOKEN\n"
    "  --token T         the token on the command line: visible to every user of this\n"
    "                    machine (ps), so prefer $FASTRUN_TOKEN or --token-file\n"
    "  --pool NAME       the pool whose jobs this worker takes (default: default)\n"
    "  --threads N       threads for every algorithm (part of the category)\n"
    "  --name NAME       this worker's name (default: HOST-PID)\n"
    "  --claim-wait S    seconds a claim waits for a job (default 20, at most 30)\n"
    "SIGTERM finishes the operator being measured, hands the job back and exits 0.\n";

void frw_daemon_log(const frw_daemon *dm, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fastrun-worker[%s]: %s\n", dm->name, line);
}

static bool parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "fastrun-worker: %s: expected an integer from %ld to %ld, got '%s'\n%s",
                opt, lo, hi, s, usage);
        return false;
    }
    *out = v;
    return true;
}

/* The first line of path into out (len bytes), without its line end. An empty first line and
 * one that does not fit are errors, said on stderr: a truncated token would only be refused. */
static bool read_token(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    const char *problem = !f ? strerror(errno) : !fgets(out, (int)len, f) ? "empty" : NULL;
    size_t n = problem ? 0 : strcspn(out, "\r\n");
    if (!problem && n == 0) problem = "the first line is empty";
    int next = problem || out[n] ? EOF : fgetc(f); /* what follows a line that filled out */
    if (next != EOF && next != '\n' && next != '\r') problem = "the first line is too long";
    if (f) fclose(f);
    if (problem) {
        fprintf(stderr, "fastrun-worker: --token-file %s: %s\n", path, problem);
        return false;
    }
    out[n] = '\0';
    return true;
}

/* Returns -1 to go on, or an exit status. */
static int parse(int argc, char **argv, frw_daemon *dm)
{
    enum { SERVER = 256, TOKEN, TOKEN_FILE, POOL, THREADS, NAME, WAIT, HELP };
    static const struct option opts[] = {{"server", required_argument, NULL, SERVER},
                                         {"token", required_argument, NULL, TOKEN},
                                         {"token-file", required_argument, NULL, TOKEN_FILE},
                                         {"pool", required_argument, NULL, POOL},
                                         {"threads", required_argument, NULL, THREADS},
                                         {"name", required_argument, NULL, NAME},
                                         {"claim-wait", required_argument, NULL, WAIT},
                                         {"help", no_argument, NULL, HELP},
                                         {NULL, 0, NULL, 0}};
    const char *token = getenv("FASTRUN_TOKEN"), *token_file = NULL;
    bool token_option = false;
    long v;
    int c;
    dm->pool = "default";
    dm->claim_wait_s = 20;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case SERVER:
            dm->server = optarg;
            break;
        case TOKEN:
            token = optarg;
            token_option = true;
            fprintf(stderr, "fastrun-worker: warning: --token is visible to other users of this "
                            "machine (ps); prefer $FASTRUN_TOKEN or --token-file FILE\n");
            break;
        case TOKEN_FILE:
            token_file = optarg;
            break;
        case POOL:
            dm->pool = optarg;
            break;
        case THREADS:
            if (!parse_int("--threads", optarg, 1, FRC_MAX_THREADS, &v)) return 2;
            frk_set_threads((int)v);
            break;
        case NAME:
            snprintf(dm->name, sizeof dm->name, "%s", optarg);
            break;
        case WAIT:
            if (!parse_int("--claim-wait", optarg, 1, 30, &v)) return 2;
            dm->claim_wait_s = (int)v;
            break;
        case HELP:
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || !dm->server) {
        fprintf(stderr, "fastrun-worker: %s\n%s",
                optind < argc ? "unexpected argument" : "--server URL is required", usage);
        return 2;
    }
    if (token_option && token_file) {
        fprintf(stderr, "fastrun-worker: give --token or --token-file, not both\n%s", usage);
        return 2;
    }
    if (token && strlen(token) >= sizeof dm->token) {
        fprintf(stderr, "fastrun-worker: the token is longer than %zu bytes\n",
                sizeof dm->token - 1);
        return 2;
    }
    snprintf(dm->token, sizeof dm->token, "%s", token ? token : "");
    if (token_file && !read_token(token_file, dm->token, sizeof dm->token)) return 2;
    if (!dm->token[0]) {
        fprintf(stderr, "fastrun-worker: a worker token is needed: set $FASTRUN_TOKEN or give "
                        "--token-file FILE\n");
        return 2;
    }
    if (gethostname(dm->host, sizeof dm->host - 1) != 0 || !dm->host[0])
        snprintf(dm->host, sizeof dm->host, "unknown-host");
    if (!dm->name[0]) snprintf(dm->name, sizeof dm->name, "%.100s-%d", dm->host, (int)getpid());
    return -1;
}

/* The signal thread: SIGTERM / SIGINT set dm->stop (nothing else runs in a handler). */
static void *signals(void *arg)
{
    frw_daemon *dm = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig;
    while (sigwait(&set, &sig) == 0) {
        if (!atomic_exchange(&dm->stop, true))
            frw_daemon_log(dm, "signal %d: finishing the operator in progress, then stopping", sig);
    }
    return NULL;
}

/* Sleeps s seconds, or less when stopping. */
static void pause_s(const frw_daemon *dm, int s)
{
    for (int i = 0; i < s * 10 && !atomic_load(&dm->stop); i++)
        usleep(100000);
}

/* Registers, retrying while the server cannot be reached. */
static fr_err register_self(frw_daemon *dm)
{
    frc_fingerprint fp = {0};
    fr_diag d = {""};
    fr_err e = frw_fingerprint(&fp);
    if (e != FR_ERR_OK) return e;
    for (int backoff = 1; !atomic_load(&dm->stop);
         backoff = backoff * 2 > RETRY_MAX_S ? RETRY_MAX_S : backoff * 2) {
        e = frw_api_register(&dm->api, dm->name, dm->host, dm->pool, &fp, &dm->id, dm->category,
                             &d);
        if (e != FR_ERR_UNAVAILABLE) break;
        frw_daemon_log(dm, "cannot register yet (%s); retrying in %d s", d.msg, backoff);
        pause_s(dm, backoff);
    }
    if (e == FR_ERR_OK) {
        char text[FRC_FINGERPRINT_TEXT_MAX];
        frc_fingerprint_text(&fp, text, sizeof text);
        frw_daemon_log(dm, "registered as worker %lld on host %s, pool '%s', category %s (%s)",
                       (long long)dm->id, dm->host, dm->pool, dm->category, text);
    } else if (!atomic_load(&dm->stop)) {
        frw_daemon_log(dm, "cannot register: %s", d.msg);
    }
    frc_fingerprint_cleanup(&fp);
    return atomic_load(&dm->stop) ? FR_ERR_UNAVAILABLE : e;
}

/* Claims and runs jobs until stopped. */
static fr_err serve(frw_daemon *dm)
{
    int backoff = 1;
    while (!atomic_load(&dm->stop)) {
        frw_job job;
        bool got;
        fr_diag d = {""};
        fr_err e = frw_api_claim(&dm->api, dm->id, dm->claim_wait_s, &job, &got, &d);
        /* A job that arrived with the stop is still ours: frw_daemon_run_job, seeing the stop
         * before its first operator, hands it back at once instead of leaving it to the lease. */
        if (atomic_load(&dm->stop) && !(e == FR_ERR_OK && got)) {
            frw_job_cleanup(&job);
            break;
        }
        if (e == FR_ERR_NOT_FOUND) { /* the server forgot us (a fresh database): again */
            frw_daemon_log(dm, "%s", d.msg);
            e = register_self(dm);
            if (e != FR_ERR_OK) return e;
            continue;
        }
        if (e == FR_ERR_UNAUTHORIZED || e == FR_ERR_FORBIDDEN) {
            frw_daemon_log(dm, "%s", d.msg);
            return e;
        }
        if (e != FR_ERR_OK) {
            frw_daemon_log(dm, "claim failed (%s); retrying in %d s", d.msg, backoff);
            pause_s(dm, backoff);
            backoff = backoff * 2 > RETRY_MAX_S ? RETRY_MAX_S : backoff * 2;
            continue;
        }
        backoff = 1;
        if (!got) continue;
        e = frw_daemon_run_job(dm, &job);
        frw_job_cleanup(&job);
        if (e == FR_ERR_UNAUTHORIZED) return e;
    }
    return FR_ERR_OK;
}

int main(int argc, char **argv)
{
    frw_blas_env_apply(argv);
    static frw_daemon dm; /* static: the signal thread uses it until exit */
    int rc = parse(argc, argv, &dm);
    if (rc >= 0) return rc;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread: all of them inherit it */
    signal(SIGPIPE, SIG_IGN);
    pthread_t sig_thread;
    if (pthread_create(&sig_thread, NULL, signals, &dm) != 0) {
        fprintf(stderr, "fastrun-worker: cannot start the signal thread\n");
        return 1;
    }
    fr_diag d = {""};
    fr_err e = frw_api_init(&dm.api, dm.server, dm.token, &dm.stop, &d);
    explicit_bzero(dm.token, sizeof dm.token);
    if (e != FR_ERR_OK) {
        fprintf(stderr, "fastrun-worker: %s\n%s", d.msg, usage);
        return 2;
    }
    e = register_self(&dm);
    if (e == FR_ERR_OK) e = serve(&dm);
    if (dm.id && e != FR_ERR_UNAUTHORIZED && frw_api_signoff(&dm.api, dm.id, &d) != FR_ERR_OK)
        frw_daemon_log(&dm, "signing off: %s", d.msg);
    frw_api_cleanup(&dm.api);
    if (atomic_load(&dm.stop)) {
        frw_daemon_log(&dm, "stopped");
        return 0;
    }
    return e == FR_ERR_OK ? 0 : 1;
}
