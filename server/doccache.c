/*
 * doccache.c - merged documents built once per change and kept in memory, never trusted without
 * asking the database.
 *
 * Two levels, both reference-counted so a request keeps what it uses while others replace it:
 *   category documents: one category's merged results at one revision, loaded in one snapshot
 *     (category_get + category_profiles); used by downloads and by coverage;
 *   blobs: the canonical bytes served for one (category set, policy), with their ETag.
 * The caller first reads the current revisions (frs_docs_revisions, one indexed SELECT); an
 * entry is used only if its revisions are those, so several servers on one database never
 * serve a stale document. Memory is bounded: MAX_CATS category documents and max_bytes of
 * blobs, least recently used evicted first. Two requests that miss at once may both build the
 * same document; the second replaces the first, which is harmless and keeps the code simple.
 */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CATS 256
#define MAX_BLOBS 256
#define BLOB_KEY_LEN (FRS_MAX_CATEGORIES_PER_REQUEST * 17 + 64)

typedef struct {
    char id[17];
    frs_catdoc *cd;
    uint64_t used;
} cat_slot;

typedef struct {
    char key[BLOB_KEY_LEN];
    frs_blob *blob;
    uint64_t used;
} blob_slot;

struct frs_doccache {
    frs_revchecks *checks;
    pthread_mutex_t mu;
    cat_slot cats[MAX_CATS];
    blob_slot blobs[MAX_BLOBS];
    size_t blob_bytes, max_bytes;
    uint64_t tick;
};

fr_err frs_doccache_new(size_t max_bytes, frs_doccache **out)
{
    frs_doccache *c = calloc(1, sizeof *c);
    if (!c) return FR_ERR_NOMEM;
    if (frs_revchecks_new(&c->checks) != FR_ERR_OK) {
        free(c);
        return FR_ERR_NOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->max_bytes = max_bytes;
    *out = c;
    return FR_ERR_OK;
}

void frs_doccache_free(frs_doccache *c)
{
    if (!c) return;
    for (size_t i = 0; i < MAX_CATS; i++)
        frs_catdoc_release(c->cats[i].cd);
    for (size_t i = 0; i < MAX_BLOBS; i++)
        frs_blob_release(c->blobs[i].blob);
    frs_revchecks_free(c->checks);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void frs_catdoc_release(frs_catdoc *cd)
{
    if (!cd || atomic_fetch_sub(&cd->refs, 1) != 1) return;
    frc_doc_cleanup(&cd->doc);
    free(cd);
}

void frs_blob_release(void *p)
{
    frs_blob *b = p;
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1) return;
    free(b->data);
    free(b);
}

/* ---------------------------------------------------------------------------------------------
 * Revisions and ETag
 * ------------------------------------------------------------------------------------------- */
/* The revision query itself (frs_revision_query for revcheck.c). */
static fr_err query_revisions(void *ctx, frs_docreq *q, fr_diag *d)
{
    frs_server *s = ctx;
    frs_count(&s->metrics, revision_queries);
    /* A text-array parameter ("{id,id}") of ids already checked to be hex digits. */
    char array[FRS_MAX_CATEGORIES_PER_REQUEST * 17 + 3] = "{";
    for (size_t i = 0, used = 1; i < q->n; i++)
        used += (size_t)snprintf(array + used, sizeof array - used, "%s%s", q->ids[i],
                                 i + 1 < q->n ? "," : "}");
    frs_conn *c;
    PGresult *res;
    const char *params[] = {array};
    fr_err e = frs_db_borrow(s->db, &c, d);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_category_revisions, 1, params, &res, d);
    frs_db_return(s->db, c);
    if (e != FR_ERR_OK) return e;
    for (size_t i = 0; i < q->n; i++)
        q->revisions[i] = -1;
    for (int row = 0; row < PQntuples(res); row++)
        for (size_t i = 0; i < q->n; i++)
            if (strcmp(q->ids[i], PQgetvalue(res, row, 0)) == 0)
                q->revisions[i] = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    PQclear(res);
    for (size_t i = 0; i < q->n; i++)
        if (q->revisions[i] < 0)
            return fr_diag_set(d, FR_ERR_NOT_FOUND, "category %s: no results uploaded yet",
                               q->ids[i]);
    return FR_ERR_OK;
}

fr_err frs_docs_revisions(frs_server *s, frs_docreq *q, fr_diag *d)
{
    return frs_revchecks_run(s->docs->checks, q, query_revisions, s, d);
}

/* "ids|policy": what a blob is for, whatever its revisions. */
static void blob_key(const frs_docreq *q, char *out, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; i < q->n && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s,", q->ids[i]);
        if (n > 0) used += (size_t)n;
    }
    if (used < len)
        snprintf(out + used, len - used, "|req=%x;forb=%x;ws=%llu", q->policy.required,
                 q->policy.forbidden, (unsigned long long)q->policy.max_workspace);
}

void frs_docs_etag(const frs_docreq *q, char out[40])
{
    char text[BLOB_KEY_LEN + FRS_MAX_CATEGORIES_PER_REQUEST * 21];
    char hex[65];
    blob_key(q, text, sizeof text);
    for (size_t i = 0; i < q->n; i++) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "|%lld", (long long)q->revisions[i]);
    }
    frc_sha256_hex(text, strlen(text), hex);
    snprintf(out, 40, "\"%.32s\"", hex);
}

/* ---------------------------------------------------------------------------------------------
 * Category documents
 * ------------------------------------------------------------------------------------------- */
/* Adds the results of rows [first, end) (one key) to cat. */
static fr_err put_key(frc_category *cat, PGresult *res, int first, int end, const char *id,
                      fr_diag *d)
{
    size_t n = (size_t)(end - first);
    frc_result *results = calloc(n, sizeof *results);
    fr_err e = results ? FR_ERR_OK : FR_ERR_NOMEM;
    for (size_t i = 0; e == FR_ERR_OK && i < n; i++) {
        json_t *j = json_loads(PQgetvalue(res, first + (int)i, 1), 0, NULL);
        e = j ? frc_result_from_json(j, "stored profile", &results[i], d) : FR_ERR_CORRUPT;
        json_decref(j);
    }
    if (e == FR_ERR_OK) e = frc_category_put(cat, PQgetvalue(res, first, 0), results, n);
    for (size_t i = 0; results && i < n; i++)
        frc_result_cleanup(&results[i]);
    free(results);
    if (e != FR_ERR_OK) fr_diag_prefix(d, "category %s key '%s'", id, PQgetvalue(res, first, 0));
    return e;
}

/* Reads one category in one snapshot into cd. */
static fr_err load_category(frs_conn *c, const char *id, frs_catdoc *cd, fr_diag *d)
{
    const char *params[] = {id};
    PGresult *head = NULL, *rows = NULL, *picks = NULL;
    frc_fingerprint fp = {0};
    frc_category *cat;
    fr_err e = frs_db_begin(c, true, d);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_category_get, 1, params, &head, d);
    if (e == FR_ERR_OK && PQntuples(head) != 1)
        e = fr_diag_set(d, FR_ERR_NOT_FOUND, "category %s: no results uploaded yet", id);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_category_profiles, 1, params, &rows, d);
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_category_heuristics, 1, params, &picks, d);
    if (e == FR_ERR_OK) e = frs_db_commit(c, d);
    if (e == FR_ERR_OK) {
        json_t *j = json_loads(PQgetvalue(head, 0, 0), 0, NULL);
        e = j ? frc_fingerprint_from_json(j, "stored fingerprint", &fp, d) : FR_ERR_CORRUPT;
        json_decref(j);
        cd->revision = strtoll(PQgetvalue(head, 0, 1), NULL, 10);
    }
    if (e == FR_ERR_OK) e = frc_doc_category(&cd->doc, &fp, &cat);
    if (e == FR_ERR_OK && strcmp(cat->id, id) != 0)
        e = fr_diag_set(d, FR_ERR_INTERNAL, "category %s: stored fingerprint hashes to %s", id,
                        cat->id);
    for (int first = 0, i = 1; e == FR_ERR_OK && rows && first < PQntuples(rows); i++) {
        if (i < PQntuples(rows) && !strcmp(PQgetvalue(rows, i, 0), PQgetvalue(rows, first, 0)))
            continue;
        e = put_key(cat, rows, first, i, id, d);
        first = i;
    }
    /* A pick for a key with no profile (none stored yet) has no entry to go with. */
    for (int i = 0; e == FR_ERR_OK && picks && i < PQntuples(picks); i++) {
        frc_entry *ent = frc_category_find(cat, PQgetvalue(picks, i, 0));
        if (ent) e = frc_entry_set_heuristic(ent, PQgetvalue(picks, i, 1));
    }
    frc_fingerprint_cleanup(&fp);
    PQclear(head);
    PQclear(rows);
    PQclear(picks);
    return e;
}

fr_err frs_docs_category(frs_server *s, const char *id, int64_t min_revision, frs_catdoc **out,
                         fr_diag *d)
{
    frs_doccache *dc = s->docs;
    pthread_mutex_lock(&dc->mu);
    for (size_t i = 0; i < MAX_CATS; i++) {
        cat_slot *sl = &dc->cats[i];
        if (sl->cd && !strcmp(sl->id, id) && sl->cd->revision >= min_revision) {
            atomic_fetch_add(&sl->cd->refs, 1);
            sl->used = ++dc->tick;
            *out = sl->cd;
            pthread_mutex_unlock(&dc->mu);
            return FR_ERR_OK;
        }
    }
    pthread_mutex_unlock(&dc->mu);

    frs_catdoc *cd = calloc(1, sizeof *cd);
    if (!cd) return FR_ERR_NOMEM;
    frc_doc_init(&cd->doc);
    atomic_init(&cd->refs, 1);
    frs_conn *c;
    fr_err e = frs_db_borrow(s->db, &c, d);
    if (e == FR_ERR_OK) {
        e = load_category(c, id, cd, d);
        frs_db_return(s->db, c);
    }
    if (e != FR_ERR_OK) {
        frs_catdoc_release(cd);
        return e;
    }
    /* Keep it: replace this id's slot, else a free one, else the least recently used. */
    pthread_mutex_lock(&dc->mu);
    cat_slot *victim = NULL;
    for (size_t i = 0; i < MAX_CATS && !victim; i++)
        if (dc->cats[i].cd && !strcmp(dc->cats[i].id, id)) victim = &dc->cats[i];
    for (size_t i = 0; i < MAX_CATS && !victim; i++)
        if (!dc->cats[i].cd) victim = &dc->cats[i];
    if (!victim) {
        victim = &dc->cats[0];
        for (size_t i = 1; i < MAX_CATS; i++)
            if (dc->cats[i].used < victim->used) victim = &dc->cats[i];
    }
    frs_catdoc_release(victim->cd);
    snprintf(victim->id, sizeof victim->id, "%s", id);
    victim->cd = cd;
    victim->used = ++dc->tick;
    atomic_fetch_add(&cd->refs, 1); /* one for the cache, one for the caller */
    pthread_mutex_unlock(&dc->mu);
    *out = cd;
    return FR_ERR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Served bytes
 * ------------------------------------------------------------------------------------------- */
/* Builds the filtered document of q from its category documents. */
static fr_err build_blob(frs_server *s, const frs_docreq *q, frs_blob **out, fr_diag *d)
{
    frs_catdoc *cds[FRS_MAX_CATEGORIES_PER_REQUEST] = {0};
    frs_docreq actual = *q; /* the revisions actually loaded (>= q's) */
    frc_doc doc;
    frc_doc_init(&doc);
    fr_err e = FR_ERR_OK;
    doc.cats = calloc(q->n, sizeof *doc.cats);
    if (!doc.cats) e = FR_ERR_NOMEM;
    for (size_t i = 0; e == FR_ERR_OK && i < q->n; i++) {
        e = frs_docs_category(s, q->ids[i], q->revisions[i], &cds[i], d);
        if (e != FR_ERR_OK) break;
        actual.revisions[i] = cds[i]->revision;
        doc.revision += cds[i]->revision;
        frc_doc filtered;
        frc_doc_init(&filtered);
        e = frc_doc_filter(&cds[i]->doc, &q->policy, &filtered);
        /* Move the filtered category into doc (ids are sorted, as the format wants). */
        if (e == FR_ERR_OK && filtered.ncats == 1) {
            doc.cats[doc.ncats++] = filtered.cats[0];
            filtered.ncats = 0;
        }
        frc_doc_cleanup(&filtered);
    }
    char *text = NULL;
    size_t len = 0;
    int64_t revision = doc.revision;
    if (e == FR_ERR_OK) e = frc_doc_dump(&doc, &text, &len);
    frc_doc_cleanup(&doc);
    for (size_t i = 0; i < q->n; i++)
        frs_catdoc_release(cds[i]);
    frs_blob *b = e == FR_ERR_OK ? calloc(1, sizeof *b) : NULL;
    if (e == FR_ERR_OK && !b) e = FR_ERR_NOMEM;
    if (e != FR_ERR_OK) {
        free(text);
        if (e == FR_ERR_NOMEM) fr_diag_set(d, e, "building the document");
        return e;
    }
    atomic_init(&b->refs, 1);
    b->data = text;
    b->len = len;
    b->revision = revision;
    frs_docs_etag(&actual, b->etag);
    frs_count(&s->metrics, doc_builds);
    *out = b;
    return FR_ERR_OK;
}

/* Stores b under key (a new reference is taken), evicting least recently used blobs. */
static void keep_blob(frs_doccache *dc, const char *key, frs_blob *b)
{
    if (b->len > dc->max_bytes) return;
    pthread_mutex_lock(&dc->mu);
    blob_slot *slot = NULL;
    for (size_t i = 0; i < MAX_BLOBS && !slot; i++)
        if (dc->blobs[i].blob && !strcmp(dc->blobs[i].key, key)) slot = &dc->blobs[i];
    if (slot) {
        dc->blob_bytes -= slot->blob->len;
        frs_blob_release(slot->blob);
        slot->blob = NULL;
    }
    for (;;) {
        blob_slot *lru = NULL, *free_slot = NULL;
        for (size_t i = 0; i < MAX_BLOBS; i++) {
            blob_slot *sl = &dc->blobs[i];
            if (!sl->blob) {
                if (!free_slot) free_slot = sl;
                continue;
            }
            if (!lru || sl->used < lru->used) lru = sl;
        }
        if (!slot) slot = free_slot;
        if (slot && dc->blob_bytes + b->len <= dc->max_bytes) break;
        if (!lru) break;
        dc->blob_bytes -= lru->blob->len; /* evict */
        frs_blob_release(lru->blob);
        lru->blob = NULL;
    }
    if (slot && !slot->blob) {
        snprintf(slot->key, sizeof slot->key, "%s", key);
        atomic_fetch_add(&b->refs, 1);
        slot->blob = b;
        slot->used = ++dc->tick;
        dc->blob_bytes += b->len;
    }
    pthread_mutex_unlock(&dc->mu);
}

fr_err frs_docs_blob(frs_server *s, const frs_docreq *q, frs_blob **out, fr_diag *d)
{
    frs_doccache *dc = s->docs;
    char key[BLOB_KEY_LEN], etag[40];
    blob_key(q, key, sizeof key);
    frs_docs_etag(q, etag);
    pthread_mutex_lock(&dc->mu);
    for (size_t i = 0; i < MAX_BLOBS; i++) {
        blob_slot *sl = &dc->blobs[i];
        if (sl->blob && !strcmp(sl->key, key) && !strcmp(sl->blob->etag, etag)) {
            atomic_fetch_add(&sl->blob->refs, 1);
            sl->used = ++dc->tick;
            *out = sl->blob;
            pthread_mutex_unlock(&dc->mu);
            return FR_ERR_OK;
        }
    }
    pthread_mutex_unlock(&dc->mu);
    fr_err e = build_blob(s, q, out, d);
    if (e == FR_ERR_OK) keep_blob(dc, key, *out);
    return e;
}
