/*
 * report.c - from raw measurements to the results a document holds: one measured result from
 * the times of its runs, one failed result from any reason text, and the merged, ranked results
 * of one (category, key) from many reports (the worker's in-memory profile, the server's table
 * of raw reports). The merge itself is merge.c's rule; this only groups by algorithm.
 */
#include "cache_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

fr_err frc_result_measured(const char *algorithm, unsigned attrs, uint64_t workspace,
                           const double *times_ms, size_t n, frc_result *out)
{
    if (n == 0 || !algorithm) return FR_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(times_ms[i]) || times_ms[i] <= 0) return FR_ERR_INVALID_ARGUMENT;
    double *t = malloc(n * sizeof *t);
    if (!t) return FR_ERR_NOMEM;
    memcpy(t, times_ms, n * sizeof *t);
    qsort(t, n, sizeof *t, double_cmp);
    frc_result r = {
        .attrs = attrs,
        .workspace = workspace,
        .median_ms = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
        .min_ms = t[0],
        .samples = (int64_t)n,
        .reports = 1,
        .algorithm = (char *)algorithm,
    };
    free(t);
    if (frc__result_check(&r, "result", NULL)) return FR_ERR_INVALID_ARGUMENT;
    bool ok = true;
    r.algorithm = frc__strdup(algorithm, &ok);
    if (!ok) return FR_ERR_NOMEM;
    *out = r;
    return FR_ERR_OK;
}

/* Bytes of s to keep so that at most max bytes remain and no UTF-8 sequence is cut. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

fr_err frc_result_failed(const char *algorithm, unsigned attrs, uint64_t workspace,
                         const char *reason, frc_result *out)
{
    if (!algorithm) return FR_ERR_INVALID_ARGUMENT;
    if (!reason || !*reason) reason = "failed";
    size_t n = utf8_cut(reason, FRC_MAX_STRING);
    char *text = malloc(n + 1);
    if (!text) return FR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)reason[i];
        text[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    text[n] = '\0';
    frc_result r = {.attrs = attrs, .workspace = workspace, .reports = 1};
    bool ok = true;
    r.algorithm = frc__strdup(algorithm, &ok);
    r.failure = text;
    if (!ok) {
        frc_result_cleanup(&r);
        return FR_ERR_NOMEM;
    }
    if (frc__result_check(&r, "result", NULL)) {
        frc_result_cleanup(&r);
        return FR_ERR_INVALID_ARGUMENT;
    }
    *out = r;
    return FR_ERR_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const frc_result *const *)a)->algorithm,
                  (*(const frc_result *const *)b)->algorithm);
}

fr_err frc_merge_reports(const frc_result *reports, size_t n, frc_result **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0) return FR_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (frc__result_check(&reports[i], "report", NULL)) return FR_ERR_INVALID_ARGUMENT;
    const frc_result **order = malloc(n * sizeof *order);
    frc_result *res = calloc(n, sizeof *res);
    fr_err e = order && res ? FR_ERR_OK : FR_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; !e && i < n; i++)
        order[i] = &reports[i];
    if (!e) qsort(order, n, sizeof *order, by_name);
    for (size_t i = 0; !e && i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(order[j]->algorithm, order[i]->algorithm) == 0)
            j++;
        if (k == FRC_MAX_RESULTS_PER_ENTRY)
            e = FR_ERR_TOO_LARGE;
        else if (!(e = frc_merge_results(order + i, j - i, &res[k])))
            k++;
        i = j;
    }
    free(order);
    if (e) {
        for (size_t i = 0; i < k; i++)
            frc_result_cleanup(&res[i]);
        free(res);
        return e;
    }
    frc_rank(res, k);
    *out = res;
    *nout = k;
    return FR_ERR_OK;
}
