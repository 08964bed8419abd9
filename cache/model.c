/*
 * model.c - the cache's data model: init/cleanup/copy of documents, results and fingerprints,
 * the canonical fingerprint text and the category id derived from it, and the sorted lookups
 * and insertions (categories by id, entries by key) that keep a document canonical in memory.
 */
#include "cache_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *frc__strdup(const char *s, bool *ok)
{
    if (!s) return NULL;
    char *p = strdup(s);
    if (!p) *ok = false;
    return p;
}

void frc_doc_init(frc_doc *doc)
{
    memset(doc, 0, sizeof *doc);
}

void frc_result_cleanup(frc_result *r)
{
    if (!r) return;
    free(r->algorithm);
    free(r->failure);
    memset(r, 0, sizeof *r);
}

void frc_fingerprint_cleanup(frc_fingerprint *fp)
{
    if (!fp) return;
    free(fp->cpu);
    free(fp->isa);
    free(fp->blas);
    free(fp->blas_core);
    memset(fp, 0, sizeof *fp);
}

void frc__entry_cleanup(frc_entry *e)
{
    for (size_t i = 0; i < e->nresults; i++)
        frc_result_cleanup(&e->results[i]);
    free(e->results);
    free(e->key);
    free(e->heuristic);
    memset(e, 0, sizeof *e);
}

fr_err frc_entry_set_heuristic(frc_entry *ent, const char *algorithm)
{
    char *copy = NULL;
    if (algorithm) {
        bool ok = true;
        if (frc__name_check(algorithm, "heuristic", NULL)) return FR_ERR_INVALID_ARGUMENT;
        if (!(copy = frc__strdup(algorithm, &ok))) return FR_ERR_NOMEM;
    }
    free(ent->heuristic);
    ent->heuristic = copy;
    return FR_ERR_OK;
}

void frc__category_cleanup(frc_category *c)
{
    for (size_t i = 0; i < c->nentries; i++)
        frc__entry_cleanup(&c->entries[i]);
    free(c->entries);
    frc_fingerprint_cleanup(&c->fp);
    memset(c, 0, sizeof *c);
}

void frc_doc_cleanup(frc_doc *doc)
{
    if (!doc) return;
    for (size_t i = 0; i < doc->ncats; i++)
        frc__category_cleanup(&doc->cats[i]);
    free(doc->cats);
    memset(doc, 0, sizeof *doc);
}

/* Unknown (NULL) strings become "unknown", as the fingerprint's definition says. */
static char *dup_known(const char *s, bool *ok)
{
    return frc__strdup(s ? s : "unknown", ok);
}

fr_err frc_fingerprint_copy(const frc_fingerprint *src, frc_fingerprint *dst)
{
    bool ok = true;
    frc_fingerprint t = {
        .format_version = src->format_version,
        .kernel_set = src->kernel_set,
        .threads = src->threads,
    };
    t.cpu = dup_known(src->cpu, &ok);
    t.isa = dup_known(src->isa, &ok);
    t.blas = dup_known(src->blas, &ok);
    t.blas_core = dup_known(src->blas_core, &ok);
    if (!ok) {
        frc_fingerprint_cleanup(&t);
        memset(dst, 0, sizeof *dst);
        return FR_ERR_NOMEM;
    }
    *dst = t;
    return FR_ERR_OK;
}

fr_err frc_result_copy(const frc_result *src, frc_result *dst)
{
    bool ok = true;
    frc_result t = *src;
    t.algorithm = frc__strdup(src->algorithm, &ok);
    t.failure = frc__strdup(src->failure, &ok);
    if (!ok) {
        frc_result_cleanup(&t);
        memset(dst, 0, sizeof *dst);
        return FR_ERR_NOMEM;
    }
    *dst = t;
    return FR_ERR_OK;
}

/* Appends s to buf at *used with ';' and '\' escaped by a backslash, so that no string can
 * imitate a field separator and two different fingerprints never share a text. */
static void put_escaped(char *buf, size_t len, size_t *used, const char *s)
{
    for (const char *p = s ? s : "unknown"; *p; p++) {
        bool esc = *p == ';' || *p == '\\';
        if (*used + (esc ? 2 : 1) >= len) break;
        if (esc) buf[(*used)++] = '\\';
        buf[(*used)++] = *p;
    }
    buf[*used] = '\0';
}

/* Appends a literal separator and field name, unescaped. */
static void put_text(char *buf, size_t len, size_t *used, const char *s)
{
    for (; *s && *used + 1 < len; s++)
        buf[(*used)++] = *s;
    buf[*used] = '\0';
}

static void put_int(char *buf, size_t len, size_t *used, int v)
{
    char num[16];
    snprintf(num, sizeof num, "%d", v);
    put_text(buf, len, used, num);
}

void frc_fingerprint_text(const frc_fingerprint *fp, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0) return;
    buf[0] = '\0';
    put_text(buf, len, &used, "fastrun=");
    put_int(buf, len, &used, fp->format_version);
    put_text(buf, len, &used, ";kernels=");
    put_int(buf, len, &used, fp->kernel_set);
    put_text(buf, len, &used, ";cpu=");
    put_escaped(buf, len, &used, fp->cpu);
    put_text(buf, len, &used, ";isa=");
    put_escaped(buf, len, &used, fp->isa);
    put_text(buf, len, &used, ";threads=");
    put_int(buf, len, &used, fp->threads);
    put_text(buf, len, &used, ";blas=");
    put_escaped(buf, len, &used, fp->blas);
    put_text(buf, len, &used, ";blas_core=");
    put_escaped(buf, len, &used, fp->blas_core);
}

void frc_category_id(const frc_fingerprint *fp, char out[17])
{
    char text[FRC_FINGERPRINT_TEXT_MAX];
    char hex[65];
    frc_fingerprint_text(fp, text, sizeof text);
    frc_sha256_hex(text, strlen(text), hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* Position of id among doc's sorted categories, or where it would go. */
static size_t cat_slot(const frc_doc *doc, const char *id, bool *found)
{
    size_t lo = 0, hi = doc->ncats;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(doc->cats[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

fr_err frc_doc_category(frc_doc *doc, const frc_fingerprint *fp, frc_category **out)
{
    frc_category c;
    memset(&c, 0, sizeof c);
    fr_err e = frc_fingerprint_copy(fp, &c.fp);
    if (e) return e;
    if ((e = frc__fingerprint_check(&c.fp, "fingerprint", NULL))) {
        frc_fingerprint_cleanup(&c.fp);
        return FR_ERR_INVALID_ARGUMENT;
    }
    frc_category_id(&c.fp, c.id);
    bool found;
    size_t at = cat_slot(doc, c.id, &found);
    if (found) {
        frc_fingerprint_cleanup(&c.fp);
        *out = &doc->cats[at];
        return FR_ERR_OK;
    }
    if (doc->ncats >= FRC_MAX_CATEGORIES) {
        frc_fingerprint_cleanup(&c.fp);
        return FR_ERR_TOO_LARGE;
    }
    frc_category *grown = realloc(doc->cats, (doc->ncats + 1) * sizeof *grown);
    if (!grown) {
        frc_fingerprint_cleanup(&c.fp);
        return FR_ERR_NOMEM;
    }
    doc->cats = grown;
    memmove(&grown[at + 1], &grown[at], (doc->ncats - at) * sizeof *grown);
    grown[at] = c;
    doc->ncats++;
    *out = &grown[at];
    return FR_ERR_OK;
}

frc_category *frc_doc_find_category(const frc_doc *doc, const char *id)
{
    bool found;
    size_t at = cat_slot(doc, id, &found);
    return found ? &doc->cats[at] : NULL;
}

size_t frc__entry_slot(const frc_category *cat, const char *key, bool *found)
{
    size_t lo = 0, hi = cat->nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(cat->entries[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

frc_entry *frc_category_find(const frc_category *cat, const char *key)
{
    if (!cat || !key) return NULL;
    bool found;
    size_t at = frc__entry_slot(cat, key, &found);
    return found ? &cat->entries[at] : NULL;
}

/* Deep copies results into a new ranked array after checking them; failures lose figures. */
static fr_err copy_results(const frc_result *results, size_t n, frc_result **out)
{
    if (n == 0) return FR_ERR_INVALID_ARGUMENT;
    if (n > FRC_MAX_RESULTS_PER_ENTRY) return FR_ERR_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        if (frc__result_check(&results[i], "result", NULL)) return FR_ERR_INVALID_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (strcmp(results[i].algorithm, results[j].algorithm) == 0)
                return FR_ERR_INVALID_ARGUMENT;
    }
    frc_result *copy = calloc(n, sizeof *copy);
    if (!copy) return FR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (frc_result_copy(&results[i], &copy[i])) {
            for (size_t j = 0; j < i; j++)
                frc_result_cleanup(&copy[j]);
            free(copy);
            return FR_ERR_NOMEM;
        }
        if (copy[i].failure) {
            copy[i].median_ms = copy[i].min_ms = copy[i].spread_ms = 0;
            copy[i].samples = 0;
        }
    }
    frc_rank(copy, n);
    *out = copy;
    return FR_ERR_OK;
}

fr_err frc_category_put(frc_category *cat, const char *key, const frc_result *results, size_t n)
{
    fr_op op;
    bool wp;
    if (!key || fr_op_parse_key(key, &op, &wp, NULL)) return FR_ERR_INVALID_ARGUMENT;
    frc_result *copy;
    fr_err e = copy_results(results, n, &copy);
    if (e) return e;
    bool found;
    size_t at = frc__entry_slot(cat, key, &found);
    if (found) {
        frc_entry *ent = &cat->entries[at];
        for (size_t i = 0; i < ent->nresults; i++)
            frc_result_cleanup(&ent->results[i]);
        free(ent->results);
        ent->results = copy;
        ent->nresults = n;
        return FR_ERR_OK;
    }
    bool ok = true;
    frc_entry ent = {.key = frc__strdup(key, &ok), .results = copy, .nresults = n};
    frc_entry *grown = NULL;
    if (!ok)
        e = FR_ERR_NOMEM;
    else if (cat->nentries >= FRC_MAX_ENTRIES)
        e = FR_ERR_TOO_LARGE;
    else if (!(grown = realloc(cat->entries, (cat->nentries + 1) * sizeof *grown)))
        e = FR_ERR_NOMEM;
    if (e) {
        frc__entry_cleanup(&ent);
        return e;
    }
    cat->entries = grown;
    memmove(&grown[at + 1], &grown[at], (cat->nentries - at) * sizeof *grown);
    grown[at] = ent;
    cat->nentries++;
    return FR_ERR_OK;
}
