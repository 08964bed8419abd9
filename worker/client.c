/*
 * client.c - the libcurl client of fastrun-server used by `fastrun run --cache-url` (client.h):
 * conditional download of this machine's category into a copy beside the local cache, merged
 * into the run's cache; upload of what the run profiled.
 */
#include "client.h"
#include "http.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One request with the client's server and token (http.h). No answer is not an error here:
 * *status is 0 and the reason is in d. */
static fr_err request(const frw_client *c, const char *method, const char *path,
                      const char *if_none_match, const char *body, long *status,
                      frw_http_answer *out, fr_diag *d)
{
    frw_http_req r = {
        .base = c->url, .token = c->token, .if_none_match = if_none_match, .body = body};
    fr_err e = frw_http_request(&r, method, path, status, out, d);
    return e == FR_ERR_NOMEM ? e : FR_ERR_OK;
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

/* Gets the server's document into *server (empty when the server has none and no copy). */
static fr_err download(frw_client *c, const char *copy, frc_doc *server, fr_diag *d)
{
    char etag[128], path[64];
    frc_doc stored;
    frc_doc_init(&stored);
    fr_diag ignored;
    bool have_copy = frc_file_load(copy, &stored, &ignored) == FR_ERR_OK;
    frw_etag_read(copy, etag, sizeof etag);
    snprintf(path, sizeof path, "/v1/cache?category=%s", c->category);
    frw_http_answer a = {0};
    long status;
    fr_diag net = {""};
    fr_err e = request(c, "GET", path, have_copy && etag[0] ? etag : NULL, NULL, &status, &a, &net);
    if (e == FR_ERR_OK && status == 200) {
        e = frc_doc_parse(a.buf, a.len, c->url, server, d);
        if (e == FR_ERR_OK) e = frc_file_save(copy, server, d);
        if (e == FR_ERR_OK && a.etag[0]) e = frw_etag_write(copy, a.etag, d);
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
        if (status) frw_http_server_error(status, &a, &why);
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
    frw_http_answer_cleanup(&a);
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

char *frw_upload_body(const frc_category *cat, char *const *keys, size_t nkeys,
                      const char *id_prefix)
{
    unsigned char rnd[8];
    char host[256] = "unknown", when[32], id[96];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
    snprintf(id, sizeof id, "%.40s-%02x%02x%02x%02x%02x%02x%02x%02x", id_prefix, rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    void *fp = NULL;
    json_t *entries = json_array();
    size_t n = keys ? nkeys : cat->nentries;
    for (size_t i = 0; entries && i < n; i++) {
        const frc_entry *en = keys ? frc_category_find(cat, keys[i]) : &cat->entries[i];
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

fr_err frw_results_post(const char *url, const char *token, const char *body, bool progress,
                        long long *added, fr_diag *d)
{
    frw_http_req r = {.base = url, .token = token, .body = body, .progress = progress};
    fr_err e = FR_ERR_OK;
    *added = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        frw_http_answer a = {0};
        long status;
        e = frw_http_request(&r, "POST", "/v1/results", &status, &a, d);
        bool retry = e == FR_ERR_UNAVAILABLE || status == 503;
        if (e == FR_ERR_OK && (status == 200 || status == 201)) {
            json_t *j = json_loads(a.buf, 0, NULL);
            *added = (long long)json_integer_value(json_object_get(j, "reports_added"));
            json_decref(j);
        } else if (e == FR_ERR_OK) {
            e = frw_http_server_error(status, &a, d);
        }
        frw_http_answer_cleanup(&a);
        if (!retry || attempt == 2) break;
        sleep(1u << attempt);
    }
    if (e != FR_ERR_OK) fr_diag_prefix(d, "upload to %s", url);
    return e;
}

fr_err frw_client_upload(frw_client *c, const frc_category *cat, fr_diag *d)
{
    if (c->nprofiled == 0 || !cat) {
        fprintf(stderr, "fastrun: nothing was profiled in this run, so nothing was uploaded\n");
        return FR_ERR_OK;
    }
    char *body = frw_upload_body(cat, c->profiled, c->nprofiled, "fastrun-run");
    if (!body) return fr_diag_set(d, FR_ERR_NOMEM, "building the upload");
    long long added = 0;
    fr_err e = frw_results_post(c->url, c->token, body, false, &added, d);
    if (e == FR_ERR_OK)
        fprintf(stderr, "fastrun: uploaded %zu operators (%lld new reports) to %s\n", c->nprofiled,
                added, c->url);
    free(body);
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
