/*
 * http.c - the libcurl request set-up and capped body buffer of http.h, and the ETag beside a
 * file for conditional GETs.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache.h"

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
    frw_http_answer *a = cls;
    size_t add = size * n, cap = a->cap ? a->cap : (size_t)FRC_MAX_DOC_BYTES;
    if (a->len + add > cap) {
        a->truncated = true;
        return 0; /* abort the transfer */
    }
    char *grown = realloc(a->buf, a->len + add + 1);
    if (!grown) return 0;
    memcpy(grown + a->len, data, add);
    a->buf = grown;
    a->len += add;
    a->buf[a->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *cls)
{
    frw_http_answer *a = cls;
    size_t len = size * n;
    if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        size_t from = 5;
        while (from < len && data[from] == ' ')
            from++;
        size_t to = len;
        while (to > from && (data[to - 1] == '\r' || data[to - 1] == '\n' || data[to - 1] == ' '))
            to--;
        snprintf(a->etag, sizeof a->etag, "%.*s", (int)(to - from), data + from);
    }
    return len;
}

/* The progress line (only when asked) and the stop flag, both through libcurl's xferinfo. */
static int on_progress(void *cls, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const frw_http_req *r = cls;
    (void)dltotal;
    (void)ultotal;
    if (r->stop && atomic_load(r->stop)) return 1;
    if (r->progress) {
        fprintf(stderr, "\r\033[K%lld KiB sent, %lld KiB received", (long long)(ulnow / 1024),
                (long long)(dlnow / 1024));
        fflush(stderr);
    }
    return 0;
}

static void global_init(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT); /* on failure curl_easy_init fails, reported */
}

fr_err frw_http_request(const frw_http_req *r, const char *method, const char *path, long *status,
                        frw_http_answer *out, fr_diag *d)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT; /* fastrun-worker calls from two threads */
    pthread_once(&once, global_init);
    char url[2048], auth[256], inm[192];
    size_t blen = strlen(r->base);
    while (blen && r->base[blen - 1] == '/')
        blen--;
    snprintf(url, sizeof url, "%.*s%s", (int)blen, r->base, path);
    *status = 0;
    CURL *h = r->handle ? r->handle : curl_easy_init();
    if (!h) return fr_diag_set(d, FR_ERR_NOMEM, "libcurl could not start");
    if (r->handle) curl_easy_reset(h);
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (r->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->token);
        headers = curl_slist_append(headers, auth);
    }
    if (r->if_none_match) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", r->if_none_match);
        headers = curl_slist_append(headers, inm);
    }
    if (r->body || strcmp(method, "POST") == 0) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, r->timeout_s ? r->timeout_s : 120L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
    if (r->progress || r->stop) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)r);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (r->progress) fprintf(stderr, "\r\033[K");
    fr_err e = FR_ERR_OK;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    else if (out->truncated)
        e = fr_diag_set(d, FR_ERR_TOO_LARGE, "%s %s: answer over %zu bytes", method, url,
                        out->cap ? out->cap : (size_t)FRC_MAX_DOC_BYTES);
    else
        e = fr_diag_set(d, FR_ERR_UNAVAILABLE, "%s %s: %s", method, url,
                        rc == CURLE_ABORTED_BY_CALLBACK ? "stopping" : curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    if (!r->handle) curl_easy_cleanup(h);
    return e;
}

void frw_http_answer_cleanup(frw_http_answer *a)
{
    free(a->buf);
    a->buf = NULL;
    a->len = 0;
}

fr_err frw_http_server_error(long status, const frw_http_answer *a, fr_diag *d)
{
    json_t *j = a->buf ? json_loads(a->buf, 0, NULL) : NULL;
    json_t *err = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *detail = json_string_value(json_object_get(err, "detail"));
    fr_err e = FR_ERR_UNAVAILABLE;
    for (int i = 0; code && i < FR_ERR__COUNT; i++)
        if (strcmp(fr_err_code((fr_err)i), code) == 0) e = (fr_err)i;
    fr_diag_set(d, e, "server answered %ld: %s%s%s", status, msg ? msg : "no error body",
                detail && detail[0] ? ": " : "", detail ? detail : "");
    json_decref(j);
    return e;
}

void frw_etag_read(const char *path, char *out, size_t len)
{
    char name[1100];
    snprintf(name, sizeof name, "%s.etag", path);
    out[0] = '\0';
    FILE *f = fopen(name, "r");
    if (!f) return;
    if (!fgets(out, (int)len, f)) out[0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

fr_err frw_etag_write(const char *path, const char *etag, fr_diag *d)
{
    char name[1100], tmp[1200];
    snprintf(name, sizeof name, "%s.etag", path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", name, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", etag) < 0 || fclose(f) != 0 || rename(tmp, name) != 0) {
        if (f) unlink(tmp);
        return fr_diag_set(d, FR_ERR_IO, "%s: %s", name, strerror(errno));
    }
    return FR_ERR_OK;
}
