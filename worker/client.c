/*
 * client.c - the libcurl client of fastrun-server used by `fastrun run --cache-url` (client.h):
 * conditional download of this machine's category into a copy beside the local cache, merged
 * into the run's cache; upload of what the run profiled.
 */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    char *buf;
    size_t len;
    char etag[128];
} answer;

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
    answer *a = cls;
    size_t add = size * n;
    if (a->len + add > (size_t)FRC_MAX_DOC_BYTES) return 0; /* cap: abort the transfer */
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
    answer *a = cls;
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

/* One request to base + path. *status is 0 when no answer came (detail in d). */
static fr_err request(const frw_client *c, const char *method, const char *path,
                      const char *if_none_match, const char *body, long *status, answer *out,
                      fr_diag *d)
{
    static bool curl_ready;
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) curl_ready = true;
    char url[2048], auth[256], inm[192];
    size_t blen = strlen(c->url);
    while (blen && c->url[blen - 1] == '/')
        blen--;
    snprintf(url, sizeof url, "%.*s%s", (int)blen, c->url, path);
    CURL *h = curl_easy_init();
    if (!h) return fr_diag_set(d, FR_ERR_NOMEM, "libcurl could not start");
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
    }
    if (if_none_match) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
        headers = curl_slist_append(headers, inm);
    }
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    else
        fr_diag_set(d, FR_ERR_UNAVAILABLE, "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return FR_ERR_OK;
}

/* The fr_err and detail of a server error body {"error":{"code","message","detail"}}. */
static fr_err server_error(long status, const answer *a, fr_diag *d)
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

/* ---------------------------------------------------------------------------------------------
 * Download
 * ------------------------------------------------------------------------------------------- */
/* Where the downloaded copy lives (see client.h); creates its folder. */
static fr_err copy_path(const frw_client *c, char *out, size_t len, fr_diag *d)
{
    if (c->local_path) {
        snprintf(out, len, "%s.server.json", c->local_path);
        return FR_ERR_OK;
    }
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[1024];
    if (xdg && xdg[0])
        snprintf(dir, sizeof dir, "%s/fastrun", xdg);
    else if (home && home[0])
        snprintf(dir, sizeof dir, "%s/.cache/fastrun", home);
    else
        return fr_diag_set(d, FR_ERR_IO, "neither XDG_CACHE_HOME nor HOME is set");
    for (char *p = dir + 1; *p; p++) { /* mkdir -p */
        if (*p != '/') continue;
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fr_diag_set(d, FR_ERR_IO, "%s: %s", dir, strerror(errno));
    snprintf(out, len, "%s/server-%s.json", dir, c->category);
    return FR_ERR_OK;
}

/* Reads the ETag saved with the copy ("" if none). */
static void read_etag(const char *path, char *out, size_t len)
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

static fr_err write_etag(const char *path, const char *etag, fr_diag *d)
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

/* Gets the server's document into *server (empty when the server has none and no copy). */
static fr_err download(frw_client *c, const char *copy, frc_doc *server, fr_diag *d)
{
    char etag[128], path[64];
    frc_doc stored;
    frc_doc_init(&stored);
    fr_diag ignored;
    bool have_copy = frc_file_load(copy, &stored, &ignored) == FR_ERR_OK;
    read_etag(copy, etag, sizeof etag);
    snprintf(path, sizeof path, "/v1/cache?category=%s", c->category);
    answer a = {0};
    long status;
    fr_diag net = {""};
    fr_err e = request(c, "GET", path, have_copy && etag[0] ? etag : NULL, NULL, &status, &a, &net);
    if (e == FR_ERR_OK && status == 200) {
        e = frc_doc_parse(a.buf, a.len, c->url, server, d);
        if (e == FR_ERR_OK) e = frc_file_save(copy, server, d);
        if (e == FR_ERR_OK && a.etag[0]) e = write_etag(copy, a.etag, d);
        if (e == FR_ERR_OK)
            fprintf(stderr, "fastrun: server cache for %s: downloaded revision %lld into %s\n",
                    c->category, (long long)server->revision, copy);
    } else if (e == FR_ERR_OK && status == 304) {
        fprintf(stderr, "fastrun: server cache for %s: unchanged (revision %lld, %s)\n",
                c->category, (long long)stored.revision, copy);
        *server = stored;
        frc_doc_init(&stored);
    } else if (e == FR_ERR_OK) {
        fr_diag why = {""};
        if (status) server_error(status, &a, &why);
        fprintf(stderr, "fastrun: server cache for %s: %s; %s\n", c->category,
                status == 404 ? "the server has no results for this category yet"
                : status      ? why.msg
                              : net.msg,
                have_copy ? "using the copy downloaded before" : "continuing without it");
        if (have_copy) {
            *server = stored;
            frc_doc_init(&stored);
        }
    }
    frc_doc_cleanup(&stored);
    free(a.buf);
    return e;
}

fr_err frw_client_fetch(frw_client *c, bool profiling, frc_doc *doc, frc_category **cat, fr_diag *d)
{
    char copy[1100];
    frc_doc server;
    frc_fingerprint fp = {0};
    frc_doc_init(&server);
    if (frw_fingerprint(&fp) != FR_ERR_OK) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    frc_category_id(&fp, c->category);
    fr_err e = copy_path(c, copy, sizeof copy, d);
    if (e == FR_ERR_OK) e = download(c, copy, &server, d);
    if (e == FR_ERR_OK && server.ncats) e = frc_doc_merge(doc, &server);
    frc_doc_cleanup(&server);
    if (e == FR_ERR_OK && profiling)
        e = frc_doc_category(doc, &fp, cat);
    else if (e == FR_ERR_OK)
        *cat = frc_doc_find_category(doc, c->category);
    frc_fingerprint_cleanup(&fp);
    return e;
}

/* ---------------------------------------------------------------------------------------------
 * Upload
 * ------------------------------------------------------------------------------------------- */
static fr_err record_key(void *ctx, const frc_category *cat, const char *key,
                         const frw_profile_log *log, fr_diag *d)
{
    frw_client *c = ctx;
    char **grown = realloc(c->profiled, (c->nprofiled + 1) * sizeof *grown);
    if (!grown || !(grown[c->nprofiled] = strdup(key))) {
        if (grown) c->profiled = grown;
        return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    }
    c->profiled = grown;
    c->nprofiled++;
    return c->next_sink ? c->next_sink(c->next_ctx, cat, key, log, d) : FR_ERR_OK;
}

void frw_client_wrap_sink(frw_client *c, frw_run_opts *o)
{
    c->next_sink = o->sink;
    c->next_ctx = o->sink_ctx;
    o->sink = record_key;
    o->sink_ctx = c;
}

/* The upload body: provenance, fingerprint and the recorded entries (caller frees). */
static char *upload_body(const frw_client *c, const frc_category *cat)
{
    unsigned char rnd[8];
    char host[256] = "unknown", when[32], id[64];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
    snprintf(id, sizeof id, "fastrun-run-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    void *fp = NULL;
    json_t *entries = json_array();
    for (size_t i = 0; entries && i < c->nprofiled; i++) {
        const frc_entry *en = frc_category_find(cat, c->profiled[i]);
        json_t *results = json_array();
        for (size_t k = 0; en && results && k < en->nresults; k++) {
            void *r = NULL;
            if (frc_result_to_json(&en->results[k], &r) == FR_ERR_OK)
                json_array_append_new(results, r);
        }
        if (en)
            json_array_append_new(entries,
                                  json_pack("{s:s,s:o}", "key", en->key, "results", results));
        else
            json_decref(results);
    }
    if (frc_fingerprint_to_json(&cat->fp, &fp) != FR_ERR_OK) {
        json_decref(entries);
        return NULL;
    }
    json_t *body =
        json_pack("{s:{s:s,s:s,s:s,s:s},s:o,s:o}", "provenance", "source", "user", "host", host,
                  "time", when, "upload_id", id, "fingerprint", (json_t *)fp, "entries", entries);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

fr_err frw_client_upload(frw_client *c, const frc_category *cat, fr_diag *d)
{
    if (c->nprofiled == 0 || !cat) {
        fprintf(stderr, "fastrun: nothing was profiled in this run, so nothing was uploaded\n");
        return FR_ERR_OK;
    }
    char *body = upload_body(c, cat);
    if (!body) return fr_diag_set(d, FR_ERR_NOMEM, "building the upload");
    fr_err e = FR_ERR_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        answer a = {0};
        long status;
        fr_diag net = {""};
        e = request(c, "POST", "/v1/results", NULL, body, &status, &a, &net);
        bool retry = e == FR_ERR_OK && (status == 0 || status == 503);
        if (e == FR_ERR_OK && (status == 200 || status == 201)) {
            json_t *j = json_loads(a.buf, 0, NULL);
            fprintf(stderr, "fastrun: uploaded %zu operators (%lld new reports) to %s\n",
                    c->nprofiled,
                    (long long)json_integer_value(json_object_get(j, "reports_added")), c->url);
            json_decref(j);
        } else if (e == FR_ERR_OK) {
            e = status ? server_error(status, &a, d)
                       : fr_diag_set(d, FR_ERR_UNAVAILABLE, "%s", net.msg);
        }
        free(a.buf);
        if (!retry || attempt == 2) break;
        sleep(1u << attempt);
    }
    free(body);
    if (e != FR_ERR_OK) fr_diag_prefix(d, "upload to %s", c->url);
    return e;
}

void frw_client_cleanup(frw_client *c)
{
    for (size_t i = 0; i < c->nprofiled; i++)
        free(c->profiled[i]);
    free(c->profiled);
    c->profiled = NULL;
    c->nprofiled = 0;
}
