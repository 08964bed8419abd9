/*
 * doc_parse.c - the reading half of the JSON document codec. Nothing is trusted: the text must
 * be JSON (errors give line, column and byte), the document must say it is a fastrun cache of
 * a version this build reads, every limit (FRC_MAX_*) and the nesting depth are enforced,
 * unknown fields are errors, every key must be the canonical key a worker would compute, every
 * category id must be the id of its fingerprint, and the digest must match the content. Errors
 * name the origin and the path of the offending value, e.g.
 *   "cache.json: categories[0].entries[2].results[1].median_ms: must be a positive number".
 * The values and their fields are read here; the checks they share with the writer live in
 * check.c.
 */
#include "cache_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets d to "origin: <message>" and returns e. */
static fr_err fail(fr_diag *d, fr_err e, const char *origin, const char *fmt, ...) FR_PRINTF(4, 5);
static fr_err fail(fr_diag *d, fr_err e, const char *origin, const char *fmt, ...)
{
    if (!d) return e;
    int n = snprintf(d->msg, sizeof d->msg, "%s: ", origin);
    if (n < 0 || (size_t)n >= sizeof d->msg) return e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg + n, sizeof d->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return e;
}

static fr_err dup_into(const char *s, char **out)
{
    bool ok = true;
    *out = frc__strdup(s, &ok);
    return ok ? FR_ERR_OK : FR_ERR_NOMEM;
}

/* ---------------------------------------------------------------------------------------------
 * Results and fingerprints
 * ------------------------------------------------------------------------------------------- */
static fr_err attrs_from_json(const json_t *o, const char *path, unsigned *out, fr_diag *d)
{
    char sub[FRC__PATH_MAX], at[FRC__PATH_MAX];
    frc__path_field(sub, path, "attributes");
    const json_t *a = json_object_get(o, "attributes");
    if (!a) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub);
    if (!json_is_array(a))
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be an array of attribute names", sub);
    size_t i;
    const json_t *x;
    *out = 0;
    json_array_foreach(a, i, x)
    {
        unsigned bit;
        frc__path_index(at, sub, i);
        if (!json_is_string(x))
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be an attribute name", at);
        if (fr_attr_parse(json_string_value(x), &bit))
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: unknown attribute '%s'", at,
                               json_string_value(x));
        if (*out & bit)
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: '%s' listed twice", at,
                               json_string_value(x));
        *out |= bit;
    }
    return FR_ERR_OK;
}

static const char *const result_fields[] = {"algorithm", "attributes", "workspace",
                                            "reports",   "failure",    "median_ms",
                                            "min_ms",    "samples",    "spread_ms"};
#define FIGURE_FIELDS_FROM 5 /* result_fields[5..] are the figures a failure must not have */

static fr_err result_fields_from_json(const json_t *o, const char *path, frc_result *r, fr_diag *d)
{
    const size_t nf = sizeof result_fields / sizeof result_fields[0];
    const char *name, *failure;
    json_int_t ws, reports, samples = 0;
    fr_err e;
    if ((e = frc__json_object(o, path, d)) || (e = frc__json_only(o, path, result_fields, nf, d)) ||
        (e = frc__json_str(o, "algorithm", path, true, &name, d)) ||
        (e = attrs_from_json(o, path, &r->attrs, d)) ||
        (e = frc__json_int(o, "workspace", path, true, 0, INT64_MAX, 0, &ws, d)) ||
        (e = frc__json_int(o, "reports", path, false, 1, INT64_MAX, 1, &reports, d)) ||
        (e = frc__json_str(o, "failure", path, false, &failure, d)))
        return e;
    r->workspace = (uint64_t)ws;
    r->reports = reports;
    if (failure) {
        for (size_t i = FIGURE_FIELDS_FROM; i < nf; i++) {
            if (!json_object_get(o, result_fields[i])) continue;
            char sub[FRC__PATH_MAX];
            frc__path_field(sub, path, result_fields[i]);
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: a failed result carries no figures", sub);
        }
    } else if ((e = frc__json_num(o, "median_ms", path, true, "a positive number", &r->median_ms,
                                  d)) ||
               (e = frc__json_num(o, "min_ms", path, true, "a positive number", &r->min_ms, d)) ||
               (e = frc__json_int(o, "samples", path, true, 1, INT64_MAX, 0, &samples, d)) ||
               (e = frc__json_num(o, "spread_ms", path, false, "a non-negative number",
                                  &r->spread_ms, d))) {
        return e;
    }
    r->samples = samples;
    if ((e = dup_into(name, &r->algorithm)) || (e = dup_into(failure, &r->failure))) return e;
    return frc__result_check(r, path, d);
}

fr_err frc_result_from_json(const void *json, const char *path, frc_result *out, fr_diag *d)
{
    frc_result r;
    memset(&r, 0, sizeof r);
    fr_err e = result_fields_from_json(json, path ? path : "", &r, d);
    if (e) {
        frc_result_cleanup(&r);
        return e;
    }
    *out = r;
    return FR_ERR_OK;
}

static const char *const fp_fields[] = {"format_version", "kernel_set", "cpu",      "isa",
                                        "threads",        "blas",       "blas_core"};

fr_err frc_fingerprint_from_json(const void *json, const char *path, frc_fingerprint *out,
                                 fr_diag *d)
{
    const json_t *o = json;
    const char *cpu, *isa, *blas, *core;
    json_int_t fv, ks, th;
    frc_fingerprint fp;
    memset(&fp, 0, sizeof fp);
    if (!path) path = "";
    fr_err e;
    if ((e = frc__json_object(o, path, d)) ||
        (e = frc__json_only(o, path, fp_fields, sizeof fp_fields / sizeof fp_fields[0], d)) ||
        (e = frc__json_int(o, "format_version", path, true, 1, INT32_MAX, 0, &fv, d)) ||
        (e = frc__json_int(o, "kernel_set", path, true, 1, INT32_MAX, 0, &ks, d)) ||
        (e = frc__json_str(o, "cpu", path, true, &cpu, d)) ||
        (e = frc__json_str(o, "isa", path, true, &isa, d)) ||
        (e = frc__json_int(o, "threads", path, true, 1, FRC_MAX_THREADS, 0, &th, d)) ||
        (e = frc__json_str(o, "blas", path, true, &blas, d)) ||
        (e = frc__json_str(o, "blas_core", path, true, &core, d)))
        return e;
    fp.format_version = (int)fv;
    fp.kernel_set = (int)ks;
    fp.threads = (int)th;
    if ((e = dup_into(cpu, &fp.cpu)) || (e = dup_into(isa, &fp.isa)) ||
        (e = dup_into(blas, &fp.blas)) || (e = dup_into(core, &fp.blas_core)) ||
        (e = frc__fingerprint_check(&fp, path, d))) {
        frc_fingerprint_cleanup(&fp);
        return e;
    }
    *out = fp;
    return FR_ERR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Documents
 * ------------------------------------------------------------------------------------------- */
static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const frc_entry *)a)->key, ((const frc_entry *)b)->key);
}

static int cat_cmp(const void *a, const void *b)
{
    return strcmp(((const frc_category *)a)->id, ((const frc_category *)b)->id);
}

static const char *const entry_fields[] = {"key", "results", "heuristic"};

static fr_err entry_from_json(const json_t *o, const char *path, frc_entry *ent, fr_diag *d)
{
    char sub[FRC__PATH_MAX], at[FRC__PATH_MAX];
    const char *key;
    fr_op op;
    bool wp;
    fr_diag why;
    fr_err e;
    if ((e = frc__json_object(o, path, d)) || (e = frc__json_only(o, path, entry_fields, 3, d)) ||
        (e = frc__json_str(o, "key", path, true, &key, d)))
        return e;
    frc__path_field(sub, path, "key");
    if (fr_op_parse_key(key, &op, &wp, &why))
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s: %s", sub, why.msg);
    if ((e = dup_into(key, &ent->key))) return e;
    const char *heuristic = NULL;
    if ((e = frc__json_str(o, "heuristic", path, false, &heuristic, d))) return e;
    if (heuristic) {
        frc__path_field(sub, path, "heuristic");
        if ((e = frc__name_check(heuristic, sub, d)) || (e = dup_into(heuristic, &ent->heuristic)))
            return e;
    }
    frc__path_field(sub, path, "results");
    const json_t *arr = json_object_get(o, "results");
    if (!arr) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub);
    if (!json_is_array(arr)) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be an array", sub);
    size_t n = json_array_size(arr);
    if (n == 0) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must hold at least one result", sub);
    if (n > FRC_MAX_RESULTS_PER_ENTRY)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: %zu results exceed the limit of %d", sub, n,
                           FRC_MAX_RESULTS_PER_ENTRY);
    if (!(ent->results = calloc(n, sizeof *ent->results))) return FR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        frc__path_index(at, sub, i);
        if ((e = frc_result_from_json(json_array_get(arr, i), at, &ent->results[i], d))) return e;
        ent->nresults++;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ent->results[j].algorithm, ent->results[i].algorithm) == 0)
                return fr_diag_set(d, FR_ERR_CORRUPT, "%s.algorithm: '%s' already in [%zu]", at,
                                   ent->results[i].algorithm, j);
    }
    frc_rank(ent->results, ent->nresults);
    return FR_ERR_OK;
}

static const char *const category_fields[] = {"id", "fingerprint", "entries"};

static fr_err category_from_json(const json_t *o, const char *path, frc_category *cat, fr_diag *d)
{
    char sub[FRC__PATH_MAX], at[FRC__PATH_MAX];
    const char *id;
    fr_err e;
    if ((e = frc__json_object(o, path, d)) ||
        (e = frc__json_only(o, path, category_fields, 3, d)) ||
        (e = frc__json_str(o, "id", path, true, &id, d)))
        return e;
    frc__path_field(sub, path, "fingerprint");
    const json_t *fp = json_object_get(o, "fingerprint");
    if (!fp) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub);
    if ((e = frc_fingerprint_from_json(fp, sub, &cat->fp, d))) return e;
    frc_category_id(&cat->fp, cat->id);
    if (strcmp(id, cat->id) != 0) {
        frc__path_field(sub, path, "id");
        return fr_diag_set(d, FR_ERR_CORRUPT,
                           "%s: '%.20s' is not the id of this fingerprint (expected '%s')", sub, id,
                           cat->id);
    }
    frc__path_field(sub, path, "entries");
    const json_t *arr = json_object_get(o, "entries");
    if (!arr) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub);
    if (!json_is_array(arr)) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be an array", sub);
    size_t n = json_array_size(arr);
    if (n > FRC_MAX_ENTRIES)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: %zu entries exceed the limit of %d", sub, n,
                           FRC_MAX_ENTRIES);
    if (!(cat->entries = calloc(n ? n : 1, sizeof *cat->entries))) return FR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        frc__path_index(at, sub, i);
        cat->nentries++; /* counted first so that cleanup frees a half-read entry */
        if ((e = entry_from_json(json_array_get(arr, i), at, &cat->entries[i], d))) return e;
    }
    qsort(cat->entries, n, sizeof *cat->entries, entry_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(cat->entries[i - 1].key, cat->entries[i].key) == 0)
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: key '%s' appears twice", sub,
                               cat->entries[i].key);
    return FR_ERR_OK;
}

static fr_err categories_from_json(const json_t *arr, frc_doc *doc, fr_diag *d)
{
    char at[FRC__PATH_MAX];
    if (!arr) return fr_diag_set(d, FR_ERR_CORRUPT, "categories: missing");
    if (!json_is_array(arr)) return fr_diag_set(d, FR_ERR_CORRUPT, "categories: must be an array");
    size_t n = json_array_size(arr);
    if (n > FRC_MAX_CATEGORIES)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "categories: %zu categories exceed the limit of %d",
                           n, FRC_MAX_CATEGORIES);
    if (!(doc->cats = calloc(n ? n : 1, sizeof *doc->cats))) return FR_ERR_NOMEM;
    fr_err e;
    for (size_t i = 0; i < n; i++) {
        frc__path_index(at, "categories", i);
        doc->ncats++;
        if ((e = category_from_json(json_array_get(arr, i), at, &doc->cats[i], d))) return e;
    }
    qsort(doc->cats, n, sizeof *doc->cats, cat_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(doc->cats[i - 1].id, doc->cats[i].id) == 0)
            return fr_diag_set(d, FR_ERR_CORRUPT, "categories: category '%s' appears twice",
                               doc->cats[i].id);
    return FR_ERR_OK;
}

/* The checks that tell a fastrun cache from any other JSON, before anything else is read. */
static fr_err identify(const json_t *root, const char *origin, fr_diag *d)
{
    if (!json_is_object(root))
        return fail(d, FR_ERR_CORRUPT, origin,
                    "not a fastrun cache document (the top level is not an object)");
    const json_t *f = json_object_get(root, "format");
    if (!json_is_string(f))
        return fail(d, FR_ERR_CORRUPT, origin,
                    "not a fastrun cache document (no \"format\": \"%s\" field)", FRC_FORMAT_NAME);
    if (strcmp(json_string_value(f), FRC_FORMAT_NAME) != 0)
        return fail(d, FR_ERR_CORRUPT, origin,
                    "not a fastrun cache document (format is \"%.60s\", expected \"%s\")",
                    json_string_value(f), FRC_FORMAT_NAME);
    const json_t *v = json_object_get(root, "version");
    if (!json_is_integer(v))
        return fail(d, FR_ERR_CORRUPT, origin, "version: missing or not an integer");
    if (json_integer_value(v) != FRC_FORMAT_VERSION)
        return fail(d, FR_ERR_VERSION, origin,
                    "unsupported cache format version %lld (this fastrun reads version %d)",
                    (long long)json_integer_value(v), FRC_FORMAT_VERSION);
    return FR_ERR_OK;
}

static const char *const doc_fields[] = {"format", "version", "revision", "digest", "categories"};

static fr_err doc_from_json(const json_t *root, const char *origin, bool require_digest,
                            frc_doc *doc, fr_diag *d)
{
    fr_err e;
    json_int_t revision;
    const char *digest;
    char actual[72];
    if ((e = identify(root, origin, d))) return e;
    if ((e = frc__json_limits(root, "", 1, d)) ||
        (e = frc__json_only(root, "", doc_fields, 5, d)) ||
        (e = frc__json_int(root, "revision", "", false, 0, INT64_MAX, 0, &revision, d)) ||
        (e = frc__json_str(root, "digest", "", require_digest, &digest, d)))
        goto prefixed;
    doc->revision = revision;
    const json_t *cats = json_object_get(root, "categories");
    if (digest && cats) {
        if ((e = frc__digest_of(cats, actual))) return e;
        if (strcmp(digest, actual) != 0)
            return fail(d, FR_ERR_CORRUPT, origin,
                        "digest mismatch: the document declares %.24s... but its categories hash "
                        "to %.24s...; it was changed or damaged after it was written",
                        digest, actual);
    }
    if ((e = categories_from_json(cats, doc, d))) goto prefixed;
    return FR_ERR_OK;
prefixed:
    if (e != FR_ERR_NOMEM) fr_diag_prefix(d, "%s", origin);
    return e;
}

fr_err frc_doc_from_json(const void *json_root, const char *origin, bool require_digest,
                         frc_doc *out, fr_diag *d)
{
    frc_doc doc;
    frc_doc_init(&doc);
    if (!origin) origin = "document";
    fr_err e = doc_from_json(json_root, origin, require_digest, &doc, d);
    if (e) {
        if (e == FR_ERR_NOMEM) fail(d, e, origin, "out of memory while reading");
        frc_doc_cleanup(&doc);
        frc_doc_init(out);
        return e;
    }
    *out = doc;
    return FR_ERR_OK;
}

fr_err frc_doc_parse(const char *buf, size_t len, const char *origin, frc_doc *out, fr_diag *d)
{
    frc_doc_init(out);
    if (!origin) origin = "document";
    if (len == 0) return fail(d, FR_ERR_CORRUPT, origin, "empty document (0 bytes)");
    if (len > FRC_MAX_DOC_BYTES)
        return fail(d, FR_ERR_TOO_LARGE, origin, "document of %zu bytes exceeds the limit of %d",
                    len, FRC_MAX_DOC_BYTES);
    json_error_t err;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        /* An error at the very end (even "invalid token" for a number cut short) is the text
         * stopping early: say so, since that is what a reader must fix. */
        bool cut = json_error_code(&err) == json_error_premature_end_of_input ||
                   (err.position >= 0 && (size_t)err.position >= len);
        return fail(d, FR_ERR_CORRUPT, origin, "line %d column %d (byte %d): %s%s", err.line,
                    err.column, err.position, cut ? "truncated document: " : "", err.text);
    }
    fr_err e = frc_doc_from_json(root, origin, true, out, d);
    json_decref(root);
    return e;
}
