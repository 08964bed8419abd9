/*
 * jfield.c - typed access to the fields of a parsed JSON value, for the document reader: each
 * accessor names the offending value by its path ("categories[0].entries[2].key: missing"), and
 * one walk enforces the limits that hold anywhere in a document (nesting depth, string length)
 * before any field is interpreted.
 */
#include "cache_int.h"

#include <stdio.h>
#include <string.h>

/* path + ".name" or path + "[i]" into buf (a path that starts empty gets no leading dot). */
void frc__path_field(char *buf, const char *path, const char *name)
{
    snprintf(buf, FRC__PATH_MAX, "%s%s%.40s", path, *path ? "." : "", name);
}

void frc__path_index(char *buf, const char *path, size_t i)
{
    snprintf(buf, FRC__PATH_MAX, "%s[%zu]", path, i);
}

/* ---------------------------------------------------------------------------------------------
 * Generic limits: nesting depth and string lengths anywhere in the value.
 * ------------------------------------------------------------------------------------------- */
fr_err frc__json_limits(const json_t *v, const char *path, int depth, fr_diag *d)
{
    char sub[FRC__PATH_MAX];
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n > FRC_MAX_STRING)
            return fr_diag_set(d, FR_ERR_TOO_LARGE,
                               "%s: string of %zu bytes is longer than the limit of %d", path, n,
                               FRC_MAX_STRING);
        return FR_ERR_OK;
    }
    if (!json_is_object(v) && !json_is_array(v)) return FR_ERR_OK;
    if (depth > FRC_MAX_DEPTH)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: nested deeper than %d levels",
                           *path ? path : "top level", FRC_MAX_DEPTH);
    fr_err e;
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            frc__path_index(sub, path, i);
            if ((e = frc__json_limits(x, sub, depth + 1, d))) return e;
        }
        return FR_ERR_OK;
    }
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        frc__path_field(sub, path, k);
        if (strlen(k) > FRC_MAX_STRING)
            return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: field name longer than %d bytes", sub,
                               FRC_MAX_STRING);
        if ((e = frc__json_limits(x, sub, depth + 1, d))) return e;
    }
    return FR_ERR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Typed field access. Each names the field by its path in the detail.
 * ------------------------------------------------------------------------------------------- */
fr_err frc__json_only(const json_t *o, const char *path, const char *const *names, size_t n,
                      fr_diag *d)
{
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)o, k, x)
    {
        size_t i = 0;
        while (i < n && strcmp(names[i], k) != 0)
            i++;
        if (i == n) {
            char sub[FRC__PATH_MAX];
            frc__path_field(sub, path, k);
            return fr_diag_set(d, FR_ERR_CORRUPT, "%s: unknown field", sub);
        }
    }
    return FR_ERR_OK;
}

fr_err frc__json_object(const json_t *v, const char *path, fr_diag *d)
{
    if (json_is_object(v)) return FR_ERR_OK;
    return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be an object", *path ? path : "top level");
}

/* An integer field in [min, max]; absent means dflt unless required. */
fr_err frc__json_int(const json_t *o, const char *name, const char *path, bool required,
                     json_int_t min, json_int_t max, json_int_t dflt, json_int_t *out, fr_diag *d)
{
    char sub[FRC__PATH_MAX];
    frc__path_field(sub, path, name);
    const json_t *v = json_object_get(o, name);
    *out = dflt;
    if (!v) return required ? fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub) : FR_ERR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        if (min == 1) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be a positive integer", sub);
        return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be an integer in %lld..%lld", sub,
                           (long long)min, (long long)max);
    }
    *out = json_integer_value(v);
    return FR_ERR_OK;
}

/* A number field; range is checked by the caller (check.c); what is wrong is said by `what`. */
fr_err frc__json_num(const json_t *o, const char *name, const char *path, bool required,
                     const char *what, double *out, fr_diag *d)
{
    char sub[FRC__PATH_MAX];
    frc__path_field(sub, path, name);
    const json_t *v = json_object_get(o, name);
    if (!v) return required ? fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub) : FR_ERR_OK;
    if (!json_is_number(v)) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be %s", sub, what);
    *out = json_number_value(v);
    return FR_ERR_OK;
}

/* A string field (borrowed from o), or NULL when absent and optional. */
fr_err frc__json_str(const json_t *o, const char *name, const char *path, bool required,
                     const char **out, fr_diag *d)
{
    char sub[FRC__PATH_MAX];
    frc__path_field(sub, path, name);
    const json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v) return required ? fr_diag_set(d, FR_ERR_CORRUPT, "%s: missing", sub) : FR_ERR_OK;
    if (!json_is_string(v)) return fr_diag_set(d, FR_ERR_CORRUPT, "%s: must be a string", sub);
    *out = json_string_value(v);
    return FR_ERR_OK;
}
