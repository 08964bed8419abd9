/*
 * server.c - fastrun-server for tests: started on a free 127.0.0.1 port against a test database,
 * ready when /readyz answers 200; tokens made with its own CLI, as an operator would.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

int frt_server_start(frt_server *s, const char *conninfo, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    if (frt_tempdir(s->dir, sizeof s->dir) != 0) return -1;
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    for (int attempt = 0; attempt < 3; attempt++) {
        char listen[64];
        s->port = frt_free_port();
        snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
        snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
        const char *argv[40] = {frt_bin("FASTRUN_SERVER_BIN", "fastrun-server"), "--listen", listen,
                                "--database", conninfo};
        size_t n = 5;
        for (size_t i = 0; extra && extra[i] && n < 39; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        if (frt_spawn(&s->proc, argv, s->log, NULL) != 0) return -1;
        char url[128];
        snprintf(url, sizeof url, "%s/readyz", s->url);
        for (int i = 0; i < 400; i++) { /* 20 s */
            frt_resp r = {0};
            bool ready = frt_http("GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200;
            frt_resp_free(&r);
            if (ready) return 0;
            if (!frt_alive(&s->proc, NULL)) break;
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        char tail[2048];
        frt_tail(s->log, tail, sizeof tail);
        bool port_taken = strstr(tail, "cannot listen") != NULL;
        if (s->proc.pid) frt_stop(&s->proc, SIGKILL, true, 1000);
        if (!port_taken) {
            fprintf(stderr, "harness: fastrun-server did not become ready:\n%s\n", tail);
            return -1;
        }
    }
    return -1;
}

void frt_server_stop(frt_server *s)
{
    if (s->proc.pid > 0) frt_stop(&s->proc, SIGTERM, true, 10000);
    if (s->dir[0]) frt_rmtree(s->dir);
    s->dir[0] = '\0';
}

bool frt_server_stop_clean(frt_server *s, char *why, size_t len)
{
    bool clean = true;
    if (s->proc.pid > 0) {
        int st = frt_stop(&s->proc, SIGTERM, true, 10000);
        clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!clean) {
            char tail[2048] = "";
            frt_tail(s->log, tail, sizeof tail);
            snprintf(why, len, "fastrun-server did not stop cleanly (%s %d); its log ends:\n%s",
                     WIFSIGNALED(st) ? "signal" : "status",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), tail);
        }
    }
    if (clean && len) why[0] = '\0';
    frt_server_stop(s);
    return clean;
}

int frt_token(const char *conninfo, const char *role, const char *name, char *out, size_t len)
{
    char err[2048];
    const char *argv[] = {frt_bin("FASTRUN_SERVER_BIN", "fastrun-server"),
                          "token",
                          "create",
                          "--role",
                          role,
                          "--name",
                          name,
                          "--database",
                          conninfo,
                          NULL};
    if (frt_run(argv, NULL, out, len, err, sizeof err) != 0) {
        fprintf(stderr, "harness: token create failed: %s\n", err);
        return -1;
    }
    out[strcspn(out, "\n")] = '\0';
    return 0;
}
