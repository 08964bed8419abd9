/*
 * hx.c - the hardening tests' shared set-up (hx.h).
 */
#include "hx.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A token of role made by h's admin over POST /v1/tokens; *id receives its id. */
static int api_token(hx *h, const char *role, char *out, size_t len, long long *id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"role\":\"%s\",\"name\":\"hardening-%s\"}", role, role);
    frt_resp r = hx_req(h, "POST", "/v1/tokens", h->admin, body, strlen(body));
    json_t *j = r.status == 201 && r.body ? json_loads(r.body, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(j, "token"));
    int rc = t ? 0 : -1;
    if (t)
        snprintf(out, len, "%s", t);
    else
        fprintf(stderr, "hx: POST /v1/tokens (%s): %ld %s\n", role, r.status, r.body);
    if (id) *id = (long long)json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    frt_resp_free(&r);
    return rc;
}

int hx_start(hx *h, const char *const *extra)
{
    long long rid = 0;
    memset(h, 0, sizeof *h);
    if (frt_pg_shared(&h->pg) != 0 || frt_pg_fresh_db(&h->pg, h->conninfo, sizeof h->conninfo))
        return -1;
    if (frt_server_start(&h->srv, h->conninfo, extra) != 0) return -1;
    if (frt_token(h->conninfo, "admin", "hardening-admin", h->admin, sizeof h->admin) ||
        api_token(h, "submitter", h->submitter, sizeof h->submitter, NULL) ||
        api_token(h, "worker", h->worker, sizeof h->worker, NULL) ||
        api_token(h, "reader", h->reader, sizeof h->reader, NULL) ||
        api_token(h, "submitter", h->revoked, sizeof h->revoked, &rid))
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/v1/tokens/%lld", rid);
    frt_resp r = hx_req(h, "DELETE", path, h->admin, NULL, 0);
    int rc = r.status == 204 ? 0 : -1;
    if (rc) fprintf(stderr, "hx: revoking token %lld: %ld %s\n", rid, r.status, r.body);
    frt_resp_free(&r);
    return rc;
}

void hx_stop(hx *h)
{
    char why[2400];
    cr_expect(frt_server_stop_clean(&h->srv, why, sizeof why), "%s", why);
}

frt_resp hx_req(hx *h, const char *method, const char *path, const char *token, const char *body,
                size_t len)
{
    char url[8192], auth[4200];
    const char *headers[3] = {NULL, NULL, NULL};
    size_t n = 0;
    snprintf(url, sizeof url, "%s%s", h->srv.url, path);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (body) headers[n++] = "Content-Type: application/json";
    frt_resp r;
    frt_http(method, url, headers, body, len, &r);
    return r;
}

const char *hx_error_code(const char *body)
{
    static _Thread_local char code[64]; /* per thread: the load tests call this from many */
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    bool shape = json_is_object(j) && json_object_size(j) == 1 && json_object_size(e) == 3 && c &&
                 json_is_string(json_object_get(e, "message")) &&
                 json_is_string(json_object_get(e, "detail"));
    snprintf(code, sizeof code, "%s", shape ? c : "");
    json_decref(j);
    return code;
}

void hx_snapshot(hx *h, char *out, size_t len)
{
    /* One count per table, found from the catalogue so that new tables are covered too. */
    static const char sql[] =
        "SELECT string_agg(table_name || '=' || (xpath('/row/c/text()', query_to_xml("
        "format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text, ','"
        " ORDER BY table_name) || ';revision=' || (SELECT coalesce(sum(revision), 0) FROM "
        "categories) FROM information_schema.tables WHERE table_schema = 'public' AND "
        "table_type = 'BASE TABLE'";
    if (frt_pg_sql(h->conninfo, sql, out, len) != 0) snprintf(out, len, "(snapshot failed)");
}

bool hx_serving(hx *h)
{
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", h->srv.url);
    frt_resp r;
    frt_http("GET", url, NULL, NULL, 0, &r);
    bool ok = r.status == 200;
    frt_resp_free(&r);
    return ok;
}

int hx_connect(hx *h)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int hx_raw(hx *h, const void *bytes, size_t len, int timeout_ms, hx_raw_resp *out)
{
    memset(out, 0, sizeof *out);
    double t0 = now_s();
    int fd = hx_connect(h);
    if (fd < 0) return -1;
    /* The server may answer and close before reading everything (413): a failed send is
     * not an error, the answer is what counts. */
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, (const char *)bytes + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    char buf[8192];
    size_t got = 0;
    for (;;) {
        int left = timeout_ms - (int)((now_s() - t0) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof buf - 1) break;
    }
    close(fd);
    buf[got] = '\0';
    out->seconds = now_s() - t0;
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) out->status = 0;
    const char *body = strstr(buf, "\r\n\r\n");
    if (body) snprintf(out->body, sizeof out->body, "%s", body + 4);
    return 0;
}
