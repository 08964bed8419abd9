/*
 * results.c - POST /v1/results: upload profiling results with their provenance.
 *
 * Body (application/json), one of:
 *   {"provenance": P, "document": <a cache document as `fastrun` writes it; digest optional>}
 *   {"provenance": P, "fingerprint": {...}, "entries": [{"key": "...", "results": [{...}]}]}
 * with P = {"source": "worker"|"user", "host": "name", "time": "RFC 3339",
 *           "upload_id": "optional idempotency key, [A-Za-z0-9._:-]{1,128}"}.
 *
 * The whole upload is validated before anything is stored (keys canonical, figures sane,
 * limits on results per upload, key length and nesting depth), so a bad upload is rejected whole
 * with a 4xx naming the field. Answers 201 with what was stored, or 200 with "duplicate": true
 * when the same upload was stored before (nothing changes).
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

static fr_err copy_field(const json_t *obj, const char *field, bool required, char *out, size_t len,
                         fr_diag *d)
{
    const json_t *v = json_object_get(obj, field);
    out[0] = '\0';
    if (!v && !required) return FR_ERR_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "provenance.%s: expected a non-empty string",
                           field);
    if (json_string_length(v) >= len)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "provenance.%s: longer than %zu bytes", field,
                           len - 1);
    const char *s = json_string_value(v);
    for (size_t i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "provenance.%s: control character", field);
    snprintf(out, len, "%s", s);
    return FR_ERR_OK;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). PostgreSQL checks the ranges;
 * this check keeps out its other spellings ("yesterday", "now"), which would not be a time of
 * measurement. */
static bool rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; shape[i]; i++, s++) {
        bool ok = shape[i] == 'd' ? (*s >= '0' && *s <= '9') : *s == shape[i];
        if (!ok) return false;
    }
    if (*s == '.') {
        if (!(s[1] >= '0' && s[1] <= '9')) return false;
        for (s++; *s >= '0' && *s <= '9'; s++) {
        }
    }
    if (*s == 'Z') return s[1] == '\0';
    if (*s != '+' && *s != '-') return false;
    return s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && s[3] == ':' && s[4] >= '0' &&
           s[4] <= '9' && s[5] >= '0' && s[5] <= '9' && s[6] == '\0';
}

static fr_err parse_provenance(const json_t *p, frs_provenance *out, fr_diag *d)
{
    if (!json_is_object(p))
        return fr_diag_set(d, FR_ERR_BAD_REQUEST,
                           "provenance: expected {\"source\",\"host\",\"time\"}");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p, k, v)
    {
        if (strcmp(k, "source") && strcmp(k, "host") && strcmp(k, "time") && strcmp(k, "upload_id"))
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "provenance.%.64s: unknown field", k);
    }
    fr_err e = copy_field(p, "source", true, out->source, sizeof out->source, d);
    if (e == FR_ERR_OK && strcmp(out->source, "worker") && strcmp(out->source, "user"))
        e = fr_diag_set(d, FR_ERR_BAD_REQUEST, "provenance.source: expected worker or user");
    if (e == FR_ERR_OK) e = copy_field(p, "host", true, out->host, sizeof out->host, d);
    if (e == FR_ERR_OK) e = copy_field(p, "time", true, out->time, sizeof out->time, d);
    if (e == FR_ERR_OK && !rfc3339(out->time))
        e = fr_diag_set(d, FR_ERR_BAD_REQUEST,
                        "provenance.time: '%s' is not an RFC 3339 time (2026-01-31T12:00:00Z)",
                        out->time);
    if (e == FR_ERR_OK)
        e = copy_field(p, "upload_id", false, out->upload_id, sizeof out->upload_id, d);
    for (const char *c = out->upload_id; e == FR_ERR_OK && *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", *c))
            e = fr_diag_set(d, FR_ERR_BAD_REQUEST,
                            "provenance.upload_id: only A-Z a-z 0-9 . _ : -");
    return e;
}

/* The "fingerprint" + "entries" form, as one category of a document. */
static fr_err parse_entries(const json_t *body, frc_doc *doc, fr_diag *d)
{
    frc_fingerprint fp = {0};
    frc_category *cat;
    const json_t *entries = json_object_get(body, "entries");
    if (!json_is_array(entries))
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "entries: expected an array");
    fr_err e =
        frc_fingerprint_from_json(json_object_get(body, "fingerprint"), "fingerprint", &fp, d);
    if (e == FR_ERR_OK) e = frc_doc_category(doc, &fp, &cat);
    frc_fingerprint_cleanup(&fp);
    size_t i;
    const json_t *en;
    json_array_foreach(entries, i, en)
    {
        if (e != FR_ERR_OK) break;
        const json_t *key = json_object_get(en, "key"), *results = json_object_get(en, "results");
        fr_op op;
        bool wp;
        if (!json_is_string(key) || !json_is_array(results) || json_object_size(en) != 2)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST,
                               "entries[%zu]: expected {\"key\": string, \"results\": array}", i);
        if (json_string_length(key) >= FR_MAX_KEY_LEN)
            return fr_diag_set(d, FR_ERR_TOO_LARGE, "entries[%zu].key: longer than %d bytes", i,
                               FR_MAX_KEY_LEN - 1);
        e = fr_op_parse_key(json_string_value(key), &op, &wp, d);
        if (e != FR_ERR_OK) {
            fr_diag_prefix(d, "entries[%zu].key", i);
            return FR_ERR_BAD_REQUEST;
        }
        if (frc_category_find(cat, json_string_value(key)))
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "entries[%zu].key: listed twice", i);
        size_t n = json_array_size(results);
        if (n == 0 || n > FRC_MAX_RESULTS_PER_ENTRY)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "entries[%zu].results: 1 to %d results", i,
                               FRC_MAX_RESULTS_PER_ENTRY);
        frc_result rs[FRC_MAX_RESULTS_PER_ENTRY] = {0};
        for (size_t k = 0; e == FR_ERR_OK && k < n; k++) {
            char path[64];
            snprintf(path, sizeof path, "entries[%zu].results[%zu]", i, k);
            e = frc_result_from_json(json_array_get(results, k), path, &rs[k], d);
            for (size_t j = 0; e == FR_ERR_OK && j < k; j++)
                if (!strcmp(rs[j].algorithm, rs[k].algorithm))
                    e = fr_diag_set(d, FR_ERR_BAD_REQUEST, "%s.algorithm: '%s' listed twice", path,
                                    rs[k].algorithm);
        }
        if (e == FR_ERR_OK) e = frc_category_put(cat, json_string_value(key), rs, n);
        for (size_t k = 0; k < n; k++)
            frc_result_cleanup(&rs[k]);
    }
    return e;
}

static fr_err parse_upload(frs_req *r, frs_provenance *prov, frc_doc *doc)
{
    json_t *body;
    fr_err e = frs_body_object(r, &body);
    if (e != FR_ERR_OK) return e;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "provenance") && strcmp(k, "document") && strcmp(k, "fingerprint") &&
            strcmp(k, "entries"))
            return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "%.64s: unknown field", k);
    }
    e = parse_provenance(json_object_get(body, "provenance"), prov, &r->diag);
    if (e != FR_ERR_OK) return e;
    /* "worker" provenance is what a profiling worker claims; a submitter's upload is a user's. */
    if (strcmp(prov->source, "worker") == 0 &&
        !(r->who.role & (FRS_ROLE_WORKER | FRS_ROLE_ADMIN)))
        return fr_diag_set(&r->diag, FR_ERR_FORBIDDEN,
                           "provenance.source 'worker' needs a worker token; token '%s' has "
                           "role %s",
                           r->who.name, frs_role_name(r->who.role));
    bool has_doc = json_object_get(body, "document") != NULL;
    bool has_entries = json_object_get(body, "entries") || json_object_get(body, "fingerprint");
    if (has_doc == has_entries)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "expected either \"document\" or \"fingerprint\" with \"entries\"");
    if (has_doc)
        return frc_doc_from_json(json_object_get(body, "document"), "document", false, doc,
                                 &r->diag);
    return parse_entries(body, doc, &r->diag);
}

fr_err frs_results_post(frs_req *r)
{
    static const char *const allowed[] = {NULL};
    frs_provenance prov;
    frc_doc doc;
    frs_store_result res = {0};
    frc_doc_init(&doc);
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK) e = parse_upload(r, &prov, &doc);
    size_t nresults = 0;
    for (size_t i = 0; i < doc.ncats; i++)
        for (size_t k = 0; k < doc.cats[i].nentries; k++)
            nresults += doc.cats[i].entries[k].nresults;
    if (e == FR_ERR_OK && nresults == 0)
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "the upload holds no results");
    if (e == FR_ERR_OK && nresults > r->srv->cfg.max_upload_results)
        e = fr_diag_set(&r->diag, FR_ERR_TOO_LARGE, "%zu results in one upload; the limit is %zu",
                        nresults, r->srv->cfg.max_upload_results);
    if (e == FR_ERR_OK) e = frs_store_upload(r->srv, &r->who, &prov, &doc, &res, &r->diag);
    frc_doc_cleanup(&doc);
    if (e != FR_ERR_OK) {
        json_decref(res.categories);
        frs_count(&r->srv->metrics, uploads_rejected);
        return e;
    }
    if (res.duplicate)
        frs_count(&r->srv->metrics, uploads_duplicate);
    else
        frs_count(&r->srv->metrics, uploads_new);
    atomic_fetch_add_explicit(&r->srv->metrics.reports_added, res.added, memory_order_relaxed);
    json_t *out =
        json_pack("{s:I,s:b,s:I,s:I,s:o}", "upload_id", (json_int_t)res.upload_id, "duplicate",
                  res.duplicate, "reports_received", (json_int_t)res.received, "reports_added",
                  (json_int_t)res.added, "categories", res.categories);
    if (!out) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "building the answer");
    frs_reply_json(r, res.duplicate ? 200 : 201, out);
    return FR_ERR_OK;
}
