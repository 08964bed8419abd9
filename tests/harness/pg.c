/*
 * pg.c - a throw-away PostgreSQL cluster for tests: initdb into a temporary folder, the
 * postmaster as our child on a free 127.0.0.1 port with its socket in that folder, databases
 * created per test.
 *
 * The postmaster is started directly (not through pg_ctl, which detaches it) so that it stays in
 * our process tree: it dies with the test process (PR_SET_PDEATHSIG) and its backends notice
 * postmaster death and exit, whatever way the test ends. Durability is switched off (fsync,
 * synchronous_commit): these clusters live for one test run.
 */
#include "harness.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PG_SUPERUSER "fastrun"

/* Directory of initdb and postgres: $FRT_PG_BINDIR, pg_config --bindir's answer, or Debian's. */
static void pg_bindir(char *out, size_t len)
{
    const char *env = getenv("FRT_PG_BINDIR");
    if (env && env[0]) {
        snprintf(out, len, "%s", env);
        return;
    }
    static const char *const known[] = {"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
                                        "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/14/bin"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s/initdb", known[i]);
        if (access(path, X_OK) == 0) {
            snprintf(out, len, "%s", known[i]);
            return;
        }
    }
    const char *argv[] = {"/usr/bin/pg_config", "--bindir", NULL};
    if (frt_run(argv, NULL, out, len, NULL, 0) == 0)
        out[strcspn(out, "\n")] = '\0';
    else
        snprintf(out, len, "/usr/lib/postgresql/15/bin");
}

/* The OS user for postgres when we are root ("" otherwise). */
static void pg_os_user(char *out, size_t len)
{
    out[0] = '\0';
    if (geteuid() != 0) return;
    const char *env = getenv("FRT_PG_USER");
    if (env && env[0])
        snprintf(out, len, "%s", env);
    else if (getpwnam("fastrun-test"))
        snprintf(out, len, "fastrun-test");
    else
        snprintf(out, len, "nobody");
}

void frt_pg_conninfo(const frt_pg *pg, const char *db, char *out, size_t len)
{
    snprintf(out, len, "host=127.0.0.1 port=%d user=" PG_SUPERUSER " dbname=%s connect_timeout=5",
             pg->port, db ? db : "postgres");
}

int frt_pg_start(frt_pg *pg)
{
    char bindir[256], postgres[300], data[300], port[16], log[300], sock[300];
    pg_bindir(bindir, sizeof bindir);
    snprintf(postgres, sizeof postgres, "%s/postgres", bindir);
    snprintf(data, sizeof data, "%s/data", pg->dir);
    snprintf(log, sizeof log, "%s/pg.log", pg->dir);
    snprintf(port, sizeof port, "%d", pg->port);
    snprintf(sock, sizeof sock, "unix_socket_directories=%s", pg->dir);
    const char *argv[] = {postgres,
                          "-D",
                          data,
                          "-p",
                          port,
                          "-c",
                          "listen_addresses=127.0.0.1",
                          "-c",
                          sock,
                          "-c",
                          "fsync=off",
                          "-c",
                          "synchronous_commit=off",
                          "-c",
                          "full_page_writes=off",
                          "-c",
                          "max_connections=300",
                          "-c",
                          "shared_buffers=32MB",
                          NULL};
    if (frt_spawn(&pg->postmaster, argv, log, pg->user) != 0) return -1;
    char conninfo[256];
    frt_pg_conninfo(pg, NULL, conninfo, sizeof conninfo);
    for (int i = 0; i < 3000; i++) { /* 30 s */
        if (PQping(conninfo) == PQPING_OK) return 0;
        if (!frt_alive(&pg->postmaster, NULL)) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char tail[2048];
    frt_tail(log, tail, sizeof tail);
    fprintf(stderr, "harness: PostgreSQL did not start on port %d:\n%s\n", pg->port, tail);
    frt_stop(&pg->postmaster, SIGKILL, true, 1000);
    return -1;
}

int frt_pg_create(frt_pg *pg)
{
    memset(pg, 0, sizeof *pg);
    pg_os_user(pg->user, sizeof pg->user);
    if (frt_tempdir(pg->dir, sizeof pg->dir) != 0) return -1;
    if (pg->user[0]) {
        struct passwd *pw = getpwnam(pg->user);
        if (!pw || chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "harness: cannot give %s to user '%s'\n", pg->dir, pg->user);
            return -1;
        }
    }
    char bindir[256], initdb[300], data[300], err[4096];
    pg_bindir(bindir, sizeof bindir);
    snprintf(initdb, sizeof initdb, "%s/initdb", bindir);
    snprintf(data, sizeof data, "%s/data", pg->dir);
    const char *argv[] = {initdb, "-A",        "trust", "-U", PG_SUPERUSER, "-E",
                          "UTF8", "--no-sync", "-D",    data, NULL};
    if (frt_run(argv, pg->user, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "harness: initdb failed:\n%s\n", err);
        return -1;
    }
    /* A free port now; if another process takes it before postgres binds, try another. */
    for (int attempt = 0; attempt < 3; attempt++) {
        pg->port = frt_free_port();
        if (pg->port > 0 && frt_pg_start(pg) == 0) return 0;
    }
    return -1;
}

int frt_pg_stop(frt_pg *pg)
{
    if (pg->postmaster.pid <= 0) return 0;
    /* SIGINT to the postmaster alone is PostgreSQL's "fast" shutdown. */
    return frt_stop(&pg->postmaster, SIGINT, false, 30000) == 0 ? 0 : -1;
}

void frt_pg_destroy(frt_pg *pg)
{
    if (pg->postmaster.pid > 0) frt_pg_stop(pg);
    if (pg->dir[0]) frt_rmtree(pg->dir);
    pg->dir[0] = '\0';
}

int frt_pg_sql(const char *conninfo, const char *sql, char *out, size_t outlen)
{
    PGconn *c = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            rc = 0;
            if (out && outlen)
                snprintf(out, outlen, "%s",
                         PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
        } else {
            fprintf(stderr, "harness: SQL failed: %s: %s", sql, PQresultErrorMessage(r));
        }
        PQclear(r);
    } else {
        fprintf(stderr, "harness: cannot connect (%s): %s", conninfo, PQerrorMessage(c));
    }
    PQfinish(c);
    return rc;
}

int frt_pg_fresh_db(const frt_pg *pg, char *conninfo, size_t len)
{
    static int counter;
    char name[64], sql[128], admin[256];
    snprintf(name, sizeof name, "t_%d_%d", (int)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    frt_pg_conninfo(pg, NULL, admin, sizeof admin);
    if (frt_pg_sql(admin, sql, NULL, 0) != 0) return -1;
    frt_pg_conninfo(pg, name, conninfo, len);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The shared cluster of one test binary: started by the runner, found by test processes
 * through the environment.
 * ------------------------------------------------------------------------------------------- */
static frt_pg shared;

int frt_pg_shared_start(void)
{
    if (frt_pg_create(&shared) != 0) return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", shared.port);
    setenv("FRT_PG_PORT", port, 1);
    setenv("FRT_PG_DIR", shared.dir, 1);
    return 0;
}

void frt_pg_shared_stop(void)
{
    frt_pg_destroy(&shared);
}

int frt_pg_shared(frt_pg *out)
{
    const char *port = getenv("FRT_PG_PORT"), *dir = getenv("FRT_PG_DIR");
    memset(out, 0, sizeof *out);
    if (!port || !dir) {
        fprintf(stderr, "harness: no shared cluster (call frt_pg_shared_start from a PRE_ALL "
                        "report hook)\n");
        return -1;
    }
    out->port = (int)strtol(port, NULL, 10);
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    return 0;
}
