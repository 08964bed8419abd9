/*
 * check.c - what a result and a fingerprint must satisfy wherever they enter a document (put,
 * parse, merge), and the 9-digit rounding the document applies to reals. Keeping these in one
 * place means the writer can never produce a document the reader refuses.
 */
#include "cache_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double frc__round9(double x)
{
    char text[40];
    snprintf(text, sizeof text, "%.9g", x);
    return strtod(text, NULL);
}

fr_err frc__text_check(const char *s, const char *path, fr_diag *d)
{
    if (!s || !*s) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be a non-empty string", path);
    size_t n = strnlen(s, FRC_MAX_STRING + 1);
    if (n > FRC_MAX_STRING)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: string longer than %d bytes", path,
                           FRC_MAX_STRING);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: control character at byte %zu", path, i);
    }
    return FR_ERR_OK;
}

/* Algorithm names are identifiers like "conv2d.winograd_f43". */
fr_err frc__name_check(const char *s, const char *path, fr_diag *d)
{
    fr_err e = frc__text_check(s, path, d);
    if (e) return e;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || c == '+';
        if (!ok)
            return fr_diag_set(d, FR_ERR_CORRUPT,
                               "%s: '%s' is not an algorithm name (letters, digits, '_', '.', "
                               "'-', '+')",
                               path, s);
    }
    return FR_ERR_OK;
}

static bool positive(double x)
{
    return isfinite(x) && x > 0;
}

fr_err frc__result_check(const frc_result *r, const char *path, fr_diag *d)
{
    char sub[160];
    fr_err e;
    snprintf(sub, sizeof sub, "%s.algorithm", path);
    if ((e = frc__name_check(r->algorithm, sub, d))) return e;
    unsigned known = 0;
    for (unsigned bit = 1; bit; bit <<= 1)
        if (fr_attr_name(bit)) known |= bit;
    if (r->attrs & ~known)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.attributes: unknown attribute bits 0x%x", path,
                           r->attrs & ~known);
    if (r->workspace > (uint64_t)INT64_MAX)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.workspace: larger than 2^63-1 bytes", path);
    if (r->reports < 1)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.reports: must be a positive integer", path);
    if (r->failure) {
        snprintf(sub, sizeof sub, "%s.failure", path);
        return frc__text_check(r->failure, sub, d);
    }
    if (!positive(r->median_ms))
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.median_ms: must be a positive number", path);
    if (!positive(r->min_ms))
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.min_ms: must be a positive number", path);
    const struct {
        const char *field;
        double ms;
    } times[] = {{"median_ms", r->median_ms}, {"min_ms", r->min_ms}, {"spread_ms", r->spread_ms}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        if (times[i].ms > FRC_MAX_MS)
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s.%s: %.3g ms is over the limit of %g ms", path,
                               times[i].field, times[i].ms, FRC_MAX_MS);
    /* Rounding is monotonic, so only a min above the median needs the rounded comparison. */
    if (r->min_ms > r->median_ms && frc__round9(r->min_ms) > frc__round9(r->median_ms))
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.min_ms: %.9g exceeds median_ms %.9g", path,
                           r->min_ms, r->median_ms);
    if (r->samples < 1)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.samples: must be a positive integer", path);
    if (!isfinite(r->spread_ms) || r->spread_ms < 0)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.spread_ms: must be a non-negative number", path);
    return FR_ERR_OK;
}

fr_err frc__fingerprint_check(const frc_fingerprint *fp, const char *path, fr_diag *d)
{
    char sub[160];
    fr_err e;
    if (fp->format_version < 1)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.format_version: must be a positive integer",
                           path);
    if (fp->kernel_set < 1)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.kernel_set: must be a positive integer", path);
    if (fp->threads < 1 || fp->threads > FRC_MAX_THREADS)
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s.threads: must be an integer in 1..%d", path,
                           FRC_MAX_THREADS);
    const struct {
        const char *name, *value;
    } strs[] = {
        {"cpu", fp->cpu}, {"isa", fp->isa}, {"blas", fp->blas}, {"blas_core", fp->blas_core}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        snprintf(sub, sizeof sub, "%s.%s", path, strs[i].name);
        if ((e = frc__text_check(strs[i].value, sub, d))) return e;
    }
    return FR_ERR_OK;
}
