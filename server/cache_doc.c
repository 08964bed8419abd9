/*
 * cache_doc.c - GET /v1/cache: the merged cache of one or more categories, filtered by a policy,
 * in the same document format as the local cache file.
 *
 *   ?category=ID[&category=ID2...]   16-hex-digit category ids (also comma-separated), at most
 *                                    FRS_MAX_CATEGORIES_PER_REQUEST
 *   &reproducible=1                  keep only REPRODUCIBLE algorithms
 *   &exclude=naive[,...]             drop algorithms with these attributes (names, any case)
 *   &max_workspace=N                 drop algorithms needing more than N bytes of workspace
 *
 * Each request costs one indexed SELECT of the categories' revisions. The ETag is a hash of
 * (ids, revisions, policy): If-None-Match with it answers 304 without touching the document;
 * otherwise the bytes come from the in-memory document cache (doccache.c), built once per
 * change. The revision (sum of the categories' revisions) is also in X-Fastrun-Revision and in
 * the document's "revision" field.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_id(const char *s, size_t len)
{
    if (len != 16) return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Adds the comma-separated ids of one parameter value, keeping q->ids sorted and distinct. */
static fr_err add_ids(frs_docreq *q, const char *value, fr_diag *d)
{
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        if (!is_id(p, len))
            return fr_diag_set(d, FR_ERR_BAD_REQUEST,
                               "category '%.*s': expected 16 lowercase hex digits (fastrun info)",
                               (int)(len > 40 ? 40 : len), p);
        size_t at = 0;
        while (at < q->n && strncmp(q->ids[at], p, 16) < 0)
            at++;
        if (at == q->n || strncmp(q->ids[at], p, 16) != 0) {
            if (q->n == FRS_MAX_CATEGORIES_PER_REQUEST)
                return fr_diag_set(d, FR_ERR_TOO_LARGE, "more than %d categories",
                                   FRS_MAX_CATEGORIES_PER_REQUEST);
            memmove(q->ids[at + 1], q->ids[at], (q->n - at) * sizeof q->ids[0]);
            memcpy(q->ids[at], p, 16);
            q->ids[at][16] = '\0';
            q->n++;
        }
        if (!p[len]) return FR_ERR_OK;
        p += len + 1;
    }
}

/* Adds attribute names ("naive,reproducible", any case) to *bits. */
static fr_err add_attrs(const char *value, unsigned *bits, fr_diag *d)
{
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        char name[32];
        unsigned bit = 0;
        if (len == 0 || len >= sizeof name)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "exclude: empty or overlong attribute");
        for (size_t i = 0; i < len; i++)
            name[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
        name[len] = '\0';
        if (fr_attr_parse(name, &bit) != FR_ERR_OK)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "exclude: unknown attribute '%s'", name);
        *bits |= bit;
        if (!p[len]) return FR_ERR_OK;
        p += len + 1;
    }
}

static fr_err parse_bool(const char *name, const char *v, bool *out, fr_diag *d)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false"))
        *out = false;
    else
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "%s: expected 1 or 0, got '%.32s'", name, v);
    return FR_ERR_OK;
}

fr_err frs_docreq_from_params(frs_req *r, frs_docreq *q, fr_diag *d)
{
    memset(q, 0, sizeof *q);
    for (size_t i = 0; i < r->nparams; i++) {
        const char *name = r->params[i].name, *v = r->params[i].value;
        fr_err e = FR_ERR_OK;
        if (!strcmp(name, "category")) {
            e = add_ids(q, v, d);
        } else if (!strcmp(name, "reproducible")) {
            bool on = false;
            e = parse_bool(name, v, &on, d);
            if (on) q->policy.required |= FR_ATTR_REPRODUCIBLE;
        } else if (!strcmp(name, "exclude")) {
            e = add_attrs(v, &q->policy.forbidden, d);
        } else if (!strcmp(name, "max_workspace")) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (!*v || *end || errno || v[0] == '-')
                e = fr_diag_set(d, FR_ERR_BAD_REQUEST,
                                "max_workspace: expected bytes, got "
                                "'%.32s'",
                                v);
            q->policy.max_workspace = n;
        }
        if (e != FR_ERR_OK) return e;
    }
    if (q->n == 0)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "missing category=<id> (see `fastrun info`)");
    return FR_ERR_OK;
}

json_t *frs_policy_json(const frc_policy *pol)
{
    json_t *req = json_array(), *forb = json_array();
    for (unsigned bit = 0; bit < 32; bit++) {
        const char *name = fr_attr_name(1u << bit);
        if (!name) continue;
        if (pol->required & (1u << bit)) json_array_append_new(req, json_string(name));
        if (pol->forbidden & (1u << bit)) json_array_append_new(forb, json_string(name));
    }
    return json_pack("{s:o,s:o,s:I}", "required", req, "forbidden", forb, "max_workspace",
                     (json_int_t)pol->max_workspace);
}

/* True if the If-None-Match header lists etag (or is "*"). */
static bool etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!strncmp(p, "W/", 2)) p += 2;
        size_t len = strcspn(p, ", ");
        if ((len == 1 && *p == '*') || (len == elen && !strncmp(p, etag, elen))) return true;
        p += len;
    }
    return false;
}

fr_err frs_cache_get(frs_req *r)
{
    static const char *const allowed[] = {"category", "reproducible", "exclude", "max_workspace",
                                          NULL};
    frs_docreq q;
    frs_blob *blob;
    char etag[40], rev[24];
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = frs_docreq_from_params(r, &q, &r->diag);
    if (e == FR_ERR_OK) e = frs_docs_revisions(r->srv, &q, &r->diag);
    if (e != FR_ERR_OK) return e;

    frs_docs_etag(&q, etag);
    if (r->if_none_match && etag_matches(r->if_none_match, etag)) {
        int64_t sum = 0;
        for (size_t i = 0; i < q.n; i++)
            sum += q.revisions[i];
        snprintf(rev, sizeof rev, "%lld", (long long)sum);
        frs_reply_empty(r, 304);
        frs_reply_header(r, "ETag", etag);
        frs_reply_header(r, "X-Fastrun-Revision", rev);
        frs_reply_header(r, "Cache-Control", "no-cache");
        frs_count(&r->srv->metrics, not_modified);
        return FR_ERR_OK;
    }
    e = frs_docs_blob(r->srv, &q, &blob, &r->diag);
    if (e != FR_ERR_OK) return e;
    snprintf(rev, sizeof rev, "%lld", (long long)blob->revision);
    frs_reply_data(r, 200, "application/json", blob->data, blob->len, frs_blob_release, blob);
    frs_reply_header(r, "ETag", blob->etag);
    frs_reply_header(r, "X-Fastrun-Revision", rev);
    frs_reply_header(r, "Cache-Control", "no-cache");
    frs_count(&r->srv->metrics, docs_served);
    return FR_ERR_OK;
}
