/*
 * fuzz_request.c - libFuzzer target for fastrun-server's request handling below libmicrohttpd:
 * route matching (routes.c), the body cap, Content-Type check, JSON parsing and depth limit of
 * the dispatcher (http.c), the bearer-token check up to its database lookup (auth.c), and every
 * handler's validation of query parameters, path parameters and bodies, up to where it needs
 * PostgreSQL. The pool points at a socket that does not exist, so database steps fail fast
 * with db_unavailable, as they do while PostgreSQL is down.
 *
 * Not covered here: libmicrohttpd's own HTTP parsing (request line, headers, percent-decoding of
 * the query string; tests/hardening's abuse test sends those over a socket), and the dispatcher's
 * MHD glue (begin/on_request/queue), which needs a live connection. http.c's body functions are
 * file-static, because only the dispatcher may speak libmicrohttpd; this target includes http.c
 * to reach them rather than widen the server's API.
 *
 * Input: "METHOD PATH[?QUERY]\nAUTHORIZATION\nCONTENT-TYPE\nBODY" (an empty header line means the
 * header is absent). Query arguments are split on '&' and the first '=' without decoding, as
 * libmicrohttpd hands them over after decoding.
 *
 * Promises checked (a broken one aborts, FZ_REQUIRE):
 *   - a match names a route of the method asked (HEAD serves GET) whose pattern fits the path,
 *     with one non-empty, slash-free value per "{name}" segment; a 405 lists allowed methods;
 *   - what the client would get for any input is 2xx/3xx/4xx, or 503 only because the database
 *     is unreachable: never a 500, never a 503 "out of memory" for a small input;
 *   - every error has a detail and its {"error":{code,message,detail}} body can be built (the
 *     detail is valid UTF-8), so the client gets the documented error shape;
 *   - a static file served is inside the web directory.
 */
#include "../server/http.c" /* see the file comment: reaches parse_body, append_body, body_cap */

#include "fuzz.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static frs_server srv;
static char web_root[PATH_MAX];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static void remove_web(void)
{
    static const char *const files[] = {"web/js/app.js", "web/index.html", "secret.txt"};
    static const char *const dirs[] = {"web/js", "web", ""};
    char path[PATH_MAX + 32], base[PATH_MAX];
    snprintf(base, sizeof base, "%s", web_root);
    base[strlen(base) - strlen("/web")] = '\0';
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", base, files[i]);
        unlink(path);
    }
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", base, dirs[i]);
        rmdir(path);
    }
}

/* A server without a listener or a database: the pool's conninfo names a missing socket. */
static void setup(void)
{
    char tmpl[] = "/tmp/fastrun-fuzz-XXXXXX", sub[PATH_MAX];
    FZ_REQUIRE(mkdtemp(tmpl) != NULL, "mkdtemp");
    snprintf(sub, sizeof sub, "%s/web", tmpl);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/web/js", tmpl);
    mkdir(sub, 0755);
    write_file(tmpl, "secret.txt", "outside the web directory\n");
    write_file(tmpl, "web/index.html", "<!doctype html>\n");
    write_file(tmpl, "web/js/app.js", "'use strict';\n");
    snprintf(web_root, sizeof web_root, "%s/web", tmpl);
    atexit(remove_web);

    fr_diag d = {{0}};
    snprintf(srv.cfg.listen_host, sizeof srv.cfg.listen_host, "127.0.0.1");
    srv.cfg.database = "host=/nonexistent/fastrun-fuzz port=1 dbname=none";
    srv.cfg.web_dir = web_root;
    srv.cfg.max_body = 2048; /* small, so fuzzed uploads reach the cap */
    srv.cfg.max_upload_results = 8;
    srv.cfg.db_pool_size = 1;
    srv.cfg.db_wait_ms = 10;
    srv.cfg.statement_timeout_ms = 1000;
    srv.cfg.quiet = true;
    FZ_REQUIRE(frs_queries_load(&srv.queries, &d) == FR_ERR_OK, "queries: %s", d.msg);
    FZ_REQUIRE(frs_metrics_init(&srv.metrics) == FR_ERR_OK, "metrics");
    FZ_REQUIRE(frs_db_open(&srv.cfg, &srv.queries, &srv.metrics, &srv.db, &d) == FR_ERR_OK,
               "pool: %s", d.msg);
    FZ_REQUIRE(frs_doccache_new(1 << 20, &srv.docs) == FR_ERR_OK, "doccache");
}

/* Splits s at the first c: returns the rest (or NULL when c is absent), s ends before it. */
static char *split(char *s, char c)
{
    char *at = s ? strchr(s, c) : NULL;
    if (!at) return NULL;
    *at = '\0';
    return at + 1;
}

static void parse_query(frs_req *req, char *query)
{
    while (query) {
        char *next = split(query, '&');
        if (req->nparams == FRS_MAX_PARAMS) {
            req->too_many_params = true;
            break;
        }
        char *value = split(query, '=');
        req->params[req->nparams].name = query;
        req->params[req->nparams].value = value ? value : "";
        req->nparams++;
        query = next;
    }
}

static void check_match(const frs_req *req, const char *method, const char *path, fr_err e,
                        const char *allow)
{
    if (e == FR_ERR_METHOD_NOT_ALLOWED) {
        FZ_REQUIRE(allow[0] != '\0', "405 without allowed methods for %s %s", method, path);
        return;
    }
    if (e != FR_ERR_OK) {
        FZ_REQUIRE(e == FR_ERR_NOT_FOUND, "route match: %s", fr_err_name(e));
        return;
    }
    const frs_route *rt = frs_route_at(req->route_index);
    FZ_REQUIRE(rt != NULL, "match names route %zu of %zu", req->route_index, frs_route_count());
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    FZ_REQUIRE(strcmp(rt->method, m) == 0, "%s %s matched a %s route", method, path, rt->method);
    size_t holes = 0;
    for (const char *p = rt->pattern; (p = strchr(p, '{')); p++)
        holes++;
    for (size_t i = 0; i < FRS_MAX_PATH_PARAMS; i++) {
        const char *v = req->path_params[i];
        FZ_REQUIRE((i < holes) == (v != NULL), "%s: path parameter %zu set wrongly", path, i);
        FZ_REQUIRE(!v || (v[0] && !strchr(v, '/')), "%s: bad path parameter '%s'", path, v);
    }
}

/* What a client sees for e: a documented status and a buildable error body. */
static void check_answer(frs_req *req, fr_err e, const char *stage)
{
    if (e == FR_ERR_OK) {
        FZ_REQUIRE(req->status >= 200 && req->status < 400, "%s: OK with status %d", stage,
                   req->status);
        if (req->out_json) {
            char *text = json_dumps(req->out_json, JSON_COMPACT);
            FZ_REQUIRE(text != NULL, "%s: response JSON does not serialise", stage);
            free(text);
        }
        if (req->out_fd >= 0) {
            char link[64], real[PATH_MAX];
            snprintf(link, sizeof link, "/proc/self/fd/%d", req->out_fd);
            ssize_t n = readlink(link, real, sizeof real - 1);
            FZ_REQUIRE(n > 0, "readlink");
            real[n] = '\0';
            FZ_REQUIRE(strncmp(real, web_root, strlen(web_root)) == 0 &&
                           real[strlen(web_root)] == '/',
                       "%s %s served %s, outside %s", req->method, req->path, real, web_root);
        }
        return;
    }
    int status = fr_err_http_status(e);
    FZ_REQUIRE((status >= 400 && status < 500) || e == FR_ERR_DB_UNAVAILABLE ||
                   e == FR_ERR_UNAVAILABLE,
               "%s %s: %s answered %d %s: %s", req->method, req->path, stage, status,
               fr_err_name(e), req->diag.msg);
    FZ_REQUIRE(req->diag.msg[0] != '\0', "%s: %s without a detail", stage, fr_err_name(e));
    /* The body http.c's fail() builds; NULL would send an empty body instead of the shape
     * (found by this target: details echoing paths with invalid UTF-8; fixed by valid_utf8). */
    char detail[sizeof req->diag.msg];
    valid_utf8(req->diag.msg, detail, sizeof detail);
    json_t *body = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", fr_err_code(e), "message",
                             fr_err_message(e), "detail", detail);
    FZ_REQUIRE(body != NULL, "%s %s: the error body cannot be built, the client gets none: %s",
               req->method, req->path, req->diag.msg);
    json_decref(body);
}

/* The dispatcher's steps after the route (http.c finish()), stage by stage. */
static void dispatch(frs_req *req, const char *body, size_t body_len, bool as_admin)
{
    const frs_route *rt = req->route;
    fr_err e = FR_ERR_OK;
    for (size_t at = 0; e == FR_ERR_OK && at < body_len; at += 512) /* chunks, as MHD gives */
        e = append_body(req, body + at, body_len - at < 512 ? body_len - at : 512);
    FZ_REQUIRE(e == FR_ERR_OK, "append_body: %s", fr_err_name(e));
    FZ_REQUIRE(req->body_len <= body_cap(req), "body of %zu bytes kept over the cap %zu",
               req->body_len, body_cap(req));
    if (req->body_too_large)
        e = fr_diag_set(&req->diag, FR_ERR_TOO_LARGE, "request body exceeds the limit");
    bool needs_token = rt->access == FRS_TOKEN;
    if (e == FR_ERR_OK && needs_token && !as_admin) e = frs_auth_check(req);
    if (e == FR_ERR_OK && needs_token && as_admin) {
        req->who.token_id = 1;
        req->who.role = FRS_ROLE_ADMIN | FRS_ROLE_WORKER;
    }
    if (e == FR_ERR_OK && rt->body != FRS_BODY_NONE) e = parse_body(req);
    if (e == FR_ERR_OK) e = rt->handler(req);
    if (e == FR_ERR_OK && req->status == 0) e = FR_ERR_INTERNAL;
    check_answer(req, e, as_admin ? "handler" : "dispatcher");
    if (e == FR_ERR_OK) frs_metrics_request(&srv.metrics, req->route_index, req->status, 1);
}

static void run_once(char *line, const char *auth, const char *ctype, const char *body,
                     size_t body_len, bool as_admin)
{
    frs_req *req;
    char allow[128];
    FZ_REQUIRE(frs_req_new(&srv, &req) == FR_ERR_OK, "frs_req_new");
    char *target = split(line, ' '), *query = split(target, '?');
    if (!target || strlen(target) > 2048) { /* begin() answers 413 before routing */
        frs_req_free(req);
        return;
    }
    snprintf(req->method, sizeof req->method, "%s", line);
    req->path = strdup(target);
    parse_query(req, query);
    req->authorization = auth;
    req->content_type = ctype;
    fr_err e = frs_route_match(req, line, target, &req->route_index, allow, sizeof allow);
    check_match(req, line, target, e, allow);
    if (e == FR_ERR_OK && !req->too_many_params) {
        req->route = frs_route_at(req->route_index);
        dispatch(req, body, body_len, as_admin);
    }
    frs_req_free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv.db) setup();
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* Three header lines; the body is the rest, raw (it may hold NUL bytes). */
    char *line = copy, *auth = split(line, '\n'), *ctype = split(auth, '\n');
    char *body = split(ctype, '\n');
    size_t body_len = body ? size - (size_t)(body - copy) : 0;
    /* Once as the client sends it, once as if its token were valid (to reach the handlers). */
    for (int as_admin = 0; as_admin < 2; as_admin++) {
        char *line_copy = strdup(line);
        if (line_copy)
            run_once(line_copy, auth && auth[0] ? auth : NULL, ctype && ctype[0] ? ctype : NULL,
                     body ? body : "", body_len, as_admin);
        free(line_copy);
    }
    free(copy);
    return 0;
}
