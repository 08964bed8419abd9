/*
 * http.c - the dispatcher: the only code that speaks libmicrohttpd.
 *
 * For every request it matches the route (404, 405 with Allow), collects the body up to the
 * route's cap (413, decided from Content-Length before reading when it can), checks the bearer
 * token against the route's declared access (401, 403), parses the JSON body once with a depth
 * limit (400, 413, 415), calls the handler, turns the handler's fr_err into the status and the
 * one error body {"error":{"code","message","detail"}}, and records metrics. The request is
 * freed in one place: libmicrohttpd's completion callback.
 *
 * Thread model: see server.h. MHD_USE_THREAD_PER_CONNECTION gives each connection its own
 * thread, so handlers may block on PostgreSQL; MHD_OPTION_CONNECTION_LIMIT bounds the threads
 * and MHD_OPTION_CONNECTION_TIMEOUT drops idle or stalled clients.
 *
 * Shutdown (frs_server_stop) frees nothing a request could still reach: every request is
 * counted from its first callback to its completion (srv->in_flight), and the pool, the
 * document cache and the rest are released only once that count is 0, after libmicrohttpd
 * joined the connection threads. The listening socket is ours, bound without SO_REUSEPORT:
 * a second server on a busy port fails at start instead of silently taking half the requests.
 */
#include "server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long stop waits for requests to complete after the daemon stopped (they all have by
 * then, unless libmicrohttpd left a thread running; then the memory is kept, not freed). */
#define STOP_WAIT_MS 30000

/* ---------------------------------------------------------------------------------------------
 * Responses
 * ------------------------------------------------------------------------------------------- */
static enum MHD_Result queue(struct MHD_Connection *conn, frs_req *req)
{
    struct MHD_Response *resp = NULL;
    if (req->out_json) {
        char *text = json_dumps(req->out_json, JSON_COMPACT | JSON_REAL_PRECISION(9));
        if (text) resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp) free(text);
    } else if (req->out_fd >= 0) {
        resp = MHD_create_response_from_fd((size_t)req->out_fd_size, req->out_fd);
        if (resp) req->out_fd = -1; /* the response closes it */
    } else if (req->out_data && req->out_free) {
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            req->out_len, req->out_data, req->out_free, req->out_free_cls);
        if (resp) req->out_free = NULL; /* the response frees it */
    } else {
        resp = MHD_create_response_from_buffer(req->out_len, req->out_data, MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) return MHD_NO;
    if (req->out_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->out_type);
    for (size_t i = 0; i < req->nout_headers; i++)
        MHD_add_response_header(resp, req->out_headers[i].name, req->out_headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Copies s into out (len bytes) as valid UTF-8, each byte that does not begin a well-formed
 * sequence (overlong forms, surrogates and values past U+10FFFF included) replaced by '?'.
 * Details echo request paths and parameters, which may hold any bytes, and jansson refuses a
 * string that is not UTF-8: without this the client got an empty body instead of the error. */
static void valid_utf8(const char *s, char *out, size_t len)
{
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t o = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u && o + 5 < len;) {
        size_t n = *u < 0x80             ? 1
                   : (*u & 0xe0) == 0xc0 ? 2
                   : (*u & 0xf0) == 0xe0 ? 3
                   : (*u & 0xf8) == 0xf0 ? 4
                                         : 0;
        uint32_t v = n == 1 ? *u : n == 2 ? *u & 0x1fu : n == 3 ? *u & 0x0fu : *u & 0x07u;
        bool ok = n > 0;
        for (size_t k = 1; ok && k < n; k++) {
            ok = (u[k] & 0xc0) == 0x80;
            v = (v << 6) | (u[k] & 0x3fu);
        }
        ok = ok && (n == 1 || v >= least[n]) && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff);
        if (!ok) n = 1;
        for (size_t k = 0; k < n; k++)
            out[o++] = ok ? (char)u[k] : '?';
        u += n;
    }
    out[o] = '\0';
}

/* Replaces any response with the error body of e (detail from req->diag). */
static enum MHD_Result fail(struct MHD_Connection *conn, frs_req *req, fr_err e)
{
    if (e == FR_ERR_OK) e = FR_ERR_INTERNAL;
    char allow[160] = "", detail[sizeof req->diag.msg];
    valid_utf8(req->diag.msg, detail, sizeof detail);
    for (size_t i = 0; i < req->nout_headers; i++)
        if (strcmp(req->out_headers[i].name, MHD_HTTP_HEADER_ALLOW) == 0)
            snprintf(allow, sizeof allow, "%s", req->out_headers[i].value);
    json_t *body = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", fr_err_code(e), "message",
                             fr_err_message(e), "detail", detail);
    frs_reply_json(req, fr_err_http_status(e), body);
    if (allow[0]) frs_reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
    if (e == FR_ERR_UNAUTHORIZED)
        frs_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"fastrun\"");
    if (fr_err_http_status(e) == 503) frs_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (!body) frs_reply_empty(req, fr_err_http_status(e));
    return queue(conn, req);
}

/* ---------------------------------------------------------------------------------------------
 * Request start: route, parameters, headers, early 413
 * ------------------------------------------------------------------------------------------- */
static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    frs_req *req = cls;
    (void)kind;
    if (req->nparams == FRS_MAX_PARAMS) {
        req->too_many_params = true;
        return MHD_NO;
    }
    req->params[req->nparams].name = key;
    req->params[req->nparams].value = value ? value : "";
    req->nparams++;
    return MHD_YES;
}

static size_t body_cap(const frs_req *req)
{
    switch (req->route->body) {
    case FRS_BODY_SMALL:
        return FRS_SMALL_BODY;
    case FRS_BODY_LARGE:
        return req->srv->cfg.max_body;
    default:
        return 0;
    }
}

/* First call for a request: returns an error to answer at once, or FR_ERR_OK to read on. */
static fr_err begin(struct MHD_Connection *conn, frs_req *req, const char *url, const char *method)
{
    snprintf(req->method, sizeof req->method, "%s", method);
    if (strlen(url) > 2048)
        return fr_diag_set(&req->diag, FR_ERR_TOO_LARGE, "path longer than 2048 bytes");
    if (!(req->path = strdup(url))) return FR_ERR_NOMEM;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, req);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) req->client_fd = ci->connect_fd;
    req->authorization =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    req->if_none_match =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    req->content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    char allow[128];
    fr_err e = frs_route_match(req, method, url, &req->route_index, allow, sizeof allow);
    if (e == FR_ERR_METHOD_NOT_ALLOWED) {
        frs_reply_header(req, MHD_HTTP_HEADER_ALLOW, allow);
        return fr_diag_set(&req->diag, e, "%s %s: allowed: %s", req->method, url, allow);
    }
    if (e != FR_ERR_OK) return fr_diag_set(&req->diag, e, "no route for %s %s", req->method, url);
    req->route = frs_route_at(req->route_index);
    if (req->too_many_params)
        return fr_diag_set(&req->diag, FR_ERR_TOO_LARGE, "more than %d query parameters",
                           FRS_MAX_PARAMS);
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
    if (len > body_cap(req))
        return fr_diag_set(&req->diag, FR_ERR_TOO_LARGE,
                           body_cap(req) ? "request body of %llu bytes exceeds the limit of %zu"
                                         : "request body of %llu bytes on a route that takes "
                                           "none (limit %zu)",
                           len, body_cap(req));
    return FR_ERR_OK;
}

/* Appends a chunk of the body; past the cap the rest is discarded and 413 answered at the end. */
static fr_err append_body(frs_req *req, const char *data, size_t len)
{
    size_t cap = body_cap(req);
    if (req->body_too_large || req->body_len + len > cap) {
        req->body_too_large = true;
        return FR_ERR_OK;
    }
    char *grown = realloc(req->body, req->body_len + len + 1);
    if (!grown) return FR_ERR_NOMEM;
    req->body = grown;
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return FR_ERR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Request end: auth, body parsing, handler
 * ------------------------------------------------------------------------------------------- */
static bool deeper_than(const json_t *v, int limit)
{
    if (limit < 1) return true;
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child) if (deeper_than(child, limit - 1)) return true;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) if (deeper_than(child, limit - 1)) return true;
    }
    return false;
}

static fr_err parse_body(frs_req *req)
{
    if (req->body_len == 0) return FR_ERR_OK; /* the handler says what it expected */
    const char *ct = req->content_type;
    if (ct && strncasecmp(ct, "application/json", strlen("application/json")) != 0)
        return fr_diag_set(&req->diag, FR_ERR_UNSUPPORTED_MEDIA,
                           "Content-Type '%.64s': send application/json", ct);
    json_error_t jerr;
    req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req->json)
        return fr_diag_set(&req->diag, FR_ERR_BAD_JSON,
                           "request body: line %d column %d (byte %d): %s", jerr.line, jerr.column,
                           jerr.position, jerr.text);
    if (deeper_than(req->json, FRS_MAX_JSON_DEPTH))
        return fr_diag_set(&req->diag, FR_ERR_TOO_LARGE,
                           "request body: JSON nested deeper than %d levels", FRS_MAX_JSON_DEPTH);
    return FR_ERR_OK;
}

static enum MHD_Result finish(struct MHD_Connection *conn, frs_req *req)
{
    const frs_route *rt = req->route;
    fr_err e = FR_ERR_OK;
    if (req->body_too_large)
        e = fr_diag_set(&req->diag, FR_ERR_TOO_LARGE, "request body exceeds the limit of %zu bytes",
                        body_cap(req));
    bool needs_token =
        rt->access == FRS_TOKEN || (rt->access == FRS_READ && req->srv->cfg.read_token_required);
    if (e == FR_ERR_OK && needs_token) e = frs_auth_check(req);
    if (e == FR_ERR_OK && rt->body != FRS_BODY_NONE) e = parse_body(req);
    if (e == FR_ERR_OK) e = rt->handler(req);
    if (e == FR_ERR_OK && req->status == 0)
        e = fr_diag_set(&req->diag, FR_ERR_INTERNAL, "handler set no response");
    if (e != FR_ERR_OK) return fail(conn, req, e);
    return queue(conn, req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    frs_req *req = *req_cls;
    (void)version;
    if (!req) {
        if (frs_req_new(cls, &req) != FR_ERR_OK) return MHD_NO;
        *req_cls = req;
        atomic_fetch_add(&req->srv->in_flight, 1); /* until on_completed */
        fr_err e = begin(conn, req, url, method);
        return e == FR_ERR_OK ? MHD_YES : fail(conn, req, e);
    }
    if (req->status) { /* answered early: drop whatever body still arrives */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        fr_err e = append_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return e == FR_ERR_OK ? MHD_YES : MHD_NO;
    }
    return finish(conn, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    frs_server *srv = cls;
    frs_req *req = *req_cls;
    (void)conn, (void)toe;
    if (!req) return;
    if (req->status) {
        size_t route = req->route ? req->route_index : frs_route_count();
        frs_metrics_request(&srv->metrics, route, req->status, frs_now_us() - req->start_us);
        if (req->status >= 500 && !srv->cfg.quiet)
            fprintf(stderr, "fastrun-server: %s %s -> %d: %s\n", req->method, req->path,
                    req->status, req->diag.msg);
    }
    frs_req_free(req);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1); /* last: after this, stop may free srv's parts */
}

/* ---------------------------------------------------------------------------------------------
 * Start and stop
 * ------------------------------------------------------------------------------------------- */
static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes %HH in the path and query arguments like libmicrohttpd's default, except "%00",
 * which stays as written: decoded, it ended the C string early, so "/v1/tokens/5%00x" acted on
 * token 5 and "/index.html%00.txt" served index.html. Left encoded, it matches nothing (404) and
 * is refused by every parameter check (400). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *w = s;
    (void)cls, (void)conn;
    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? hex_digit(r[1]) : -1, lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* A listening socket on ai, bound without SO_REUSEPORT (SO_REUSEADDR only lets a restarted
 * server take its port back from connections in TIME_WAIT). */
static fr_err listen_on(const frs_server *srv, const struct addrinfo *ai, int *out, fr_diag *d)
{
    const char *host = srv->cfg.listen_host;
    int port = srv->cfg.listen_port;
    const char *fmt = ai->ai_family == AF_INET6 ? "[%s]:%d" : "%s:%d";
    char where[300];
    snprintf(where, sizeof where, fmt, host, port);
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return fr_diag_set(d, FR_ERR_IO, "cannot listen on %s: socket: %s", where, strerror(errno));
    int on = 1;
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int err = errno;
        close(fd);
        return fr_diag_set(d, FR_ERR_IO, "cannot listen on %s: %s%s", where, strerror(err),
                           err == EADDRINUSE ? " (another process listens on this port)" : "");
    }
    *out = fd;
    return FR_ERR_OK;
}

static fr_err start_daemon(frs_server *srv, fr_diag *d)
{
    char port[16];
    snprintf(port, sizeof port, "%d", srv->cfg.listen_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai;
    int rc = getaddrinfo(srv->cfg.listen_host, port, &hints, &ai);
    if (rc != 0)
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT, "--listen %s:%s: %s", srv->cfg.listen_host,
                           port, gai_strerror(rc));
    int fd = -1;
    fr_err e = listen_on(srv, ai, &fd, d);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    freeaddrinfo(ai);
    if (e != FR_ERR_OK) return e;
    /* MHD_USE_ITC: MHD_quiesce_daemon needs it (frs_server_stop). */
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET,
                                   fd, MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections,
                                   MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.connection_timeout_s,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
                                   MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!srv->daemon) {
        close(fd);
        return fr_diag_set(d, FR_ERR_IO, "cannot listen on %s:%s: libmicrohttpd did not start",
                           srv->cfg.listen_host, port);
    }
    srv->listen_fd = fd;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info) srv->cfg.listen_port = info->port;
    return FR_ERR_OK;
}

fr_err frs_server_start(frs_server *srv, const frs_config *cfg, fr_diag *d)
{
    int version = 0;
    srv->cfg = *cfg;
    json_object_seed(0); /* before any thread: jansson's hash seed */
    fr_err e = frs_queries_load(&srv->queries, d);
    if (e == FR_ERR_OK) e = frs_migrate(cfg->database, &srv->queries, &version, d);
    if (e == FR_ERR_OK) e = frs_metrics_init(&srv->metrics);
    if (e == FR_ERR_OK) e = frs_db_open(&srv->cfg, &srv->queries, &srv->metrics, &srv->db, d);
    if (e == FR_ERR_OK) e = frs_doccache_new(cfg->doc_cache_bytes, &srv->docs);
    if (e == FR_ERR_OK) e = start_daemon(srv, d);
    if (e != FR_ERR_OK) {
        frs_server_stop(srv);
        return e;
    }
    if (!cfg->quiet)
        fprintf(stderr,
                "fastrun-server: listening on %s:%d (schema version %d, %u database "
                "connections, %u HTTP connections)\n",
                srv->cfg.listen_host, srv->cfg.listen_port, version, srv->cfg.db_pool_size,
                srv->cfg.max_connections);
    return FR_ERR_OK;
}

/* Waits until no request is in flight or timeout_ms pass; true when none is. */
static bool wait_idle(frs_server *srv, unsigned timeout_ms)
{
    for (unsigned waited = 0; atomic_load(&srv->in_flight) > 0; waited++) {
        if (waited >= timeout_ms) return false;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

void frs_server_stop(frs_server *srv)
{
    /* The lease sweeper borrows from the pool on its own thread: joined here whatever the
     * caller did (idempotent), and waiting claims answer at once. */
    frs_jobs_stop();
    if (srv->daemon) {
        /* Stop accepting first: the polling thread drops the listening socket, and shutting it
         * down refuses the clients in its backlog at once. */
        bool quiesced = MHD_quiesce_daemon(srv->daemon) == srv->listen_fd;
        if (quiesced) shutdown(srv->listen_fd, SHUT_RDWR);
        /* Ends every connection and joins every connection thread (completions included). */
        MHD_stop_daemon(srv->daemon);
        if (quiesced) close(srv->listen_fd); /* libmicrohttpd leaves a quiesced socket to us */
        srv->daemon = NULL;
    }
    if (!wait_idle(srv, STOP_WAIT_MS)) {
        /* A request still runs somewhere: keep everything it could reach. */
        fprintf(stderr,
                "fastrun-server: %u request%s still running after stop; not freeing the pool\n",
                atomic_load(&srv->in_flight), atomic_load(&srv->in_flight) == 1 ? "" : "s");
        return;
    }
    frs_doccache_free(srv->docs);
    srv->docs = NULL;
    frs_db_close(srv->db);
    srv->db = NULL;
    frs_metrics_cleanup(&srv->metrics);
    frs_queries_cleanup(&srv->queries);
}
