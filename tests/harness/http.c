/*
 * http.c - one HTTP request with libcurl, the whole answer (status, headers, body) in memory.
 */
#include "harness.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *buf;
    size_t len;
} growing;

static size_t collect(char *data, size_t size, size_t n, void *cls)
{
    growing *g = cls;
    size_t add = size * n;
    char *grown = realloc(g->buf, g->len + add + 1);
    if (!grown) return 0;
    memcpy(grown + g->len, data, add);
    g->buf = grown;
    g->len += add;
    g->buf[g->len] = '\0';
    return add;
}

int frt_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t len, frt_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    growing b = {0}, h = {0};
    struct curl_slist *list = curl_slist_append(NULL, "Expect:"); /* no 100-continue pause */
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    out->body = b.buf ? b.buf : calloc(1, 1);
    out->len = b.len;
    out->headers = h.buf ? h.buf : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

const char *frt_header(const frt_resp *r, const char *name, char *buf, size_t len)
{
    size_t nlen = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);
        if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(line + llen - v);
            while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
                vlen--;
            if (vlen >= len) vlen = len - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        line = end ? end + 1 : line + llen;
    }
    return NULL;
}

void frt_resp_free(frt_resp *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}
