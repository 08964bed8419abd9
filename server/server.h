/*
 * server.h - fastrun-server: the fleet's caches in PostgreSQL, served over HTTP.
 *
 * Layers, top to bottom:
 *   http.c      the dispatcher, the only code that speaks libmicrohttpd: body up to a cap, JSON
 *               parsed once, 404/405/413, auth from the route's declared access, fr_err -> status
 *               and {"error":{...}} body, metrics, and the request freed in one place;
 *   routes.c    the one route table (method, path pattern, handler, access, body limit);
 *   handlers    one file per resource: health.c, categories.c, results.c (+ store.c),
 *               cache_doc.c (+ doccache.c), coverage.c, tokens.c, metrics.c, web.c;
 *   db.c        a bounded pool of libpq connections with named prepared queries (queries.c reads
 *               them from sql/queries/), reconnection, and the one SQLSTATE -> fr_err mapping;
 *   migrate.c   the numbered migrations of sql/, embedded in the binary (embedded.c is generated
 *               at build time by embed.cmake).
 *
 * Thread model (why): libmicrohttpd runs in thread-per-connection mode, so a handler that waits
 * on PostgreSQL blocks only its own connection's thread, never a thread shared with other
 * clients. Threads are bounded by the connection limit and idle connections by the connection
 * timeout. Database connections are a separate, smaller pool: a handler borrows one for the
 * statements it runs and gives it back at once; when all are busy it waits up to a deadline and
 * then answers 503 "database busy", so a slow database sheds load instead of piling up threads.
 *
 * Statelessness: every fact lives in PostgreSQL. The only process-local state is the cache of
 * built documents (doccache.c), and each use of it is revalidated against the categories'
 * revisions with one indexed SELECT, so any number of servers can share one database.
 *
 * Conventions: fr_err results, out-parameters, a fr_diag for the detail (common/fr_common.h).
 * Internal prefix frs_; functions private to a pair of files carry frs__.
 */
#ifndef FRS_SERVER_H
#define FRS_SERVER_H

#include "cache.h"
#include "fr_common.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>

/* ---------------------------------------------------------------------------------------------
 * Limits and configuration (main.c fills the configuration from the command line)
 * ------------------------------------------------------------------------------------------- */
#define FRS_MAX_PARAMS 32          /* query-string parameters per request */
#define FRS_MAX_PATH_PARAMS 4      /* {name} segments per route pattern */
#define FRS_MAX_OUT_HEADERS 6      /* extra response headers per request */
#define FRS_SMALL_BODY (64 << 10)  /* body cap of routes that take small bodies */
#define FRS_MAX_JSON_DEPTH (FRC_MAX_DEPTH + 2) /* an upload wraps a document in one object */
#define FRS_MAX_CATEGORIES_PER_REQUEST 16
#define FRS_MAX_TOKEN_LEN 128
#define FRS_DEFAULT_MAX_BODY (8u << 20)
#define FRS_DEFAULT_MAX_UPLOAD_RESULTS 100000

typedef struct {
    char listen_host[256];       /* "127.0.0.1", "::1", "0.0.0.0" */
    int listen_port;
    const char *database;        /* libpq conninfo; "" = PG* environment (borrowed from argv) */
    const char *web_dir;         /* NULL = no static files (borrowed) */
    bool read_token_required;    /* reads need a token too (--read-token) */
    size_t max_body;             /* body cap of uploads and coverage requests, bytes */
    size_t max_upload_results;   /* results per upload */
    unsigned max_connections;    /* concurrent HTTP connections (= threads) */
    unsigned connection_timeout_s; /* idle HTTP connection timeout */
    unsigned db_pool_size;       /* PostgreSQL connections */
    unsigned db_wait_ms;         /* how long a handler waits for a free connection */
    unsigned statement_timeout_ms;
    size_t doc_cache_bytes;      /* memory for built documents */
    bool quiet;                  /* no start-up line */
    /* Jobs (jobs_int.h): the lease a claim gives, failed attempts before a job fails, and the
     * fastrun-worker processes the server starts and supervises (supervise.c). */
    double lease_s;
    unsigned max_failures;
    unsigned local_workers;
    const char *local_pool;      /* borrowed from argv */
    unsigned local_threads;      /* --threads of each local worker, 0 = the worker's default */
} frs_config;

void frs_config_defaults(frs_config *cfg);

/* ---------------------------------------------------------------------------------------------
 * Embedded files (embedded.c, generated from sql/ and docs/openapi.yaml at build time)
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    const char *path;          /* relative to the repository: "sql/001_core.sql" */
    const char *data;          /* NUL-terminated */
    size_t len;                /* without the NUL */
} frs_embedded;

extern const frs_embedded frs_embedded_files[];
extern const size_t frs_embedded_count;
/* The embedded file at path, or NULL. */
const frs_embedded *frs_embedded_find(const char *path);

/* ---------------------------------------------------------------------------------------------
 * Named queries (queries.c). The X-list is the code's side of sql/queries/NAME.sql: start-up fails
 * when a name is missing there or a file defines a name not listed here.
 * ------------------------------------------------------------------------------------------- */
#define FRS_QUERIES(X)                                                                             \
    X(begin) X(begin_snapshot) X(commit) X(rollback)                                               \
    X(ping) X(session_setup)                                                                       \
    X(schema_lock) X(schema_exists) X(schema_version_max) X(schema_version_record)                 \
    X(token_insert) X(token_lookup) X(tokens_list) X(token_revoke)                                 \
    X(categories_list) X(category_revisions) X(category_get) X(category_profiles)                  \
    X(upload_insert) X(upload_find) X(upload_count) X(category_ensure) X(category_lock)            \
    X(report_insert) X(reports_of_profile) X(profile_upsert) X(category_bump)                    \
    X(heuristic_upsert) X(category_heuristics)                     \
    /* jobs.sql, workers.sql (jobs and workers: jobs.c, claim.c, lease.c, job_*.c) */            \
    X(job_insert) X(job_operators_insert) X(job_operators_cache) X(job_progress) X(job_get)       \
    X(job_state) X(jobs_list) X(job_operators_list) X(job_attempts_list) X(job_categories)        \
    X(job_lock) X(job_finish) X(job_requeue) X(job_attempt_end) X(workers_live)                   \
    X(worker_insert) X(worker_seen) X(worker_stop) X(worker_jobs_held) X(workers_list) X(jobs_expired) X(job_claim)   \
    X(job_start) X(job_attempt_insert) X(job_operators_pending) X(job_lease_extend)               \
    X(job_operator_lock) X(job_operator_done) X(upload_conditions)

typedef enum {
#define FRS_Q_ENUM(name) FRS_Q_##name,
    FRS_QUERIES(FRS_Q_ENUM)
#undef FRS_Q_ENUM
        FRS_Q__COUNT
} frs_query;

typedef struct {
    char *text[FRS_Q__COUNT]; /* owned; SQL without the trailing ';' */
} frs_queryset;

/* Reads every embedded sql/queries/NAME.sql. Errors name the file and the query. */
FR_WUR fr_err frs_queries_load(frs_queryset *qs, fr_diag *d);
void frs_queries_cleanup(frs_queryset *qs);
const char *frs_query_name(frs_query q);

/* ---------------------------------------------------------------------------------------------
 * Database (db.c): the connection pool, statements, the SQLSTATE mapping
 * ------------------------------------------------------------------------------------------- */
typedef struct frs_db frs_db;
typedef struct frs_conn frs_conn;
typedef struct frs_metrics frs_metrics;

/* Opens a pool of cfg->db_pool_size connections, connected lazily on first borrow. The pool
 * borrows cfg's strings, qs and metrics (they outlive it). */
FR_WUR fr_err frs_db_open(const frs_config *cfg, const frs_queryset *qs, frs_metrics *metrics,
                          frs_db **out, fr_diag *d);
/* Closes the pool: from now on every borrow fails (FR_ERR_UNAVAILABLE, "server shutting down"),
 * borrowers waiting for a connection are woken to fail, and close waits (up to 30 s) for every
 * borrowed connection to come back before it frees anything; a pool still in use after that is
 * left allocated, with a message on stderr. NULL is a no-op. */
void frs_db_close(frs_db *db);
/* Borrows a connection, waiting up to db_wait_ms (FR_ERR_UNAVAILABLE "database busy"); a
 * connection that is not open is (re)connected and its statements prepared
 * (FR_ERR_DB_UNAVAILABLE when PostgreSQL cannot be reached). Give it back with frs_db_return.
 * A NULL or closing pool is FR_ERR_UNAVAILABLE ("server shutting down", HTTP 503). */
FR_WUR fr_err frs_db_borrow(frs_db *db, frs_conn **out, fr_diag *d);
/* Returns a borrowed connection; an open transaction is rolled back first. NULL is a no-op. */
void frs_db_return(frs_db *db, frs_conn *c);
/* Runs a prepared query with text parameters (NULL = SQL NULL). *out (may be NULL when the
 * caller wants no rows) receives the result, owned by the caller (PQclear). Outside a
 * transaction, a statement that fails because the connection broke is retried once on a fresh
 * connection, so a PostgreSQL restart costs no request once the database is back. */
FR_WUR fr_err frs_db_exec(frs_conn *c, frs_query q, int nparams, const char *const *params,
                          PGresult **out, fr_diag *d);
/* Transaction helpers on top of frs_db_exec (begin / begin_snapshot / commit / rollback). */
FR_WUR fr_err frs_db_begin(frs_conn *c, bool snapshot, fr_diag *d);
FR_WUR fr_err frs_db_commit(frs_conn *c, fr_diag *d);
void frs_db_rollback(frs_conn *c);
/* The one SQLSTATE -> fr_err mapping (NULL sqlstate: the connection is gone). */
fr_err frs_db_sqlstate_err(const char *sqlstate);
/* Connects once without the pool (migrations, CLI). conninfo "" uses the PG* environment. */
FR_WUR fr_err frs_db_connect_direct(const char *conninfo, PGconn **out, fr_diag *d);

/* ---------------------------------------------------------------------------------------------
 * Migrations (migrate.c)
 * ------------------------------------------------------------------------------------------- */
/* Applies every embedded sql/NNN_*.sql newer than the database's schema_version, each in its
 * own transaction under an advisory lock. FR_ERR_VERSION when the database is newer than this
 * binary; FR_ERR_DB_UNAVAILABLE when it cannot be reached. *out_version: the version now. */
FR_WUR fr_err frs_migrate(const char *conninfo, const frs_queryset *qs, int *out_version,
                          fr_diag *d);
/* Highest migration number embedded in this binary. */
int frs_migrations_known(void);

/* ---------------------------------------------------------------------------------------------
 * Metrics (metrics.c): counters kept with relaxed atomics, rendered as Prometheus text.
 * ------------------------------------------------------------------------------------------- */
#define FRS_LATENCY_BUCKETS 13

typedef struct {
    _Atomic uint64_t by_status[20];              /* slots of frs__status_slots + "other" */
    _Atomic uint64_t buckets[FRS_LATENCY_BUCKETS]; /* cumulative at render time */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
} frs_route_metrics;

struct frs_metrics {
    frs_route_metrics *routes; /* frs_route_count() + 1 ("unmatched"), owned */
    _Atomic uint64_t docs_served, not_modified, doc_builds, revision_queries, uploads_new,
        uploads_duplicate, uploads_rejected, reports_added, db_errors, db_unavailable,
        db_connects, db_busy;
};

FR_WUR fr_err frs_metrics_init(frs_metrics *m);
void frs_metrics_cleanup(frs_metrics *m);
/* Records one answered request; route_index == frs_route_count() means "no route matched". */
void frs_metrics_request(frs_metrics *m, size_t route_index, int status, uint64_t micros);
#define frs_count(m, field) atomic_fetch_add_explicit(&(m)->field, 1, memory_order_relaxed)

/* ---------------------------------------------------------------------------------------------
 * Requests and responses (request.c): what a handler sees. Handlers never see libmicrohttpd.
 * ------------------------------------------------------------------------------------------- */
typedef struct frs_server frs_server;
typedef struct frs_route frs_route;
typedef void (*frs_free_fn)(void *cls);

typedef struct {
    const char *name;
    const char *value;
} frs_kv;

/* Who made a request: filled by the dispatcher when the request carried a valid token. */
typedef struct {
    int64_t token_id; /* 0: anonymous */
    unsigned role;    /* one FRS_ROLE_* bit, 0 when anonymous */
    char name[129];
} frs_principal;

typedef struct frs_req {
    frs_server *srv;            /* borrowed */
    const frs_route *route;     /* NULL when none matched */
    size_t route_index;
    char method[12];
    char *path;                 /* owned */
    char *path_params[FRS_MAX_PATH_PARAMS]; /* owned, values of the pattern's {name} segments */
    frs_kv params[FRS_MAX_PARAMS]; /* query arguments, decoded, borrowed from libmicrohttpd */
    size_t nparams;
    bool too_many_params;
    const char *authorization, *if_none_match, *content_type; /* borrowed, may be NULL */
    int client_fd;              /* the connection's socket (-1 unknown), only to notice that a
                                   long-polling client hung up (jobs: frs__client_gone) */
    char *body;                 /* owned, NUL-terminated, at most the route's cap */
    size_t body_len;
    bool body_too_large;
    json_t *json;               /* owned: the body parsed once by the dispatcher */
    frs_principal who;
    uint64_t start_us;
    /* The response a handler sets (frs_reply_*); freed by frs_req_free. */
    int status;
    json_t *out_json;
    void *out_data;
    size_t out_len;
    frs_free_fn out_free;
    void *out_free_cls;
    int out_fd;                 /* -1: none; a file to send, closed by the response */
    uint64_t out_fd_size;
    const char *out_type;       /* static string */
    struct {
        const char *name;       /* static string */
        char value[160];
    } out_headers[FRS_MAX_OUT_HEADERS];
    size_t nout_headers;
    fr_diag diag;               /* detail of an error a handler returns */
} frs_req;

FR_WUR fr_err frs_req_new(frs_server *srv, frs_req **out);
/* Frees everything the request owns, including an unsent response body. NULL is a no-op. */
void frs_req_free(frs_req *r);
/* First value of query parameter name, or NULL. */
const char *frs_param(const frs_req *r, const char *name);
/* Rejects any query parameter not in allowed (NULL-terminated): FR_ERR_BAD_REQUEST naming it. */
FR_WUR fr_err frs_params_only(frs_req *r, const char *const *allowed);
/* Response setters. frs_reply_json takes body. frs_reply_data borrows data until fn(cls) is
 * called (by the response, after sending; or by frs_req_free if never sent). */
void frs_reply_json(frs_req *r, int status, json_t *body);
void frs_reply_data(frs_req *r, int status, const char *type, void *data, size_t len,
                    frs_free_fn fn, void *cls);
/* Sends size bytes of the open file fd (taken: closed by the response or by frs_req_free). */
void frs_reply_file(frs_req *r, int status, const char *type, int fd, uint64_t size);
void frs_reply_empty(frs_req *r, int status);
void frs_reply_header(frs_req *r, const char *name, const char *value);
/* The request's JSON body as an object, or FR_ERR_BAD_REQUEST ("expected a JSON object"). */
FR_WUR fr_err frs_body_object(frs_req *r, json_t **out);
/* Microseconds of CLOCK_MONOTONIC. */
uint64_t frs_now_us(void);

/* ---------------------------------------------------------------------------------------------
 * Routes (routes.c)
 * ------------------------------------------------------------------------------------------- */
typedef fr_err (*frs_handler)(frs_req *req);

#define FRS_ROLES(X) X(READER, reader, 0) X(SUBMITTER, submitter, 1) X(WORKER, worker, 2) X(ADMIN, admin, 3)
enum {
#define FRS_ROLE_ENUM(up, low, bit) FRS_ROLE_##up = 1u << (bit),
    FRS_ROLES(FRS_ROLE_ENUM)
#undef FRS_ROLE_ENUM
};
#define FRS_ROLES_ANY (FRS_ROLE_READER | FRS_ROLE_SUBMITTER | FRS_ROLE_WORKER | FRS_ROLE_ADMIN)
#define FRS_ROLES_WRITE (FRS_ROLE_SUBMITTER | FRS_ROLE_WORKER | FRS_ROLE_ADMIN)

typedef enum {
    FRS_OPEN,  /* no token needed (probes, the dashboard's files) */
    FRS_READ,  /* open, unless the server runs with --read-token: then any role in roles */
    FRS_TOKEN, /* a bearer token whose role is in roles */
} frs_access;

typedef enum { FRS_BODY_NONE, FRS_BODY_SMALL, FRS_BODY_LARGE } frs_body;

struct frs_route {
    const char *method;   /* "GET", "POST", "DELETE" (HEAD is served by GET routes) */
    const char *pattern;  /* "/v1/cache", "/v1/tokens/{id}", or slash-star: any path (last) */
    frs_handler handler;
    frs_access access;
    unsigned roles;       /* FRS_ROLE_* allowed when a token is needed */
    frs_body body;        /* SMALL: FRS_SMALL_BODY; LARGE: cfg.max_body */
};

size_t frs_route_count(void);
const frs_route *frs_route_at(size_t i);
/* Matches method and path. On a match: *out_index, and req->path_params filled. Otherwise
 * FR_ERR_NOT_FOUND, or FR_ERR_METHOD_NOT_ALLOWED with allow (e.g. "GET, HEAD") filled. */
FR_WUR fr_err frs_route_match(frs_req *req, const char *method, const char *path,
                              size_t *out_index, char *allow, size_t allow_len);
/* Role names. */
const char *frs_role_name(unsigned role);
FR_WUR fr_err frs_role_parse(const char *name, unsigned *out_role);
/* Prints the table, one "METHOD PATTERN ACCESS ROLES" line per route (`fastrun-server routes`). */
void frs_routes_print(FILE *f);

/* ---------------------------------------------------------------------------------------------
 * The server (http.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct frs_doccache frs_doccache;

struct frs_server {
    frs_config cfg;
    frs_queryset queries;
    frs_metrics metrics;
    frs_db *db;
    frs_doccache *docs;
    void *daemon;          /* struct MHD_Daemon * */
    int listen_fd;         /* ours (bound without SO_REUSEPORT); valid only while daemon is */
    atomic_uint in_flight; /* requests begun and not completed (http.c); stop waits for 0 */
};

/* Migrates the database, opens the pool and starts listening. srv must be zeroed; cfg is
 * copied. The address must be free: a port another process listens on is FR_ERR_IO naming the
 * address and port (no SO_REUSEPORT, so two servers never split one port's requests). On
 * error everything started is stopped again. */
FR_WUR fr_err frs_server_start(frs_server *srv, const frs_config *cfg, fr_diag *d);
/* Stops accepting (the listening socket is shut down at once: new clients are refused rather
 * than left waiting in its backlog), ends every connection and joins its thread, waits until every request begun has completed,
 * and only then closes the pool (which itself waits for borrowed connections) and frees the
 * rest; whatever is still in use after a bounded wait is left allocated rather than freed under
 * its user. It calls frs_jobs_stop first (the lease sweeper borrows from the pool; waiting
 * claims answer at once); call frs_supervisor_stop before it (the local workers hand their jobs
 * back through this server, and the supervisor revokes their token). Safe on a zeroed srv, and
 * twice. */
void frs_server_stop(frs_server *srv);

/* ---------------------------------------------------------------------------------------------
 * Auth (auth.c)
 * ------------------------------------------------------------------------------------------- */
#define FRS_TOKEN_PREFIX "frt_"
/* A new token: "frt_" + 64 hex digits of getrandom() bytes. buf needs 69 bytes. */
FR_WUR fr_err frs_token_generate(char *buf, size_t len);
/* Hex SHA-256 of a token (what the database keeps). */
void frs_token_hash(const char *token, char out[65]);
/* Checks the request's bearer token against the route's access: FR_ERR_UNAUTHORIZED (none,
 * malformed, unknown or revoked), FR_ERR_FORBIDDEN (role not allowed), or a database error.
 * Fills req->who on success. */
FR_WUR fr_err frs_auth_check(frs_req *req);
/* Creates a token in the database (CLI and POST /v1/tokens). token: 69 bytes. */
FR_WUR fr_err frs_token_create(frs_conn *c, unsigned role, const char *name, char *token,
                               size_t token_len, int64_t *out_id, char *created, size_t clen,
                               fr_diag *d);

/* ---------------------------------------------------------------------------------------------
 * Documents (doccache.c): merged documents built once per change, revalidated by revision.
 * ------------------------------------------------------------------------------------------- */
/* One category's merged document at one revision (all results, failures included). */
typedef struct {
    _Atomic long refs;
    int64_t revision;
    frc_doc doc;          /* exactly one category */
} frs_catdoc;

/* Bytes of a served document: canonical text, its ETag and revision. */
typedef struct {
    _Atomic long refs;
    char etag[40];        /* "\"<32 hex>\"" */
    int64_t revision;     /* sum of the categories' revisions */
    size_t len;
    char *data;
} frs_blob;

/* The categories and policy of a download, validated. ids sorted and distinct. */
typedef struct {
    char ids[FRS_MAX_CATEGORIES_PER_REQUEST][17];
    int64_t revisions[FRS_MAX_CATEGORIES_PER_REQUEST];
    size_t n;
    frc_policy policy;
} frs_docreq;

FR_WUR fr_err frs_doccache_new(size_t max_bytes, frs_doccache **out);
void frs_doccache_free(frs_doccache *c);
/* Current revisions of q->ids into q->revisions (one indexed SELECT, shared by concurrent
 * requests for the same categories: revcheck.c): FR_ERR_NOT_FOUND naming the first unknown
 * category. */
FR_WUR fr_err frs_docs_revisions(frs_server *s, frs_docreq *q, fr_diag *d);
/* ETag of (ids, revisions, policy). */
void frs_docs_etag(const frs_docreq *q, char out[40]);
/* The served bytes of q (after frs_docs_revisions), from memory when still current. *out is a
 * new reference: frs_blob_release. */
FR_WUR fr_err frs_docs_blob(frs_server *s, const frs_docreq *q, frs_blob **out, fr_diag *d);
void frs_blob_release(void *blob);
/* The category document at revision >= min_revision. New reference: frs_catdoc_release. */
FR_WUR fr_err frs_docs_category(frs_server *s, const char *id, int64_t min_revision,
                                frs_catdoc **out, fr_diag *d);
void frs_catdoc_release(frs_catdoc *cd);

/* revcheck.c: concurrent revision checks of the same categories share one query (see the file
 * for why that serves nothing staler). query(ctx, q, d) fills q->revisions. */
typedef struct frs_revchecks frs_revchecks;
typedef fr_err (*frs_revision_query)(void *ctx, frs_docreq *q, fr_diag *d);
FR_WUR fr_err frs_revchecks_new(frs_revchecks **out);
void frs_revchecks_free(frs_revchecks *t);
FR_WUR fr_err frs_revchecks_run(frs_revchecks *t, frs_docreq *q, frs_revision_query query,
                                void *ctx, fr_diag *d);

/* cache_doc.c: the query parameters shared by downloads and coverage. */
FR_WUR fr_err frs_docreq_from_params(frs_req *r, frs_docreq *q, fr_diag *d);
/* {"required":[...],"forbidden":[...],"max_workspace":N} (new reference or NULL on ENOMEM). */
json_t *frs_policy_json(const frc_policy *pol);

/* ---------------------------------------------------------------------------------------------
 * Uploads (store.c): one transaction per upload.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    char source[8];      /* "worker" | "user" */
    char host[256];
    char time[64];       /* RFC 3339, checked by PostgreSQL */
    char upload_id[129]; /* "" when the client gave none */
} frs_provenance;

typedef struct {
    int64_t upload_id;
    bool duplicate;
    size_t received, added;
    json_t *categories;  /* owned: [{"id","revision","reports_added"}] */
} frs_store_result;

FR_WUR fr_err frs_store_upload(frs_server *s, const frs_principal *who, const frs_provenance *p,
                               const frc_doc *doc, frs_store_result *out, fr_diag *d);
/* The same inside the caller's transaction on c (a job's per-operator report stores its results
 * and marks the operator done in one transaction). Commits nothing; on a duplicate nothing is
 * written. out->categories is owned by the caller even on error. */
FR_WUR fr_err frs_store_upload_in(frs_conn *c, const frs_principal *who,
                                  const frs_provenance *p, const frc_doc *doc,
                                  frs_store_result *out, fr_diag *d);

/* ---------------------------------------------------------------------------------------------
 * Handlers, one file per resource (each returns fr_err and sets the response on success).
 * ------------------------------------------------------------------------------------------- */
fr_err frs_health_live(frs_req *r);     /* health.c  GET /healthz */
fr_err frs_health_ready(frs_req *r);    /* health.c  GET /readyz */
fr_err frs_openapi_get(frs_req *r);     /* health.c  GET /openapi.yaml */
fr_err frs_metrics_get(frs_req *r);     /* metrics.c GET /metrics */
fr_err frs_categories_list(frs_req *r); /* categories.c GET /v1/categories */
fr_err frs_results_post(frs_req *r);    /* results.c POST /v1/results */
fr_err frs_cache_get(frs_req *r);       /* cache_doc.c GET /v1/cache */
fr_err frs_coverage_post(frs_req *r);   /* coverage.c POST /v1/coverage */
fr_err frs_tokens_post(frs_req *r);     /* tokens.c POST /v1/tokens */
fr_err frs_tokens_list(frs_req *r);     /* tokens.c GET /v1/tokens */
fr_err frs_tokens_revoke(frs_req *r);   /* tokens.c DELETE /v1/tokens/{id} */
fr_err frs_web_get(frs_req *r);         /* web.c GET any other path: --web DIR */

/* ---------------------------------------------------------------------------------------------
 * Jobs and workers (jobs.c, job_read.c, job_view.c, job_report.c, workers.c, claim.c, lease.c,
 * supervise.c; internals in jobs_int.h). Profiling jobs queued in PostgreSQL, claimed by
 * fastrun-worker processes under leases that heartbeats extend, each operator's results stored
 * as it is reported; README "Jobs" describes the API.
 * ------------------------------------------------------------------------------------------- */
#define FRS_DEFAULT_LEASE_S 15.0
#define FRS_DEFAULT_MAX_FAILURES 3
#define FRS_CLAIM_WAIT_MAX_S 30   /* longest claim long-poll */
#define FRS_JOB_WAIT_MAX_S 3600   /* longest GET /v1/jobs/{id}?wait= */

fr_err frs_jobs_post(frs_req *r);      /* jobs.c       POST /v1/jobs */
fr_err frs_jobs_cancel(frs_req *r);    /* jobs.c       DELETE /v1/jobs/{id} */
fr_err frs_jobs_get(frs_req *r);       /* job_read.c   GET /v1/jobs/{id}[?wait=S&require=done] */
fr_err frs_jobs_list(frs_req *r);      /* job_read.c   GET /v1/jobs */
fr_err frs_jobs_cache(frs_req *r);     /* job_read.c   GET /v1/jobs/{id}/cache */
fr_err frs_jobs_report(frs_req *r);    /* job_report.c POST /v1/jobs/{id}/operators/{index} */
fr_err frs_jobs_heartbeat(frs_req *r); /* lease.c      POST /v1/jobs/{id}/heartbeat */
fr_err frs_jobs_complete(frs_req *r);  /* lease.c      POST /v1/jobs/{id}/complete */
fr_err frs_jobs_release(frs_req *r);   /* lease.c      POST /v1/jobs/{id}/release */
fr_err frs_jobs_fail(frs_req *r);      /* lease.c      POST /v1/jobs/{id}/fail */
fr_err frs_workers_post(frs_req *r);   /* workers.c    POST /v1/workers */
fr_err frs_workers_list(frs_req *r);   /* workers.c    GET /v1/workers */
fr_err frs_workers_stop(frs_req *r);   /* workers.c    DELETE /v1/workers/{id} */
fr_err frs_workers_claim(frs_req *r);  /* claim.c      POST /v1/workers/{id}/claim[?wait=S] */

/* claim.c: starts the lease sweeper (a thread ending lapsed leases every second); call after
 * frs_server_start. frs_jobs_stop ends it and makes every waiting claim and GET ?wait= answer
 * at once; call before frs_server_stop. frs_jobs_ring wakes the claims waiting in this process
 * (a job was queued or handed back). */
FR_WUR fr_err frs_jobs_start(frs_server *srv, fr_diag *d);
void frs_jobs_stop(void);
void frs_jobs_ring(void);
bool frs_jobs_stopping(void);

/* supervise.c: --local-workers N. Starts N fastrun-worker processes (found next to this binary)
 * against this server, with a worker token created for them and passed in their environment
 * (never argv, which ps shows), restarts any that dies with a backoff, and on stop sends them
 * SIGTERM (each finishes its operator and hands its job back), waits, and revokes the token.
 * srv must be started (its port known). */
typedef struct frs_supervisor frs_supervisor;
FR_WUR fr_err frs_supervisor_start(frs_server *srv, frs_supervisor **out, fr_diag *d);
void frs_supervisor_stop(frs_supervisor *sup);

#endif
