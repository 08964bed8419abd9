/*
 * doc.c - the writing half of the JSON document codec: results, fingerprints and documents to
 * jansson values, and the canonical text with its digest. Canonical means equal contents give
 * equal bytes whatever order they were inserted in: categories by id, entries by key, results
 * ranked, object keys sorted, no whitespace, reals to 9 significant digits. The digest is the
 * SHA-256 of the "categories" value dumped with the same flags, which is exactly what the reader
 * recomputes from the values it parsed (a real printed with 9 digits reads back to a double
 * that prints as the same 9 digits).
 */
#include "cache_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Sets o[k] = v (taken); false when v is NULL or the set fails. */
static bool put(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0;
}

static json_t *attrs_json(unsigned attrs)
{
    json_t *a = json_array();
    for (unsigned bit = 1; a && bit; bit <<= 1) {
        const char *name = fr_attr_name(bit);
        if (!(attrs & bit) || !name) continue;
        if (json_array_append_new(a, json_string(name))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

fr_err frc_result_to_json(const frc_result *r, void **out_json)
{
    if (frc__result_check(r, "result", NULL)) return FR_ERR_INVALID_ARGUMENT;
    json_t *o = json_object();
    bool ok = o && put(o, "algorithm", json_string(r->algorithm)) &&
              put(o, "attributes", attrs_json(r->attrs)) &&
              put(o, "workspace", json_integer((json_int_t)r->workspace)) &&
              put(o, "reports", json_integer(r->reports));
    if (ok && r->failure) {
        ok = put(o, "failure", json_string(r->failure));
    } else if (ok) {
        ok = put(o, "median_ms", json_real(r->median_ms)) &&
             put(o, "min_ms", json_real(r->min_ms)) &&
             put(o, "samples", json_integer(r->samples)) &&
             put(o, "spread_ms", json_real(r->spread_ms));
    }
    if (!ok) {
        /* json_string refuses text that is not UTF-8; anything else here is memory. */
        json_decref(o);
        return FR_ERR_INVALID_ARGUMENT;
    }
    *out_json = o;
    return FR_ERR_OK;
}

fr_err frc_fingerprint_to_json(const frc_fingerprint *fp, void **out_json)
{
    if (frc__fingerprint_check(fp, "fingerprint", NULL)) return FR_ERR_INVALID_ARGUMENT;
    json_t *o = json_object();
    bool ok =
        o && put(o, "format_version", json_integer(fp->format_version)) &&
        put(o, "kernel_set", json_integer(fp->kernel_set)) && put(o, "cpu", json_string(fp->cpu)) &&
        put(o, "isa", json_string(fp->isa)) && put(o, "threads", json_integer(fp->threads)) &&
        put(o, "blas", json_string(fp->blas)) && put(o, "blas_core", json_string(fp->blas_core));
    if (!ok) {
        json_decref(o);
        return FR_ERR_INVALID_ARGUMENT;
    }
    *out_json = o;
    return FR_ERR_OK;
}

static int entry_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const frc_entry *const *)a)->key, (*(const frc_entry *const *)b)->key);
}

static int cat_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const frc_category *const *)a)->id, (*(const frc_category *const *)b)->id);
}

static fr_err entry_json(const frc_entry *ent, json_t **out)
{
    fr_op op;
    bool wp;
    if (!ent->key || fr_op_parse_key(ent->key, &op, &wp, NULL)) return FR_ERR_INVALID_ARGUMENT;
    if (ent->nresults == 0) return FR_ERR_INVALID_ARGUMENT;
    if (ent->nresults > FRC_MAX_RESULTS_PER_ENTRY) return FR_ERR_TOO_LARGE;
    frc_result ranked[FRC_MAX_RESULTS_PER_ENTRY];
    memcpy(ranked, ent->results, ent->nresults * sizeof *ranked); /* shallow: order only */
    frc_rank(ranked, ent->nresults);
    json_t *arr = json_array(), *o = json_object();
    fr_err e = arr && o && put(o, "key", json_string(ent->key)) ? FR_ERR_OK : FR_ERR_NOMEM;
    for (size_t i = 0; !e && i < ent->nresults; i++) {
        void *r;
        if (i && strcmp(ranked[i].algorithm, ranked[i - 1].algorithm) == 0)
            e = FR_ERR_INVALID_ARGUMENT;
        else if (!(e = frc_result_to_json(&ranked[i], &r)) && json_array_append_new(arr, r))
            e = FR_ERR_NOMEM;
    }
    if (!e && ent->heuristic && !put(o, "heuristic", json_string(ent->heuristic)))
        e = FR_ERR_NOMEM;
    if (!e && json_object_set(o, "results", arr)) e = FR_ERR_NOMEM;
    json_decref(arr);
    if (e) {
        json_decref(o);
        return e;
    }
    *out = o;
    return FR_ERR_OK;
}

static fr_err category_json(const frc_category *cat, json_t **out)
{
    char id[17];
    void *fp;
    frc_category_id(&cat->fp, id);
    if (strcmp(id, cat->id) != 0) return FR_ERR_INVALID_ARGUMENT;
    if (cat->nentries > FRC_MAX_ENTRIES) return FR_ERR_TOO_LARGE;
    json_t *o = json_object();
    if (!o) return FR_ERR_NOMEM;
    fr_err e = frc_fingerprint_to_json(&cat->fp, &fp);
    if (e) {
        json_decref(o);
        return e;
    }
    json_t *arr = json_array();
    const frc_entry **order = malloc((cat->nentries ? cat->nentries : 1) * sizeof *order);
    /* put() takes fp even when it fails. */
    if (!put(o, "fingerprint", fp) || !put(o, "id", json_string(id)) || !arr || !order)
        e = FR_ERR_NOMEM;
    for (size_t i = 0; !e && i < cat->nentries; i++)
        order[i] = &cat->entries[i];
    if (!e) qsort(order, cat->nentries, sizeof *order, entry_ptr_cmp);
    for (size_t i = 0; !e && i < cat->nentries; i++) {
        json_t *ej;
        if (i && strcmp(order[i]->key, order[i - 1]->key) == 0)
            e = FR_ERR_INVALID_ARGUMENT;
        else if (!(e = entry_json(order[i], &ej)) && json_array_append_new(arr, ej))
            e = FR_ERR_NOMEM;
    }
    if (!e && json_object_set(o, "entries", arr)) e = FR_ERR_NOMEM;
    free(order);
    json_decref(arr);
    if (e) {
        json_decref(o);
        return e;
    }
    *out = o;
    return FR_ERR_OK;
}

/* The "categories" array in canonical order. */
static fr_err categories_json(const frc_doc *doc, json_t **out)
{
    if (doc->ncats > FRC_MAX_CATEGORIES) return FR_ERR_TOO_LARGE;
    const frc_category **order = malloc((doc->ncats ? doc->ncats : 1) * sizeof *order);
    json_t *arr = json_array();
    fr_err e = order && arr ? FR_ERR_OK : FR_ERR_NOMEM;
    for (size_t i = 0; !e && i < doc->ncats; i++)
        order[i] = &doc->cats[i];
    if (!e) qsort(order, doc->ncats, sizeof *order, cat_ptr_cmp);
    for (size_t i = 0; !e && i < doc->ncats; i++) {
        json_t *c;
        if (i && strcmp(order[i]->id, order[i - 1]->id) == 0)
            e = FR_ERR_INVALID_ARGUMENT;
        else if (!(e = category_json(order[i], &c)) && json_array_append_new(arr, c))
            e = FR_ERR_NOMEM;
    }
    free(order);
    if (e) {
        json_decref(arr);
        return e;
    }
    *out = arr;
    return FR_ERR_OK;
}

fr_err frc__digest_of(const json_t *categories, char out[72])
{
    char *text = json_dumps(categories, FRC__DUMP_FLAGS);
    if (!text) return FR_ERR_NOMEM;
    char hex[65];
    frc_sha256_hex(text, strlen(text), hex);
    free(text);
    memcpy(out, "sha256:", 7);
    memcpy(out + 7, hex, 65);
    return FR_ERR_OK;
}

fr_err frc_doc_to_json(const frc_doc *doc, void **out_json)
{
    json_t *cats;
    char digest[72];
    if (doc->revision < 0) return FR_ERR_INVALID_ARGUMENT;
    fr_err e = categories_json(doc, &cats);
    if (e) return e;
    if ((e = frc__digest_of(cats, digest))) {
        json_decref(cats);
        return e;
    }
    json_t *root = json_object();
    bool ok = root && put(root, "format", json_string(FRC_FORMAT_NAME)) &&
              put(root, "version", json_integer(FRC_FORMAT_VERSION)) &&
              put(root, "revision", json_integer(doc->revision)) &&
              put(root, "digest", json_string(digest)) &&
              json_object_set(root, "categories", cats) == 0;
    json_decref(cats);
    if (!ok) {
        json_decref(root);
        return FR_ERR_NOMEM;
    }
    *out_json = root;
    return FR_ERR_OK;
}

fr_err frc_doc_dump(const frc_doc *doc, char **out, size_t *outlen)
{
    void *root;
    fr_err e = frc_doc_to_json(doc, &root);
    if (e) return e;
    char *text = json_dumps(root, FRC__DUMP_FLAGS);
    json_decref(root);
    if (!text) return FR_ERR_NOMEM;
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return FR_ERR_NOMEM;
    }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    *out = withnl;
    if (outlen) *outlen = n + 1;
    return FR_ERR_OK;
}
