/*
 * test_abuse.c - HTTP abuse against a real fastrun-server and PostgreSQL: oversized bodies and
 * headers, slow and unfinished requests, malformed JSON, wrong types, deep nesting, huge
 * numbers, invalid UTF-8 and path tricks. Each must get the right 4xx, in the error shape
 * {"error":{"code","message","detail"}} whenever fastrun (not libmicrohttpd's own parser)
 * answers, store nothing (every table's row count and the categories' revisions unchanged),
 * and leave the server serving.
 */
#include "hx.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static hx h;
static char before[1024], webroot[300], webdir[320];

static void setup(void)
{
    cr_assert_eq(frt_tempdir(webroot, sizeof webroot), 0);
    snprintf(webdir, sizeof webdir, "%s/web", webroot);
    cr_assert_eq(mkdir(webdir, 0755), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/index.html", webdir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("<!doctype html><title>fastrun</title>\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/secret.txt", webroot); /* beside the web folder, not in it */
    f = fopen(path, "w");
    cr_assert(f);
    fputs("SECRET-OUTSIDE-WEB\n", f);
    fclose(f);
    const char *extra[] = {"--max-body", "65536", "--connection-timeout", "2", "--web",
                           webdir,       NULL};
    cr_assert_eq(hx_start(&h, extra), 0, "server did not start");
    hx_snapshot(&h, before, sizeof before);
}

static void teardown(void)
{
    hx_stop(&h);
    frt_rmtree(webroot);
}

TestSuite(abuse, .init = setup, .fini = teardown, .timeout = 120);

/* Nothing stored since setup, and the server still answers. */
static void unharmed(void)
{
    char after[1024];
    hx_snapshot(&h, after, sizeof after);
    cr_assert_str_eq(after, before, "something was stored:\n before %s\n after  %s", before, after);
    cr_assert(hx_serving(&h), "the server stopped serving");
    cr_assert(frt_alive(&h.srv.proc, NULL), "the server died");
}

/* A request whose answer must be status with error code (JSON shape checked). */
static void expect(const char *method, const char *path, const char *token, const char *body,
                   size_t len, long status, const char *code)
{
    frt_resp r = hx_req(&h, method, path, token, body, len);
    cr_assert_eq(r.status, status, "%s %.80s [%.80s] -> %ld %.300s", method, path, body ? body : "",
                 r.status, r.body);
    cr_assert_str_eq(hx_error_code(r.body), code, "%s %.80s -> %.300s", method, path, r.body);
    frt_resp_free(&r);
}

/* Same with a NUL-terminated body. */
static void expect_s(const char *method, const char *path, const char *token, const char *body,
                     long status, const char *code)
{
    expect(method, path, token, body, strlen(body), status, code);
}

static void expect_upload(const char *body, long status, const char *code)
{
    expect("POST", "/v1/results", h.submitter, body, strlen(body), status, code);
}

/* A raw request: status and, when want_code is non-NULL, the error shape with that code. */
static void expect_raw(const char *req, size_t len, int status, const char *want_code)
{
    hx_raw_resp r;
    cr_assert_eq(hx_raw(&h, req, len, 5000, &r), 0, "cannot connect");
    cr_assert_eq(r.status, status, "%.120s -> %d %.300s", req, r.status, r.body);
    if (want_code)
        cr_assert_str_eq(hx_error_code(r.body), want_code, "%.120s -> %.300s", req, r.body);
    cr_assert(!strstr(r.body, "SECRET-OUTSIDE-WEB") && !strstr(r.body, "root:"),
              "%.120s served a file outside the web folder", req);
}

static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);
    cr_assert(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static const char *prov = "{\"source\":\"user\",\"host\":\"h\",\"time\":\"2026-01-01T00:00:00Z\"}";
static const char *fp = "{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"x\",\"isa\":\"avx2\","
                        "\"threads\":1,\"blas\":\"b\",\"blas_core\":\"c\"}";
static const char *key = "matmul batch=1 m=8 n=8 k=8 f32 wp=0";

/* An upload with one result whose JSON text is result (or fingerprint fpx when non-NULL). */
static char *upload_with(const char *fpx, const char *result)
{
    size_t n = strlen(result) + 1024;
    char *b = malloc(n);
    cr_assert(b);
    snprintf(b, n,
             "{\"provenance\":%s,\"fingerprint\":%s,\"entries\":[{\"key\":\"%s\","
             "\"results\":[%s]}]}",
             prov, fpx ? fpx : fp, key, result);
    return b;
}

Test(abuse, oversized_bodies)
{
    char *big = filled(100000, ' ');
    big[0] = '{', big[99999] = '}';
    expect("POST", "/v1/results", h.submitter, big, 100000, 413, "too_large");
    expect("POST", "/v1/coverage?category=0123456789abcdef", NULL, big, 100000, 413, "too_large");
    expect("POST", "/v1/tokens", h.admin, big, 70000, 413, "too_large"); /* 64 KiB cap */
    expect("GET", "/v1/categories", NULL, "{}", 2, 413, "too_large");    /* takes no body */
    /* Chunked, so no Content-Length announces it: cut at the cap while reading. */
    size_t n = 0, cap = 200000;
    char *req = malloc(cap);
    cr_assert(req);
    n += (size_t)snprintf(req, cap,
                          "POST /v1/results HTTP/1.1\r\nHost: x\r\nAuthorization: "
                          "Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                          "chunked\r\nConnection: close\r\n\r\n",
                          h.submitter);
    for (int i = 0; i < 20; i++) {
        n += (size_t)snprintf(req + n, cap - n, "1000\r\n");
        memset(req + n, ' ', 4096);
        n += 4096;
        n += (size_t)snprintf(req + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(req + n, cap - n, "0\r\n\r\n");
    expect_raw(req, n, 413, "too_large");
    free(req);
    free(big);
    unharmed();
}

Test(abuse, oversized_headers)
{
    /* One 100 KB header: libmicrohttpd refuses it before fastrun sees the request. */
    char *junk = filled(100000, 'a');
    size_t cap = 101000, n;
    char *req = malloc(cap);
    cr_assert(req);
    n = (size_t)snprintf(req, cap,
                         "GET /v1/categories HTTP/1.1\r\nHost: x\r\nX-Junk: %s\r\n"
                         "Connection: close\r\n\r\n",
                         junk);
    hx_raw_resp r;
    cr_assert_eq(hx_raw(&h, req, n, 5000, &r), 0);
    cr_assert(r.status == 431 || r.status == 413, "100 KB header -> %d", r.status);
    int first = r.status;
    /* Many small headers add up the same way. */
    n = (size_t)snprintf(req, cap, "GET /v1/categories HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 4000 && n + 40 < cap; i++)
        n += (size_t)snprintf(req + n, cap - n, "X-H%d: value\r\n", i);
    n += (size_t)snprintf(req + n, cap - n, "Connection: close\r\n\r\n");
    cr_assert_eq(hx_raw(&h, req, n, 5000, &r), 0);
    cr_assert(r.status == 431 || r.status == 413, "4000 headers -> %d", r.status);
    cr_log_info("oversized headers: one of 100 KB -> %d, 4000 headers -> %d", first, r.status);
    /* A 10 KB token: refused as malformed, not looked up. */
    junk[10000] = '\0';
    memcpy(junk, "frt_", 4);
    expect("POST", "/v1/results", junk, "{}", 2, 401, "unauthorized");
    expect("GET", "/v1/tokens", "Basic dXNlcjpwYXNz", NULL, 0, 401, "unauthorized");
    free(req);
    free(junk);
    unharmed();
}

Test(abuse, slow_and_unfinished_requests)
{
    /* 20 clients that stall: an announced body never sent, or headers never finished. */
    enum { N = 20 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = hx_connect(&h);
        cr_assert(fds[i] >= 0);
        char req[256];
        int len = i % 2 ? snprintf(req, sizeof req,
                                   "POST /v1/results HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Length: 1000\r\n\r\n{")
                        : snprintf(req, sizeof req, "GET /v1/categories HTTP/1.1\r\nHo");
        cr_assert_eq(send(fds[i], req, (size_t)len, MSG_NOSIGNAL), len);
    }
    /* Meanwhile everyone else is served at once. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert(hx_serving(&h));
    expect("GET", "/v1/categories", NULL, NULL, 0, 200, "");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(secs, 1.0, "served in %.2f s while 20 clients stall", secs);
    /* --connection-timeout 2: every stalled connection is closed by the server. */
    for (int i = 0; i < N; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        cr_assert_eq(poll(&p, 1, 6000), 1, "stalled connection %d still open after 6 s", i);
        char buf[512];
        ssize_t got;
        while ((got = recv(fds[i], buf, sizeof buf, 0)) > 0) {
        }
        cr_assert_eq(got, 0, "connection %d not closed", i);
        close(fds[i]);
    }
    /* A client that sends one byte at a time, slower than nothing but within the timeout, is
     * still served. */
    int fd = hx_connect(&h);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (size_t i = 0; req[i]; i++) {
        cr_assert_eq(send(fd, req + i, 1, MSG_NOSIGNAL), 1);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char buf[256] = "";
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 3000), 1);
    cr_assert_gt(recv(fd, buf, sizeof buf - 1, 0), 0);
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    close(fd);
    unharmed();
}

Test(abuse, malformed_json)
{
    static const char *const bodies[] = {"{",
                                         "{\"provenance\":}",
                                         "nul",
                                         "{\"a\":1}{",
                                         "[1,]",
                                         "{'a':1}",
                                         "\xef\xbb\xbf{}",
                                         "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        expect_upload(bodies[i], 400, "bad_json");
    expect("POST", "/v1/tokens", h.admin, "{\"role\":", 8, 400, "bad_json");
    expect("POST", "/v1/coverage?category=0123456789abcdef", NULL, "[", 1, 400, "bad_json");
    expect("POST", "/v1/results", h.submitter, "", 0, 400, "bad_request");
    unharmed();
}

Test(abuse, wrong_types)
{
    char full[2048];
    snprintf(full, sizeof full, "{\"provenance\":\"user\",\"fingerprint\":%s,\"entries\":[]}", fp);
    expect_upload(full, 400, "bad_request");
    snprintf(full, sizeof full, "{\"provenance\":%s,\"fingerprint\":%s,\"entries\":{}}", prov, fp);
    expect_upload(full, 400, "bad_request");
    snprintf(full, sizeof full,
             "{\"provenance\":%s,\"fingerprint\":%s,\"entries\":[{\"key\":5,"
             "\"results\":[]}]}",
             prov, fp);
    expect_upload(full, 400, "bad_request");
    snprintf(full, sizeof full,
             "{\"provenance\":%s,\"fingerprint\":%s,\"entries\":[{\"key\":"
             "\"%s\",\"results\":[1,2]}]}",
             prov, fp, key);
    expect_upload(full, 422, "corrupt");
    struct {
        const char *fp, *result, *code;
        long status;
    } cases[] = {
        {"{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"x\",\"isa\":\"avx2\",\"threads\":\"2\","
         "\"blas\":\"b\",\"blas_core\":\"c\"}",
         NULL, "corrupt", 422},
        {NULL,
         "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":0,\"median_ms\":\"fast\","
         "\"min_ms\":1,\"samples\":3}",
         "corrupt", 422},
        {NULL,
         "{\"algorithm\":[\"a\"],\"attributes\":[],\"workspace\":0,\"median_ms\":1,"
         "\"min_ms\":1,\"samples\":3}",
         "corrupt", 422},
        {NULL,
         "{\"algorithm\":\"a\",\"attributes\":\"NAIVE\",\"workspace\":0,\"median_ms\":1,"
         "\"min_ms\":1,\"samples\":3}",
         "corrupt", 422},
        {NULL,
         "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":true,\"median_ms\":1,"
         "\"min_ms\":1,\"samples\":3}",
         "corrupt", 422},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *b = upload_with(cases[i].fp, cases[i].result
                                               ? cases[i].result
                                               : "{\"algorithm\":\"a\",\"attributes\":[],"
                                                 "\"workspace\":0,\"median_ms\":1,\"min_ms\":1,"
                                                 "\"samples\":3}");
        expect_upload(b, cases[i].status, cases[i].code);
        free(b);
    }
    expect_s("POST", "/v1/tokens", h.admin, "{\"role\":5,\"name\":\"x\"}", 400, "bad_request");
    expect_s("POST", "/v1/coverage?category=0123456789abcdef", NULL, "[]", 400, "bad_model");
    expect_s("POST", "/v1/coverage?category=0123456789abcdef", NULL, "{\"name\":1}", 400,
             "bad_model");
    unharmed();
}

Test(abuse, deep_nesting)
{
    /* Far past jansson's own depth limit: refused while parsing, no stack exhaustion. */
    char *deep = filled(100000, '[');
    expect("POST", "/v1/results", h.submitter, deep, 60000, 400, "bad_json");
    /* Well-formed but deeper than the server's limit. */
    size_t d = 1000;
    for (size_t i = 0; i < d; i++)
        deep[d + i] = ']';
    expect("POST", "/v1/results", h.submitter, deep, 2 * d, 413, "too_large");
    char objs[4096] = "";
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(objs + n, sizeof objs - n, "{\"a\":");
    n += (size_t)snprintf(objs + n, sizeof objs - n, "1");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(objs + n, sizeof objs - n, "}");
    expect("POST", "/v1/coverage?category=0123456789abcdef", NULL, objs, n, 413, "too_large");
    free(deep);
    unharmed();
}

Test(abuse, huge_numbers)
{
    static const char *const results[] = {
        "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":0,\"median_ms\":1e400,"
        "\"min_ms\":1,\"samples\":3}",
        "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":0,\"median_ms\":1,\"min_ms\":1,"
        "\"samples\":99999999999999999999999}",
    };
    for (size_t i = 0; i < 2; i++) {
        char *b = upload_with(NULL, results[i]);
        expect_upload(b, 400, "bad_json"); /* out of range while parsing */
        free(b);
    }
    static const char *const sane_json[] = {
        "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":-1,\"median_ms\":1,\"min_ms\":1,"
        "\"samples\":3}",
        "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":0,\"median_ms\":1e300,"
        "\"min_ms\":1e-300,\"samples\":-5}",
        "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":1e30,\"median_ms\":1,\"min_ms\":1,"
        "\"samples\":3}",
    };
    for (size_t i = 0; i < 3; i++) {
        char *b = upload_with(NULL, sane_json[i]);
        expect_upload(b, 422, "corrupt");
        free(b);
    }
    char *b = upload_with("{\"format_version\":1,\"kernel_set\":1,\"cpu\":\"x\",\"isa\":\"avx2\","
                          "\"threads\":9223372036854775807,\"blas\":\"b\",\"blas_core\":\"c\"}",
                          "{\"algorithm\":\"a\",\"attributes\":[],\"workspace\":0,\"median_ms\":"
                          "1,\"min_ms\":1,\"samples\":3}");
    expect_upload(b, 422, "corrupt");
    free(b);
    expect("GET", "/v1/cache?category=0123456789abcdef&max_workspace=99999999999999999999999", NULL,
           NULL, 0, 400, "bad_request");
    expect("DELETE", "/v1/tokens/99999999999999999999999", h.admin, NULL, 0, 400, "bad_request");
    expect_s("POST", "/v1/coverage?category=0123456789abcdef", NULL,
             "{\"name\":\"m\",\"operators\":[{\"name\":\"a\",\"op\":\"matmul\",\"batch\":1,"
             "\"m\":4294967296,\"n\":1,\"k\":1}]}",
             400, "bad_model");
    unharmed();
}

Test(abuse, invalid_utf8)
{
    char *b = upload_with(NULL, "{\"algorithm\":\"a\xff\xfe\",\"attributes\":[],\"workspace\":0,"
                                "\"median_ms\":1,\"min_ms\":1,\"samples\":3}");
    expect_upload(b, 400, "bad_json");
    free(b);
    b = upload_with(NULL, "{\"algorithm\":\"a\\ud800\",\"attributes\":[],\"workspace\":0,"
                          "\"median_ms\":1,\"min_ms\":1,\"samples\":3}");
    expect_upload(b, 400, "bad_json");
    free(b);
    /* Echoed in details: still the error shape (the detail is made valid UTF-8). */
    expect("GET", "/v1/cache?category=%ff%fe", NULL, NULL, 0, 400, "bad_request");
    expect("GET", "/v1/cache?category=0123456789abcdef&exclude=%c3%28", NULL, NULL, 0, 400,
           "bad_request");
    const char raw[] = "GET /\xff\xfe/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    expect_raw(raw, sizeof raw - 1, 404, "not_found");
    const char enc[] = "GET /%ff%c3%28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    expect_raw(enc, sizeof enc - 1, 404, "not_found");
    unharmed();
}

Test(abuse, path_tricks)
{
    static const char *const not_found[] = {
        "/../secret.txt",     "/../../../../etc/passwd",
        "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/etc/passwd",
        "/..%2fsecret.txt",   "/.%2e/secret.txt",
        "//secret.txt",       "/v1//categories",
        "//v1/categories",    "/v1/categories/",
        "/v1/categories/..",  "/./v1/categories",
        "/index.html/..",     "/%00",
        "/index.html%00.txt",
    };
    char req[512];
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         not_found[i]);
        expect_raw(req, (size_t)n, 404, "not_found");
    }
    /* A dot segment as a path parameter is just an invalid id. */
    expect("DELETE", "/v1/tokens/%2e%2e", h.admin, NULL, 0, 400, "bad_request");
    expect("DELETE", "/v1/tokens/1%00", h.admin, NULL, 0, 400, "bad_request");
    /* The web folder itself is served. */
    int n = snprintf(req, sizeof req,
                     "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect_raw(req, (size_t)n, 200, NULL);
    /* A raw NUL byte in the request line: libmicrohttpd (0.9.75) ends the path there and
     * serves /index.html; what follows the NUL never reaches fastrun (RELIABILITY.md). */
    const char nul[] = "GET /index.html\0/../../secret.txt HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n";
    hx_raw_resp r;
    cr_assert_eq(hx_raw(&h, nul, sizeof nul - 1, 5000, &r), 0);
    cr_assert(r.status == 200 || r.status == 400, "NUL in the request line -> %d", r.status);
    cr_assert(!strstr(r.body, "SECRET"), "NUL in the request line led outside the web folder");
    /* Long paths: over fastrun's 2048-byte limit, and over libmicrohttpd's buffer. */
    char *path = filled(3000, 'a');
    path[0] = '/';
    char *big = malloc(200000);
    cr_assert(big);
    n = snprintf(big, 200000, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    expect_raw(big, (size_t)n, 413, "too_large");
    free(path);
    path = filled(100000, 'a');
    path[0] = '/';
    n = snprintf(big, 200000, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    cr_assert_eq(hx_raw(&h, big, (size_t)n, 5000, &r), 0);
    cr_assert(r.status == 414 || r.status == 431 || r.status == 413, "100 KB path -> %d", r.status);
    cr_log_info("100 KB path -> %d", r.status);
    free(path);
    free(big);
    /* Request targets that are not a path, and unknown methods. */
    static const struct {
        const char *line;
        int status;
    } odd[] = {
        {"GET http://127.0.0.1/v1/categories HTTP/1.1", 404},
        {"OPTIONS * HTTP/1.1", 404},
        {"BREW /v1/categories HTTP/1.1", 405},
        {"PUT /v1/cache HTTP/1.1", 405},
        {"DELETE /v1/tokens HTTP/1.1", 405},
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        n = snprintf(req, sizeof req, "%s\r\nHost: x\r\nConnection: close\r\n\r\n", odd[i].line);
        expect_raw(req, (size_t)n, odd[i].status,
                   odd[i].status == 405 ? "method_not_allowed" : "not_found");
    }
    unharmed();
}
