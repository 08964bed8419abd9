/*
 * rank.c - orders the results of one entry best first, deterministically within measurement
 * noise (cache.h): repeatedly take, among the measured results whose median is within
 * FRC_TIE_TOLERANCE of the fastest remaining one, the REPRODUCIBLE one first, then the smaller
 * workspace, then the name; failures go last, by name. Medians are compared as the document
 * stores them (9 significant digits), so a loaded document ranks exactly as it was saved.
 */
#include "cache_int.h"

#include <stdlib.h>
#include <string.h>

/* Tie-break order among results that tie on speed: < 0 when a goes before b. */
static int tie_cmp(const frc_result *a, const frc_result *b)
{
    bool ra = a->attrs & FR_ATTR_REPRODUCIBLE, rb = b->attrs & FR_ATTR_REPRODUCIBLE;
    if (ra != rb) return ra ? -1 : 1;
    if (a->workspace != b->workspace) return a->workspace < b->workspace ? -1 : 1;
    int c = strcmp(a->algorithm, b->algorithm);
    if (c) return c;
    /* Same name twice (never in a checked entry): fall back to speed to stay total. */
    double ma = frc__round9(a->median_ms), mb = frc__round9(b->median_ms);
    return (ma > mb) - (ma < mb);
}

/* frc__pick_first with the candidates' medians already rounded (med9[i] for cands[i]). */
static size_t pick(const frc_result *const *cands, const double *med9, size_t n)
{
    size_t fastest = n;
    for (size_t i = 0; i < n; i++)
        if (!cands[i]->failure && (fastest == n || med9[i] < med9[fastest])) fastest = i;
    if (fastest == n) {
        /* Only failures: by name. */
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (strcmp(cands[i]->algorithm, cands[best]->algorithm) < 0) best = i;
        return best;
    }
    double bound = med9[fastest] * (1.0 + FRC_TIE_TOLERANCE);
    size_t best = fastest;
    for (size_t i = 0; i < n; i++) {
        if (cands[i]->failure || med9[i] > bound) continue;
        if (tie_cmp(cands[i], cands[best]) < 0) best = i;
    }
    return best;
}

size_t frc__pick_first(const frc_result *const *cands, size_t n)
{
    double stack[FRC_MAX_RESULTS_PER_ENTRY] = {0};
    double *med9 = n <= FRC_MAX_RESULTS_PER_ENTRY ? stack : malloc(n * sizeof *med9);
    if (!med9) return 0; /* more than an entry holds and no memory: any answer is valid */
    for (size_t i = 0; i < n; i++)
        med9[i] = cands[i]->failure ? 0 : frc__round9(cands[i]->median_ms);
    size_t best = pick(cands, med9, n);
    if (med9 != stack) free(med9);
    return best;
}

void frc_rank(frc_result *results, size_t n)
{
    const frc_result *vstack[FRC_MAX_RESULTS_PER_ENTRY];
    double mstack[FRC_MAX_RESULTS_PER_ENTRY];
    const frc_result **view = vstack;
    double *med9 = mstack;
    if (n < 2) return;
    /* More than an entry may hold (never in a checked document): needs the heap; if even that
     * fails the array is left as it is, which is still a valid, merely unranked, order. */
    if (n > FRC_MAX_RESULTS_PER_ENTRY) {
        view = malloc(n * sizeof *view);
        med9 = malloc(n * sizeof *med9);
        if (!view || !med9) {
            free(view);
            free(med9);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        med9[i] = results[i].failure ? 0 : frc__round9(results[i].median_ms);
    for (size_t i = 0; i + 1 < n; i++) {
        for (size_t j = i; j < n; j++)
            view[j - i] = &results[j];
        size_t k = i + pick(view, med9 + i, n - i);
        frc_result t = results[i];
        results[i] = results[k];
        results[k] = t;
        double m = med9[i];
        med9[i] = med9[k];
        med9[k] = m;
    }
    if (view != vstack) {
        free(view);
        free(med9);
    }
}
