/*
 * policy.c - the reader's policy (required and forbidden attributes, a workspace limit) applied
 * when reading: one result, one lookup, or a whole document for a download. Failures are never
 * accepted, so a failed algorithm can never be a hit. Among the accepted results the best is
 * chosen by frc_rank's rule applied to the accepted set itself, so a result the policy removes
 * cannot change which of the others wins a tie.
 */
#include "cache_int.h"

#include <stdlib.h>
#include <string.h>

bool frc_policy_accepts(const frc_policy *pol, const frc_result *r)
{
    if (r->failure) return false;
    if (!pol) return true;
    if ((r->attrs & pol->required) != pol->required) return false;
    if (r->attrs & pol->forbidden) return false;
    if (pol->max_workspace && r->workspace > pol->max_workspace) return false;
    return true;
}

frc_lookup_status frc_lookup(const frc_category *cat, const char *key, const frc_policy *pol,
                             const frc_result **out)
{
    const frc_result *accepted[FRC_MAX_RESULTS_PER_ENTRY];
    size_t n = 0;
    if (out) *out = NULL;
    const frc_entry *ent = frc_category_find(cat, key);
    if (!ent) return FRC_MISS;
    for (size_t i = 0; i < ent->nresults && n < FRC_MAX_RESULTS_PER_ENTRY; i++)
        if (frc_policy_accepts(pol, &ent->results[i])) accepted[n++] = &ent->results[i];
    if (n == 0) return FRC_NONE_ACCEPTED;
    if (out) *out = accepted[frc__pick_first(accepted, n)];
    return FRC_HIT;
}

frc_lookup_status frc_lookup_with(const frc_category *cat, const char *key, const frc_policy *pol,
                                  frc_attrs_fn attrs_of, void *ctx, const frc_result **out,
                                  size_t *nunknown)
{
    /* Shallow copies carrying the reader's attributes, so that both the policy and the
     * REPRODUCIBLE-first tie rule see them; idx maps a copy back to the result in cat. */
    frc_result view[FRC_MAX_RESULTS_PER_ENTRY];
    const frc_result *accepted[FRC_MAX_RESULTS_PER_ENTRY];
    size_t idx[FRC_MAX_RESULTS_PER_ENTRY];
    size_t n = 0, unknown = 0;
    if (out) *out = NULL;
    if (nunknown) *nunknown = 0;
    const frc_entry *ent = frc_category_find(cat, key);
    if (!ent) return FRC_MISS;
    for (size_t i = 0; i < ent->nresults && n < FRC_MAX_RESULTS_PER_ENTRY; i++) {
        unsigned attrs = 0;
        if (!attrs_of(ctx, ent->results[i].algorithm, &attrs)) {
            unknown++;
            continue;
        }
        view[n] = ent->results[i];
        view[n].attrs = attrs;
        if (!frc_policy_accepts(pol, &view[n])) continue;
        accepted[n] = &view[n];
        idx[n++] = i;
    }
    if (nunknown) *nunknown = unknown;
    if (n == 0) return FRC_NONE_ACCEPTED;
    if (out) *out = &ent->results[idx[frc__pick_first(accepted, n)]];
    return FRC_HIT;
}

/* Copies into out the accepted results of in, ranked; out->nresults may end up 0. */
static fr_err filter_entry(const frc_entry *in, const frc_policy *pol, frc_entry *out)
{
    bool ok = true;
    memset(out, 0, sizeof *out);
    out->results = calloc(in->nresults ? in->nresults : 1, sizeof *out->results);
    out->key = frc__strdup(in->key, &ok);
    if (in->heuristic) out->heuristic = frc__strdup(in->heuristic, &ok);
    if (!out->results || !ok) {
        frc__entry_cleanup(out);
        return FR_ERR_NOMEM;
    }
    for (size_t i = 0; i < in->nresults; i++) {
        if (!frc_policy_accepts(pol, &in->results[i])) continue;
        if (frc_result_copy(&in->results[i], &out->results[out->nresults])) {
            frc__entry_cleanup(out);
            return FR_ERR_NOMEM;
        }
        out->nresults++;
    }
    frc_rank(out->results, out->nresults);
    return FR_ERR_OK;
}

static fr_err filter_category(const frc_category *in, const frc_policy *pol, frc_category *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, in->id, sizeof out->id);
    fr_err e = frc_fingerprint_copy(&in->fp, &out->fp);
    if (e) return e;
    out->entries = calloc(in->nentries ? in->nentries : 1, sizeof *out->entries);
    if (!out->entries) {
        frc__category_cleanup(out);
        return FR_ERR_NOMEM;
    }
    for (size_t i = 0; i < in->nentries; i++) {
        frc_entry *dst = &out->entries[out->nentries];
        if ((e = filter_entry(&in->entries[i], pol, dst))) {
            frc__category_cleanup(out);
            return e;
        }
        if (dst->nresults)
            out->nentries++;
        else
            frc__entry_cleanup(dst);
    }
    return FR_ERR_OK;
}

fr_err frc_doc_filter(const frc_doc *doc, const frc_policy *pol, frc_doc *out)
{
    frc_doc_init(out);
    out->revision = doc->revision;
    out->cats = calloc(doc->ncats ? doc->ncats : 1, sizeof *out->cats);
    if (!out->cats) return FR_ERR_NOMEM;
    for (size_t i = 0; i < doc->ncats; i++) {
        fr_err e = filter_category(&doc->cats[i], pol, &out->cats[i]);
        if (e) {
            frc_doc_cleanup(out);
            return e;
        }
        out->ncats++;
    }
    return FR_ERR_OK;
}
