/*
 * test_startup.c - starting fastrun-server: migrations applied once and recorded, a clear refusal
 * when the database is unreachable or newer than the server, and several servers on one
 * database (stateless: what one stores, the others serve at once); a second server on a port
 * already served fails at start naming the address and port, and the first keeps every request.
 */
#include "fixture.h"

#include "fr_common.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(startup, .timeout = 60);

static int run_server(const char *const *args, char *err, size_t errlen)
{
    const char *argv[16] = {frt_bin("FASTRUN_SERVER_BIN", "fastrun-server")};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char out[1024];
    return frt_run(argv, NULL, out, sizeof out, err, errlen);
}

Test(startup, unreachable_database_is_a_clear_refusal)
{
    char conninfo[128], listen[64], err[2048];
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=x dbname=y connect_timeout=2",
             frt_free_port());
    snprintf(listen, sizeof listen, "127.0.0.1:%d", frt_free_port());
    const char *args[] = {"--listen", listen, "--database", conninfo, NULL};
    cr_assert_neq(run_server(args, err, sizeof err), 0);
    cr_assert(strstr(err, "cannot connect to PostgreSQL"), "%s", err);
}

Test(startup, newer_schema_is_refused)
{
    frt_pg pg;
    char conninfo[256], listen[64], err[2048];
    cr_assert_eq(frt_pg_shared(&pg), 0);
    cr_assert_eq(frt_pg_fresh_db(&pg, conninfo, sizeof conninfo), 0);
    const char *migrate[] = {"migrate", "--database", conninfo, NULL};
    cr_assert_eq(run_server(migrate, err, sizeof err), 0, "%s", err);
    char name[64];
    cr_assert_eq(frt_pg_sql(conninfo, "SELECT name FROM schema_version WHERE version = 1", name,
                            sizeof name),
                 0);
    cr_assert_str_eq(name, "001_core.sql");
    cr_assert_eq(frt_pg_sql(conninfo,
                            "INSERT INTO schema_version (version, name) "
                            "VALUES (999, '999_future.sql')",
                            NULL, 0),
                 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", frt_free_port());
    const char *serve[] = {"--listen", listen, "--database", conninfo, NULL};
    cr_assert_neq(run_server(serve, err, sizeof err), 0);
    cr_assert(strstr(err, "newer than this fastrun-server knows"), "%s", err);
}

static frt_server a, b;

static void stop_both(void)
{
    frt_server_stop(&a);
    frt_server_stop(&b);
}

Test(startup, two_servers_one_database, .fini = stop_both)
{
    frt_pg pg;
    char conninfo[256], admin[96];
    cr_assert_eq(frt_pg_shared(&pg), 0);
    cr_assert_eq(frt_pg_fresh_db(&pg, conninfo, sizeof conninfo), 0);
    /* The second server finds the schema current and applies nothing. */
    cr_assert_eq(frt_server_start(&a, conninfo, NULL), 0);
    cr_assert_eq(frt_server_start(&b, conninfo, NULL), 0);
    char n[16];
    frt_pg_sql(conninfo, "SELECT count(*) - count(DISTINCT version) FROM schema_version", n,
               sizeof n);
    cr_assert_str_eq(n, "0", "each migration recorded once");
    cr_assert_eq(frt_token(conninfo, "worker", "w", admin, sizeof admin), 0);

    fx fa = {.srv = a}, fb = {.srv = b};
    char key[FR_MAX_KEY_LEN], path[128], rev[32];
    fx_matmul_key(11, 12, 13, key, sizeof key);
    const char *keys[] = {key, NULL};
    fx_result r1 = {"matmul.blas", "", 1.0, 0};
    char *body = fx_upload("h1", "2026-01-01T00:00:00Z", fx_fingerprint("stateless"), keys, &r1, 1);
    frt_resp r = fx_req(&fa, "POST", "/v1/results", admin, body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *j = fx_json(&r);
    snprintf(path, sizeof path, "/v1/cache?category=%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(j, "categories"), 0), "id")));
    json_decref(j);
    frt_resp_free(&r);
    free(body);

    r = fx_req(&fb, "GET", path, NULL, NULL); /* b builds and keeps revision 1 */
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(frt_header(&r, "X-Fastrun-Revision", rev, sizeof rev), "1");
    frt_resp_free(&r);

    fx_result r2 = {"matmul.packed_simd", "", 0.5, 0};
    body = fx_upload("h2", "2026-01-01T00:00:00Z", fx_fingerprint("stateless"), keys, &r2, 1);
    r = fx_req(&fa, "POST", "/v1/results", admin, body);
    cr_assert_eq(r.status, 201);
    frt_resp_free(&r);
    free(body);

    r = fx_req(&fb, "GET", path, NULL, NULL); /* b must see a's change at once */
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(frt_header(&r, "X-Fastrun-Revision", rev, sizeof rev), "2");
    cr_assert(strstr(r.body, "matmul.packed_simd"), "%s", r.body);
    frt_resp_free(&r);
}

static frt_server first;
static frt_proc second;
static char second_dir[256];

static void stop_first(void)
{
    if (second.pid > 0) frt_stop(&second, SIGKILL, true, 1000);
    if (second_dir[0]) frt_rmtree(second_dir);
    frt_server_stop(&first);
}

Test(startup, busy_port_is_refused_not_shared, .fini = stop_first)
{
    frt_pg pg;
    char conninfo[256], listen[64], log[300], expect[96], url[128];
    cr_assert_eq(frt_pg_shared(&pg), 0);
    cr_assert_eq(frt_pg_fresh_db(&pg, conninfo, sizeof conninfo), 0);
    cr_assert_eq(frt_server_start(&first, conninfo, NULL), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", first.port);
    cr_assert_eq(frt_tempdir(second_dir, sizeof second_dir), 0);
    snprintf(log, sizeof log, "%s/second.log", second_dir);
    const char *argv[] = {frt_bin("FASTRUN_SERVER_BIN", "fastrun-server"),
                          "--listen",
                          listen,
                          "--database",
                          conninfo,
                          NULL};
    cr_assert_eq(frt_spawn(&second, argv, log, NULL), 0);
    /* It must end by itself, with an error: one that keeps running shares the port. */
    int status = 0;
    for (int waited = 0; frt_alive(&second, &status); waited += 50) {
        cr_assert_lt(waited, 10000, "a second server runs on %s beside the first", listen);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char *text = frt_read_file(log, NULL);
    snprintf(expect, sizeof expect, "cannot listen on %s: Address already in use", listen);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %d", status);
    cr_expect(text && strstr(text, expect), "expected '%s' in:\n%s", expect, text ? text : "");
    free(text);
    /* The first server still answers every request. */
    snprintf(url, sizeof url, "%s/readyz", first.url);
    for (int i = 0; i < 20; i++) {
        frt_resp r = {0};
        cr_assert_eq(frt_http("GET", url, NULL, NULL, 0, &r), 0);
        cr_assert_eq(r.status, 200, "request %d: %ld", i, r.status);
        frt_resp_free(&r);
    }
    cr_assert(frt_alive(&first.proc, NULL), "the first server should still run");
}
