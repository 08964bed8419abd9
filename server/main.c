/*
 * main.c - the fastrun-server command: serve (default), migrate, token create, routes.
 *
 * The database comes from --database CONNINFO or, without it, from libpq's PG* environment
 * (PGHOST, PGPORT, PGDATABASE, PGUSER, ...). Every subcommand that touches the database first
 * applies the embedded migrations, so `token create` works on an empty database too.
 */
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fastrun-server [serve] --listen ADDR:PORT [--database CONNINFO] [--web DIR]\n"
    "                      [--read-token] [--max-body BYTES] [--max-upload-results N]\n"
    "                      [--max-connections N] [--connection-timeout S] [--db-pool N]\n"
    "                      [--db-wait-ms MS] [--statement-timeout-ms MS]\n"
    "                      [--doc-cache-bytes BYTES] [--quiet]\n"
    "                      [--lease-seconds S] [--max-attempts N]\n"
    "                      [--local-workers N [--local-pool NAME] [--local-worker-threads N]]\n"
    "       fastrun-server migrate [--database CONNINFO]\n"
    "       fastrun-server token create --role reader|submitter|worker|admin --name NAME\n"
    "                      [--database CONNINFO]\n"
    "       fastrun-server routes\n"
    "Without --database, libpq's PG* environment variables choose the database.\n";

void frs_config_defaults(frs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    cfg->database = "";
    cfg->max_body = FRS_DEFAULT_MAX_BODY;
    cfg->max_upload_results = FRS_DEFAULT_MAX_UPLOAD_RESULTS;
    cfg->max_connections = 256;
    cfg->connection_timeout_s = 30;
    cfg->db_pool_size = 8;
    cfg->db_wait_ms = 2000;
    cfg->statement_timeout_ms = 15000;
    cfg->doc_cache_bytes = 256u << 20;
    cfg->lease_s = FRS_DEFAULT_LEASE_S;
    cfg->max_failures = FRS_DEFAULT_MAX_FAILURES;
    cfg->local_pool = "default";
}

static int fail(const char *what, fr_err e, const fr_diag *d)
{
    fprintf(stderr, "fastrun-server: %s: %s%s%s\n", what, fr_err_message(e), d->msg[0] ? ": " : "",
            d->msg);
    return e == FR_ERR_INVALID_ARGUMENT ? 2 : 1;
}

/* Parses an unsigned number in [lo, hi] for option name. */
static bool number(const char *name, const char *s, unsigned long long lo, unsigned long long hi,
                   unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "fastrun-server: %s: expected a number from %llu to %llu, got '%s'\n",
                name, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

/* "127.0.0.1:8080", "[::1]:8080", "localhost:0". */
static bool parse_listen(const char *s, frs_config *cfg)
{
    const char *colon = strrchr(s, ':');
    unsigned long long port;
    if (!colon || !number("--listen port", colon + 1, 0, 65535, &port)) {
        fprintf(stderr, "fastrun-server: --listen: expected ADDR:PORT, got '%s'\n", s);
        return false;
    }
    size_t len = (size_t)(colon - s);
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') s++, len -= 2;
    if (len == 0 || len >= sizeof cfg->listen_host) {
        fprintf(stderr, "fastrun-server: --listen: bad address in '%s'\n", s);
        return false;
    }
    memcpy(cfg->listen_host, s, len);
    cfg->listen_host[len] = '\0';
    cfg->listen_port = (int)port;
    return true;
}

enum { O_LISTEN = 1, O_DATABASE, O_WEB, O_READ_TOKEN, O_MAX_BODY, O_MAX_RESULTS, O_MAX_CONN,
       O_CONN_TIMEOUT, O_POOL, O_WAIT, O_STMT_TIMEOUT, O_DOC_CACHE, O_QUIET, O_ROLE, O_NAME, O_LEASE, O_MAX_ATTEMPTS, O_LOCAL_WORKERS,
       O_LOCAL_POOL, O_LOCAL_THREADS };

static const struct option options[] = {
    {"listen", required_argument, 0, O_LISTEN}, {"database", required_argument, 0, O_DATABASE},
    {"web", required_argument, 0, O_WEB}, {"read-token", no_argument, 0, O_READ_TOKEN},
    {"max-body", required_argument, 0, O_MAX_BODY},
    {"max-upload-results", required_argument, 0, O_MAX_RESULTS},
    {"max-connections", required_argument, 0, O_MAX_CONN},
    {"connection-timeout", required_argument, 0, O_CONN_TIMEOUT},
    {"db-pool", required_argument, 0, O_POOL}, {"db-wait-ms", required_argument, 0, O_WAIT},
    {"statement-timeout-ms", required_argument, 0, O_STMT_TIMEOUT},
    {"doc-cache-bytes", required_argument, 0, O_DOC_CACHE}, {"quiet", no_argument, 0, O_QUIET},
    {"role", required_argument, 0, O_ROLE}, {"name", required_argument, 0, O_NAME},
    {"lease-seconds", required_argument, 0, O_LEASE},
    {"max-attempts", required_argument, 0, O_MAX_ATTEMPTS},
    {"local-workers", required_argument, 0, O_LOCAL_WORKERS},
    {"local-pool", required_argument, 0, O_LOCAL_POOL},
    {"local-worker-threads", required_argument, 0, O_LOCAL_THREADS},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};

typedef struct {
    frs_config cfg;
    bool has_listen;
    const char *role, *name;
} cli;

static bool parse_options(int argc, char **argv, cli *c)
{
    unsigned long long v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case O_LISTEN: ok = c->has_listen = parse_listen(optarg, &c->cfg); break;
        case O_DATABASE: c->cfg.database = optarg; break;
        case O_WEB: c->cfg.web_dir = optarg; break;
        case O_READ_TOKEN: c->cfg.read_token_required = true; break;
        case O_MAX_BODY: ok = number("--max-body", optarg, 1024, 1ull << 30, &v); c->cfg.max_body = v; break;
        case O_MAX_RESULTS: ok = number("--max-upload-results", optarg, 1, FRC_MAX_ENTRIES, &v); c->cfg.max_upload_results = v; break;
        case O_MAX_CONN: ok = number("--max-connections", optarg, 1, 10000, &v); c->cfg.max_connections = (unsigned)v; break;
        case O_CONN_TIMEOUT: ok = number("--connection-timeout", optarg, 1, 3600, &v); c->cfg.connection_timeout_s = (unsigned)v; break;
        case O_POOL: ok = number("--db-pool", optarg, 1, 1000, &v); c->cfg.db_pool_size = (unsigned)v; break;
        case O_WAIT: ok = number("--db-wait-ms", optarg, 0, 600000, &v); c->cfg.db_wait_ms = (unsigned)v; break;
        case O_STMT_TIMEOUT: ok = number("--statement-timeout-ms", optarg, 100, 3600000, &v); c->cfg.statement_timeout_ms = (unsigned)v; break;
        case O_DOC_CACHE: ok = number("--doc-cache-bytes", optarg, 0, 1ull << 40, &v); c->cfg.doc_cache_bytes = v; break;
        case O_QUIET: c->cfg.quiet = true; break;
        case O_ROLE: c->role = optarg; break;
        case O_NAME: c->name = optarg; break;
        case O_LEASE: ok = number("--lease-seconds", optarg, 1, 3600, &v); c->cfg.lease_s = (double)v; break;
        case O_MAX_ATTEMPTS: ok = number("--max-attempts", optarg, 1, 100, &v); c->cfg.max_failures = (unsigned)v; break;
        case O_LOCAL_WORKERS: ok = number("--local-workers", optarg, 0, 64, &v); c->cfg.local_workers = (unsigned)v; break;
        case O_LOCAL_POOL: c->cfg.local_pool = optarg; break;
        case O_LOCAL_THREADS: ok = number("--local-worker-threads", optarg, 1, 1024, &v); c->cfg.local_threads = (unsigned)v; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: ok = false;
        }
        if (!ok) return false;
    }
    if (optind < argc) {
        fprintf(stderr, "fastrun-server: unexpected argument '%s'\n", argv[optind]);
        return false;
    }
    return true;
}

static int cmd_serve(cli *c)
{
    if (!c->has_listen) {
        fprintf(stderr, "fastrun-server: --listen ADDR:PORT is required\n%s", usage);
        return 2;
    }
    /* Signals are taken by sigwait in this thread; every thread started later inherits the
     * mask, so none of them is interrupted. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    frs_server srv = {0};
    fr_diag d = {""};
    frs_supervisor *workers = NULL;
    fr_err e = frs_server_start(&srv, &c->cfg, &d);
    if (e == FR_ERR_OK) e = frs_jobs_start(&srv, &d);
    if (e == FR_ERR_OK && c->cfg.local_workers) e = frs_supervisor_start(&srv, &workers, &d);
    int sig = 0;
    if (e == FR_ERR_OK) sigwait(&set, &sig);
    if (e == FR_ERR_OK && !c->cfg.quiet)
        fprintf(stderr, "fastrun-server: signal %d, stopping\n", sig);
    /* Workers first (they hand their jobs back through this server), then the waits. */
    frs_supervisor_stop(workers);
    frs_jobs_stop();
    frs_server_stop(&srv);
    return e == FR_ERR_OK ? 0 : fail("cannot start", e, &d);
}

static int cmd_token_create(cli *c)
{
    unsigned role;
    if (!c->role || frs_role_parse(c->role, &role) != FR_ERR_OK || !c->name || !c->name[0]) {
        fprintf(stderr, "fastrun-server: token create needs --role reader|submitter|worker|admin "
                        "and --name NAME\n");
        return 2;
    }
    frs_server srv = {0};
    fr_diag d = {""};
    int version;
    srv.cfg = c->cfg;
    srv.cfg.db_pool_size = 1;
    fr_err e = frs_queries_load(&srv.queries, &d);
    if (e == FR_ERR_OK) e = frs_migrate(c->cfg.database, &srv.queries, &version, &d);
    if (e == FR_ERR_OK) e = frs_metrics_init(&srv.metrics);
    if (e == FR_ERR_OK) e = frs_db_open(&srv.cfg, &srv.queries, &srv.metrics, &srv.db, &d);
    frs_conn *conn = NULL;
    if (e == FR_ERR_OK) e = frs_db_borrow(srv.db, &conn, &d);
    char token[80], created[40];
    int64_t id = 0;
    if (e == FR_ERR_OK)
        e = frs_token_create(conn, role, c->name, token, sizeof token, &id, created,
                             sizeof created, &d);
    if (conn) frs_db_return(srv.db, conn);
    frs_server_stop(&srv);
    if (e != FR_ERR_OK) return fail("token create", e, &d);
    printf("%s\n", token);
    fprintf(stderr, "fastrun-server: token %lld '%s' (%s) created; it is shown only this once\n",
            (long long)id, c->name, frs_role_name(role));
    return 0;
}

static int cmd_migrate(cli *c)
{
    frs_queryset qs;
    fr_diag d = {""};
    int version = 0;
    fr_err e = frs_queries_load(&qs, &d);
    if (e == FR_ERR_OK) e = frs_migrate(c->cfg.database, &qs, &version, &d);
    frs_queries_cleanup(&qs);
    if (e != FR_ERR_OK) return fail("migrate", e, &d);
    printf("schema version %d\n", version);
    return 0;
}

int main(int argc, char **argv)
{
    cli c = {0};
    frs_config_defaults(&c.cfg);
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "serve";
    int skip = argc > 1 && argv[1][0] != '-' ? 1 : 0;
    if (!strcmp(cmd, "token")) {
        if (argc < 3 || strcmp(argv[2], "create") != 0) {
            fprintf(stderr, "%s", usage);
            return 2;
        }
        skip = 2;
    }
    if (!parse_options(argc - skip, argv + skip, &c)) return 2;
    if (!strcmp(cmd, "serve")) return cmd_serve(&c);
    if (!strcmp(cmd, "migrate")) return cmd_migrate(&c);
    if (!strcmp(cmd, "token")) return cmd_token_create(&c);
    if (!strcmp(cmd, "routes")) {
        frs_routes_print(stdout);
        return 0;
    }
    fprintf(stderr, "fastrun-server: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
