/*
 * cmd_cache_net.c - `fastrun cache push FILE --server URL` and `fastrun cache pull --server URL
 * [--category ID]... [--reproducible] [--exclude ATTRS] [--max-workspace N] -o FILE`: sharing a
 * cache file through fastrun-server without wrapping it by hand.
 *
 * push uploads every entry of every category of FILE through POST /v1/results (the route
 * `fastrun run --upload` uses; one request per category, each with its own upload id, so a retry
 * is a no-op). pull is GET /v1/cache with the same query as the route (category defaults to this
 * machine's), conditional on the ETag saved beside the file (FILE.etag): an unchanged cache is a
 * 304 and the file is not touched; a new one is checked, then written with frc_file_save
 * (atomic). The token comes from $FASTRUN_TOKEN (never a command-line option: ps shows those).
 * Server errors are printed as the API states them (status, message, detail). Progress goes to
 * stderr only when stderr is a terminal.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "http.h"

int frw_cmd_cache_push(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'}, {0}};
    const char *server = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 's')
            server = optarg;
        else
            return frw_cli_bad_option("cache push", argv, c);
    }
    if (optind != argc - 1) return frw_cli_usage("cache push", "expects exactly one FILE");
    if (!server) return frw_cli_usage("cache push", "expects --server URL");
    const char *file = argv[optind];
    frc_doc doc;
    frc_doc_init(&doc);
    fr_diag d = {{0}};
    fr_err e = frc_file_load(file, &doc, &d);
    bool tty = isatty(STDERR_FILENO);
    size_t pushed = 0;
    long long added = 0;
    for (size_t i = 0; !e && i < doc.ncats; i++) {
        const frc_category *cat = &doc.cats[i];
        if (cat->nentries == 0) continue;
        char *body = frw_upload_body(cat, NULL, 0, "fastrun-push");
        if (!body) e = fr_diag_set(&d, FR_ERR_NOMEM, "building the upload");
        long long n = 0;
        if (!e) e = frw_results_post(server, getenv("FASTRUN_TOKEN"), body, tty, &n, &d);
        free(body);
        if (e) break;
        printf("%s: category %s: %zu entries pushed (%lld new reports)\n", file, cat->id,
               cat->nentries, n);
        pushed += cat->nentries;
        added += n;
    }
    if (!e)
        printf("%s: %zu entries pushed to %s (%lld new reports)\n", file, pushed, server, added);
    frc_doc_cleanup(&doc);
    return e ? frw_cli_fail("cache push", e, &d) : FRW_EXIT_OK;
}

/* Appends "&name=value" (or "?name=value" first) to q; false when it does not fit. The values
 * are checked by the caller to need no escaping. */
static bool add_query(char *q, size_t len, const char *name, const char *value)
{
    size_t used = strlen(q);
    int n = snprintf(q + used, len - used, "%c%s=%s", used ? '&' : '?', name, value);
    return n > 0 && (size_t)n < len - used;
}

/* Letters, digits, ',', '_' and '-' only: a value that needs no URL escaping. */
static bool plain(const char *v)
{
    for (; *v; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              *v == ',' || *v == '_' || *v == '-'))
            return false;
    return true;
}

/* Saves the answer's document to out and its ETag beside it. */
static fr_err save_pulled(const frw_http_answer *a, const char *server, const char *out, fr_diag *d)
{
    frc_doc doc;
    frc_doc_init(&doc);
    fr_err e = frc_doc_parse(a->buf, a->len, server, &doc, d);
    if (!e) e = frc_file_save(out, &doc, d);
    if (!e && a->etag[0]) e = frw_etag_write(out, a->etag, d);
    if (!e) {
        size_t entries = 0;
        for (size_t i = 0; i < doc.ncats; i++)
            entries += doc.cats[i].nentries;
        printf("%s: revision %lld, %zu categor%s, %zu entries\n", out, (long long)doc.revision,
               doc.ncats, doc.ncats == 1 ? "y" : "ies", entries);
    }
    frc_doc_cleanup(&doc);
    return e;
}

int frw_cmd_cache_pull(int argc, char **argv)
{
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"category", required_argument, NULL, 'c'},
                                         {"reproducible", no_argument, NULL, 'r'},
                                         {"exclude", required_argument, NULL, 'x'},
                                         {"max-workspace", required_argument, NULL, 'w'},
                                         {0}};
    const char *server = NULL, *out = NULL;
    char query[1024] = "";
    bool fits = true, has_category = false;
    long long ws = 0;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        if (c == 's') {
            server = optarg;
        } else if (c == 'o') {
            out = optarg;
        } else if (c == 'r') {
            fits = fits && add_query(query, sizeof query, "reproducible", "1");
        } else if (c == 'c' || c == 'x') {
            if (!plain(optarg) || !*optarg)
                return frw_cli_usage("cache pull", "--%s '%s': expected letters, digits and ','",
                                     c == 'c' ? "category" : "exclude", optarg);
            fits =
                fits && add_query(query, sizeof query, c == 'c' ? "category" : "exclude", optarg);
            has_category = has_category || c == 'c';
        } else if (c == 'w') {
            if (!frw_cli_int("cache pull", "--max-workspace", optarg, 0, INT64_MAX, &ws))
                return FRW_EXIT_USAGE;
            fits = fits && add_query(query, sizeof query, "max_workspace", optarg);
        } else {
            return frw_cli_bad_option("cache pull", argv, c);
        }
    }
    if (optind != argc)
        return frw_cli_usage("cache pull", "unexpected argument '%s'", argv[optind]);
    if (!server || !out) return frw_cli_usage("cache pull", "expects --server URL and -o FILE");
    fr_diag d = {{0}};
    if (!has_category) { /* this machine's category */
        frc_fingerprint fp = {0};
        char id[17];
        if (frw_fingerprint(&fp)) return frw_cli_fail("cache pull", FR_ERR_NOMEM, &d);
        frc_category_id(&fp, id);
        frc_fingerprint_cleanup(&fp);
        fits = fits && add_query(query, sizeof query, "category", id);
    }
    if (!fits) return frw_cli_usage("cache pull", "the query is too long");
    char path[1100], etag[128];
    snprintf(path, sizeof path, "/v1/cache%s", query);
    /* Conditional only when the file is there and valid: else a 304 would leave it missing. */
    frc_doc current;
    frc_doc_init(&current);
    fr_diag ignored;
    bool have = frc_file_load(out, &current, &ignored) == FR_ERR_OK;
    frw_etag_read(out, etag, sizeof etag);
    frw_http_req r = {.base = server,
                      .token = getenv("FASTRUN_TOKEN"),
                      .if_none_match = have && etag[0] ? etag : NULL,
                      .progress = isatty(STDERR_FILENO)};
    frw_http_answer a = {0};
    long status = 0;
    fr_err e = frw_http_request(&r, "GET", path, &status, &a, &d);
    if (!e && status == 200)
        e = save_pulled(&a, server, out, &d);
    else if (!e && status == 304)
        printf("%s: unchanged (revision %lld)\n", out, (long long)current.revision);
    else if (!e)
        e = frw_http_server_error(status, &a, &d);
    if (e) fr_diag_prefix(&d, "GET %s%s", server, path);
    frw_http_answer_cleanup(&a);
    frc_doc_cleanup(&current);
    return e ? frw_cli_fail("cache pull", e, &d) : FRW_EXIT_OK;
}
