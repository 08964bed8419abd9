/*
 * merge.c - the merge rule (cache.h, README "Merge rule"), shared by `fastrun cache merge` and
 * the server. One algorithm's inputs combine into one figure that depends only on the set of
 * distinct inputs, never on their order: inputs are sorted by their figures and identical ones
 * count once, so merging a document with a copy of itself gives back the same bytes.
 *
 * Inputs are read as the document stores them (reals to 9 digits), so merging two documents in
 * memory and merging them after a save and a load give the same figures.
 *
 * Attributes and workspace of one algorithm should agree across inputs (the kernel set is part
 * of the category); if they do not, the merge stays conservative: REPRODUCIBLE only if every
 * input says so, every other attribute if any input says so, the largest workspace.
 */
#include "cache_int.h"

#include <stdlib.h>
#include <string.h>

static int cmp_double(double a, double b)
{
    return (a > b) - (a < b);
}

static int cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

/* One input with its reals as the document stores them, rounded once. */
typedef struct {
    const frc_result *r;
    double med, min, spread;
} fig;

/* Total order on figures: measured before failed, then by median, min, samples, reports,
 * spread, failure text. Equal under this order means "identical figures". */
static int fig_cmp(const void *pa, const void *pb)
{
    const fig *fa = pa, *fb = pb;
    const frc_result *a = fa->r, *b = fb->r;
    if ((a->failure == NULL) != (b->failure == NULL)) return a->failure ? 1 : -1;
    int c;
    if (a->failure) {
        if ((c = strcmp(a->failure, b->failure))) return c;
        return cmp_i64(a->reports, b->reports);
    }
    if ((c = cmp_double(fa->med, fb->med))) return c;
    if ((c = cmp_double(fa->min, fb->min))) return c;
    if ((c = cmp_i64(a->samples, b->samples))) return c;
    if ((c = cmp_i64(a->reports, b->reports))) return c;
    return cmp_double(fa->spread, fb->spread);
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Figures of the distinct measured inputs in[0..n), sorted by median. */
static void merge_measured(const fig *in, size_t n, frc_result *out)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total = add_sat(total, in[i].r->reports);
    /* Weighted lower median: the first median whose cumulative weight reaches half. */
    int64_t need = total / 2 + total % 2, cum = 0;
    size_t at = n - 1;
    for (size_t i = 0; i < n; i++) {
        cum = add_sat(cum, in[i].r->reports);
        if (cum >= need) {
            at = i;
            break;
        }
    }
    out->median_ms = in[at].med;
    out->min_ms = in[0].min;
    out->samples = 0;
    out->reports = total;
    double spread = n > 1 ? frc__round9(in[n - 1].med - in[0].med) : 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i].min < out->min_ms) out->min_ms = in[i].min;
        if (in[i].spread > spread) spread = in[i].spread;
        out->samples = add_sat(out->samples, in[i].r->samples);
    }
    out->spread_ms = spread;
}

fr_err frc_merge_results(const frc_result *const *inputs, size_t n, frc_result *out)
{
    if (n == 0 || !inputs[0]->algorithm) return FR_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (!inputs[i]->algorithm || strcmp(inputs[i]->algorithm, inputs[0]->algorithm) != 0 ||
            frc__result_check(inputs[i], "input", NULL))
            return FR_ERR_INVALID_ARGUMENT;
    fig stack[4];
    fig *in = n <= 4 ? stack : malloc(n * sizeof *in);
    if (!in) return FR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const frc_result *r = inputs[i];
        in[i] = (fig){r, 0, 0, 0};
        if (!r->failure)
            in[i] = (fig){r, frc__round9(r->median_ms), frc__round9(r->min_ms),
                          frc__round9(r->spread_ms)};
    }
    qsort(in, n, sizeof *in, fig_cmp);
    /* Drop repeated figures, and failures when anything was measured. */
    size_t kept = 0;
    bool measured = in[0].r->failure == NULL;
    for (size_t i = 0; i < n; i++) {
        if (measured && in[i].r->failure) break;
        if (kept && fig_cmp(&in[kept - 1], &in[i]) == 0) continue;
        in[kept++] = in[i];
    }
    frc_result t;
    memset(&t, 0, sizeof t);
    unsigned all = ~0u, any = 0;
    for (size_t i = 0; i < n; i++) {
        all &= inputs[i]->attrs;
        any |= inputs[i]->attrs;
        if (inputs[i]->workspace > t.workspace) t.workspace = inputs[i]->workspace;
    }
    t.attrs = (all & FR_ATTR_REPRODUCIBLE) | (any & ~(unsigned)FR_ATTR_REPRODUCIBLE);
    if (measured) {
        merge_measured(in, kept, &t);
    } else {
        /* Every input failed: the first reason by text (a stable choice), all reports. */
        for (size_t i = 0; i < kept; i++)
            t.reports = add_sat(t.reports, in[i].r->reports);
    }
    bool ok = true;
    t.algorithm = frc__strdup(in[0].r->algorithm, &ok);
    t.failure = measured ? NULL : frc__strdup(in[0].r->failure, &ok);
    if (in != stack) free(in);
    if (!ok) {
        frc_result_cleanup(&t);
        return FR_ERR_NOMEM;
    }
    *out = t;
    return FR_ERR_OK;
}

/* Merges the results of one key present on both sides into a new ranked array. */
static fr_err merge_entry(const frc_entry *a, const frc_entry *b, frc_result **out, size_t *nout)
{
    size_t n = a->nresults;
    for (size_t j = 0; j < b->nresults; j++) {
        bool shared = false;
        for (size_t i = 0; i < a->nresults && !shared; i++)
            shared = strcmp(a->results[i].algorithm, b->results[j].algorithm) == 0;
        if (!shared) n++;
    }
    if (n > FRC_MAX_RESULTS_PER_ENTRY) return FR_ERR_TOO_LARGE;
    frc_result *res = calloc(n, sizeof *res);
    if (!res) return FR_ERR_NOMEM;
    size_t k = 0;
    fr_err e = FR_ERR_OK;
    for (size_t i = 0; i < a->nresults && !e; i++) {
        const frc_result *in[2] = {&a->results[i], NULL};
        size_t nin = 1;
        for (size_t j = 0; j < b->nresults; j++)
            if (strcmp(a->results[i].algorithm, b->results[j].algorithm) == 0)
                in[nin++] = &b->results[j];
        if (!(e = frc_merge_results(in, nin, &res[k]))) k++;
    }
    for (size_t j = 0; j < b->nresults && !e; j++) {
        bool shared = false;
        for (size_t i = 0; i < a->nresults && !shared; i++)
            shared = strcmp(a->results[i].algorithm, b->results[j].algorithm) == 0;
        if (shared) continue;
        const frc_result *in[1] = {&b->results[j]};
        if (!(e = frc_merge_results(in, 1, &res[k]))) k++;
    }
    if (e) {
        for (size_t i = 0; i < k; i++)
            frc_result_cleanup(&res[i]);
        free(res);
        return e;
    }
    frc_rank(res, n);
    *out = res;
    *nout = n;
    return FR_ERR_OK;
}

/* A deep copy of an entry (its results normalised through the merge of one input). */
static fr_err copy_entry(const frc_entry *src, frc_entry *dst)
{
    frc_entry none = {0};
    bool ok = true;
    memset(dst, 0, sizeof *dst);
    fr_err e = merge_entry(src, &none, &dst->results, &dst->nresults);
    if (e) return e;
    dst->key = frc__strdup(src->key, &ok);
    if (src->heuristic) dst->heuristic = frc__strdup(src->heuristic, &ok);
    if (!ok) {
        frc__entry_cleanup(dst);
        return FR_ERR_NOMEM;
    }
    return FR_ERR_OK;
}

/* How an entry of the merged array came to be, to undo or finish the merge. */
enum { FROM_DST, FROM_SRC, FROM_BOTH };

static fr_err merge_category(frc_category *dc, const frc_category *sc)
{
    size_t cap = dc->nentries + sc->nentries, i = 0, j = 0, k = 0;
    frc_entry *next = calloc(cap ? cap : 1, sizeof *next);
    unsigned char *how = calloc(cap ? cap : 1, 1);
    size_t *old = calloc(cap ? cap : 1, sizeof *old);
    fr_err e = next && how && old ? FR_ERR_OK : FR_ERR_NOMEM;
    while (!e && (i < dc->nentries || j < sc->nentries)) {
        int c = i == dc->nentries   ? 1
                : j == sc->nentries ? -1
                                    : strcmp(dc->entries[i].key, sc->entries[j].key);
        if (c < 0) {
            next[k] = dc->entries[i++];
            how[k++] = FROM_DST;
        } else if (c > 0) {
            if (!(e = copy_entry(&sc->entries[j++], &next[k]))) how[k++] = FROM_SRC;
        } else {
            next[k].key = dc->entries[i].key;
            /* The incoming pick wins (the newer report); a copy either way, so undoing or
             * finishing the merge frees exactly one of the two. */
            const char *h = sc->entries[j].heuristic ? sc->entries[j].heuristic
                                                     : dc->entries[i].heuristic;
            bool ok = true;
            if (h && !(next[k].heuristic = frc__strdup(h, &ok))) e = FR_ERR_NOMEM;
            if (!e)
                e = merge_entry(&dc->entries[i], &sc->entries[j], &next[k].results,
                                &next[k].nresults);
            old[k] = i++;
            j++;
            if (!e)
                how[k++] = FROM_BOTH;
            else
                free(next[k].heuristic); /* the slot never joined the merged array */
        }
    }
    if (!e && k > FRC_MAX_ENTRIES) e = FR_ERR_TOO_LARGE;
    for (size_t x = 0; x < k; x++) {
        /* On error free what was made here; on success free what it replaced. */
        if (e && how[x] == FROM_SRC) frc__entry_cleanup(&next[x]);
        if (how[x] != FROM_BOTH) continue;
        frc_entry *gone = e ? &next[x] : &dc->entries[old[x]];
        for (size_t r = 0; r < gone->nresults; r++)
            frc_result_cleanup(&gone->results[r]);
        free(gone->results);
        free(gone->heuristic);
    }
    if (!e) {
        free(dc->entries);
        dc->entries = next;
        dc->nentries = k;
        next = NULL;
    }
    free(next);
    free(how);
    free(old);
    return e;
}

fr_err frc_doc_merge(frc_doc *dst, const frc_doc *src)
{
    /* Identical inputs count once: a document merged with itself is unchanged. */
    if (dst == src) return FR_ERR_OK;
    for (size_t i = 0; i < src->ncats; i++) {
        frc_category *dc;
        fr_err e = frc_doc_category(dst, &src->cats[i].fp, &dc);
        if (!e) e = merge_category(dc, &src->cats[i]);
        if (e) return e;
    }
    return FR_ERR_OK;
}

fr_err frc_doc_copy(const frc_doc *src, frc_doc *out)
{
    frc_doc_init(out);
    fr_err e = frc_doc_merge(out, src);
    if (e) {
        frc_doc_cleanup(out);
        return e;
    }
    out->revision = src->revision;
    return FR_ERR_OK;
}
