/*
 * harness.h - what integration tests need to drive real processes: a PostgreSQL cluster in a
 * temporary folder, fastrun-server on a free loopback port, tokens made with the CLI, an HTTP
 * client (libcurl), and child processes that die with the test.
 *
 * Used by the server, jobs and dashboard tests. Functions return 0 on success and -1 on failure
 * after printing why to stderr (a test then fails with cr_assert and the reason is in its log).
 *
 * Cleanup even when a test fails: every child runs in its own process group with
 * PR_SET_PDEATHSIG=SIGKILL (it dies with the test process, even one killed by a timeout), and an
 * atexit handler stops what the exiting process started. A Criterion assertion failure exits the
 * test process, which runs that handler.
 *
 * PostgreSQL refuses to run as root: when the tests run as root, initdb and postgres run as the
 * user FRT_PG_USER, else "fastrun-test" if it exists (scripts/test-user.sh creates it), else
 * "nobody"; the cluster's folder is given to that user.
 *
 * A test binary usually shares one cluster between its tests, each test creating its own
 * database: call frt_pg_shared_start() from a Criterion ReportHook(PRE_ALL) (it runs in the
 * runner process, before any test process exists) and frt_pg_shared_stop() from
 * ReportHook(POST_ALL); tests find the cluster with frt_pg_shared() (environment FRT_PG_*).
 */
#ifndef FRT_HARNESS_H
#define FRT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---------------------------------------------------------------------------------------------
 * Processes (proc.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    pid_t pid; /* 0: not running */
    char name[32];
} frt_proc;

/* Starts argv[0] (a path) with stdout and stderr appended to log_path (NULL: inherited), stdin
 * from /dev/null, in a new process group, as user run_as (NULL: ourselves). */
int frt_spawn(frt_proc *p, const char *const argv[], const char *log_path, const char *run_as);
/* Sends sig to the process (group too if group), waits up to timeout_ms, then SIGKILLs the
 * group. Returns the exit status as waitpid gives it, or -1. Safe on a stopped process. */
int frt_stop(frt_proc *p, int sig, bool group, int timeout_ms);
/* True while the process runs (reaps it if it exited; *status receives its status). */
bool frt_alive(frt_proc *p, int *status);
/* Runs argv to completion (as run_as), stdout captured into out (NUL-terminated, truncated to
 * outlen), stderr into err (may be NULL: inherited). Returns the exit code, or -1. */
int frt_run(const char *const argv[], const char *run_as, char *out, size_t outlen, char *err,
            size_t errlen);

/* A fresh temporary folder (mode 0755) under $TMPDIR or /tmp, removed at exit of this process
 * if frt_rmtree has not removed it before. */
int frt_tempdir(char *out, size_t len);
/* Removes a folder and everything in it. */
void frt_rmtree(const char *path);
/* The last `bytes` bytes of a file, for failure messages. */
void frt_tail(const char *path, char *out, size_t bytes);
/* A TCP port on 127.0.0.1 free right now (bound to port 0, then closed). */
int frt_free_port(void);
/* The value of environment variable env, else fallback. */
const char *frt_bin(const char *env, const char *fallback);

/* ---------------------------------------------------------------------------------------------
 * PostgreSQL (pg.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    char dir[256]; /* temporary folder: data/, the socket, pg.log */
    int port;
    char user[64]; /* the OS user running postgres ("" = ourselves) */
    frt_proc postmaster;
} frt_pg;

/* initdb into a new temporary folder (trust auth, superuser "fastrun") and start it on a free
 * 127.0.0.1 port. */
int frt_pg_create(frt_pg *pg);
/* Starts the postmaster on pg->port and waits until it accepts connections (30 s at most). */
int frt_pg_start(frt_pg *pg);
/* Fast shutdown (SIGINT), waiting for it; the data stays. */
int frt_pg_stop(frt_pg *pg);
/* Stops and removes the folder. Safe on a zeroed or destroyed pg. */
void frt_pg_destroy(frt_pg *pg);
/* conninfo for database db ("postgres" if NULL). */
void frt_pg_conninfo(const frt_pg *pg, const char *db, char *out, size_t len);
/* Creates a database with a name unique to this process and returns its conninfo. */
int frt_pg_fresh_db(const frt_pg *pg, char *conninfo, size_t len);
/* Runs SQL (no parameters, for tests only) on conninfo; out (may be NULL) receives the first
 * value of the first row. */
int frt_pg_sql(const char *conninfo, const char *sql, char *out, size_t outlen);

/* The shared cluster of a test binary (see above). */
int frt_pg_shared_start(void);
void frt_pg_shared_stop(void);
int frt_pg_shared(frt_pg *out);

/* ---------------------------------------------------------------------------------------------
 * fastrun-server (server.c); the binary is $FASTRUN_SERVER_BIN.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    frt_proc proc;
    int port;
    char url[64];  /* "http://127.0.0.1:PORT" */
    char dir[256]; /* temporary folder holding server.log */
    char log[300];
} frt_server;

/* Starts fastrun-server on a free port against conninfo with extra arguments (NULL-terminated,
 * may be NULL) and waits until /readyz answers 200 (20 s at most). */
int frt_server_start(frt_server *s, const char *conninfo, const char *const *extra);
/* SIGTERM, wait, remove its folder. Safe on a zeroed server. */
void frt_server_stop(frt_server *s);
/* The same, and says whether the server stopped cleanly: a running server must exit with status
 * 0 on SIGTERM (a crash while stopping would otherwise pass unnoticed). When it did not, why
 * (len bytes) says how it ended and holds the end of its log. True for a server not running. */
bool frt_server_stop_clean(frt_server *s, char *why, size_t len);
/* `fastrun-server token create --role role --name name --database conninfo` -> token. */
int frt_token(const char *conninfo, const char *role, const char *name, char *out, size_t len);

/* ---------------------------------------------------------------------------------------------
 * HTTP (http.c), libcurl
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    long status; /* 0 when no answer */
    char *body;  /* NUL-terminated */
    size_t len;
    char *headers; /* raw header block, NUL-terminated */
} frt_resp;

/* One request. headers: NULL-terminated "Name: value" strings (may be NULL). body may be NULL.
 * Returns 0 when an answer arrived (any status). */
int frt_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t len, frt_resp *out);
/* Value of a response header (case-insensitive name) copied into buf, or NULL. */
const char *frt_header(const frt_resp *r, const char *name, char *buf, size_t len);
void frt_resp_free(frt_resp *r);
/* Reads a whole file into a NUL-terminated buffer (caller frees), or NULL. */
char *frt_read_file(const char *path, size_t *len);

#endif
