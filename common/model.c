/*
 * model.c - the model-file reader (../shared/models/README.md) with jansson. Strict on purpose:
 * a model names the exact operators a cache will be keyed on, so a typo must be an error, never
 * a silently ignored field. Every error names the origin (file or "request body"), the operator
 * (name and index) and the field, e.g.
 *   "tiny.json: operator 'stem' (#0): field 'pad': expected an array of 2 integers".
 * Shape rules beyond "positive integer" live in fr_op_validate (op.c), shared with key parsing.
 */
#include "fr_common.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One integer field of an operator: where it lives in fr_op, the smallest value allowed, and
 * whether it is a [a, b] pair. */
typedef struct {
    const char *name;
    size_t offset; /* of the first int inside fr_op */
    int min;
    bool pair;
} field_spec;

#define CONV(f) offsetof(fr_op, conv) + offsetof(fr_conv2d, f)
#define MM(f) offsetof(fr_op, mm) + offsetof(fr_matmul, f)

static const field_spec conv2d_fields[] = {
    {"n", CONV(n), 1, false},           {"c", CONV(c), 1, false},
    {"h", CONV(h), 1, false},           {"w", CONV(w), 1, false},
    {"k", CONV(k), 1, false},           {"r", CONV(r), 1, false},
    {"s", CONV(s), 1, false},           {"stride", CONV(stride), 1, true},
    {"pad", CONV(pad), 0, true},        {"dilation", CONV(dilation), 1, true},
    {"groups", CONV(groups), 1, false},
};

static const field_spec matmul_fields[] = {
    {"batch", MM(batch), 1, false},
    {"m", MM(m), 1, false},
    {"n", MM(n), 1, false},
    {"k", MM(k), 1, false},
};

typedef struct {
    const char *name;
    fr_op_kind kind;
    const field_spec *fields;
    size_t nfields;
} kind_spec;

static const kind_spec kinds[] = {
    {"conv2d", FR_OP_CONV2D, conv2d_fields, sizeof conv2d_fields / sizeof conv2d_fields[0]},
    {"matmul", FR_OP_MATMUL, matmul_fields, sizeof matmul_fields / sizeof matmul_fields[0]},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* A name is 1..FR_MODEL_MAX_NAME bytes without control characters (it is printed in tables,
 * reports and error messages). */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len > FR_MODEL_MAX_NAME) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

/* Reads one integer in [min, FR_MAX_DIM]. JSON reals (3.0), strings and out-of-range values are
 * refused with a detail naming the field. */
static fr_err read_int(const json_t *v, const field_spec *f, int *out, fr_diag *d)
{
    const char *what = f->min > 0 ? "a positive integer" : "a non-negative integer";
    if (!json_is_integer(v)) {
        if (f->pair)
            return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%s': expected an array of 2 %ss",
                               f->name, f->min > 0 ? "positive integer" : "non-negative integer");
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%s': expected %s", f->name, what);
    }
    json_int_t x = json_integer_value(v);
    if (x < f->min || x > FR_MAX_DIM)
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%s': %lld is out of range [%d, %d]",
                           f->name, (long long)x, f->min, FR_MAX_DIM);
    *out = (int)x;
    return FR_ERR_OK;
}

static fr_err read_field(const json_t *v, const field_spec *f, fr_op *op, fr_diag *d)
{
    int *dst = (int *)((char *)op + f->offset);
    if (!f->pair) return read_int(v, f, dst, d);
    if (!json_is_array(v) || json_array_size(v) != 2)
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%s': expected an array of 2 %s", f->name,
                           f->min > 0 ? "positive integers" : "non-negative integers");
    for (size_t i = 0; i < 2; i++) {
        fr_err e = read_int(json_array_get(v, i), f, &dst[i], d);
        if (e) return e;
    }
    return FR_ERR_OK;
}

static const field_spec *find_field(const kind_spec *k, const char *name)
{
    for (size_t i = 0; i < k->nfields; i++)
        if (strcmp(k->fields[i].name, name) == 0) return &k->fields[i];
    return NULL;
}

/* Reads the shape fields of one operator of kind k (name and op already checked). The detail is
 * relative ("field 'pad': ..."); the caller prefixes origin and operator. */
static fr_err read_shape(const json_t *obj, const kind_spec *k, fr_op *op, fr_diag *d)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcmp(key, "name") == 0 || strcmp(key, "op") == 0) continue;
        if (!find_field(k, key))
            return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%.64s': unknown field for %s", key,
                               k->name);
    }
    memset(op, 0, sizeof *op);
    op->kind = k->kind;
    for (size_t i = 0; i < k->nfields; i++) {
        const field_spec *f = &k->fields[i];
        json_t *fv = json_object_get(obj, f->name);
        if (!fv) return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%s': missing", f->name);
        fr_err e = read_field(fv, f, op, d);
        if (e) return e;
    }
    return fr_op_validate(op, d);
}

/* Reads operator #idx into *out (name owned by out). seen is a JSON object used as a set of
 * names already taken. */
static fr_err read_operator(const json_t *obj, size_t idx, const char *origin, json_t *seen,
                            fr_model_op *out, fr_diag *d)
{
    if (!json_is_object(obj))
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "%s: operator #%zu: expected an object", origin,
                           idx);
    json_t *jn = json_object_get(obj, "name");
    if (!jn)
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "%s: operator #%zu: field 'name': missing", origin,
                           idx);
    if (!json_is_string(jn) || !valid_name(json_string_value(jn), json_string_length(jn)))
        return fr_diag_set(d, FR_ERR_BAD_MODEL,
                           "%s: operator #%zu: field 'name': expected a string of 1 to %d "
                           "printable bytes",
                           origin, idx, FR_MODEL_MAX_NAME);
    const char *name = json_string_value(jn);
    json_t *prev = json_object_get(seen, name);
    if (prev)
        return fr_diag_set(d, FR_ERR_BAD_MODEL,
                           "%s: operator '%s' (#%zu): field 'name': duplicate of operator #%lld",
                           origin, name, idx, (long long)json_integer_value(prev));
    if (json_object_set_new(seen, name, json_integer((json_int_t)idx)) != 0)
        return fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", origin);

    json_t *jop = json_object_get(obj, "op");
    const kind_spec *k = NULL;
    fr_err e = FR_ERR_OK;
    if (!jop) {
        e = fr_diag_set(d, FR_ERR_BAD_MODEL, "field 'op': missing");
    } else if (!json_is_string(jop)) {
        e = fr_diag_set(d, FR_ERR_BAD_MODEL, "field 'op': expected a string");
    } else {
        for (size_t i = 0; i < NKINDS && !k; i++)
            if (strcmp(kinds[i].name, json_string_value(jop)) == 0) k = &kinds[i];
        if (!k)
            e = fr_diag_set(d, FR_ERR_BAD_MODEL,
                            "field 'op': unknown operator '%.64s' (known: conv2d, matmul)",
                            json_string_value(jop));
    }
    if (!e) e = read_shape(obj, k, &out->op, d);
    if (e) {
        fr_diag_prefix(d, "%s: operator '%s' (#%zu)", origin, name, idx);
        return e;
    }
    out->name = strdup(name);
    return out->name ? FR_ERR_OK : fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", origin);
}

static fr_err read_header(const json_t *root, const char *origin, fr_model *m, fr_diag *d)
{
    static const char *const allowed[] = {"name", "description", "operators"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        if (!ok)
            return fr_diag_set(d, FR_ERR_BAD_MODEL,
                               "%s: field '%.64s': unknown top-level field (allowed: name, "
                               "description, operators)",
                               origin, key);
    }
    json_t *jn = json_object_get(root, "name");
    if (!jn) return fr_diag_set(d, FR_ERR_BAD_MODEL, "%s: field 'name': missing", origin);
    if (!json_is_string(jn) || !valid_name(json_string_value(jn), json_string_length(jn)))
        return fr_diag_set(d, FR_ERR_BAD_MODEL,
                           "%s: field 'name': expected a string of 1 to %d printable bytes", origin,
                           FR_MODEL_MAX_NAME);
    json_t *jd = json_object_get(root, "description");
    if (jd && (!json_is_string(jd) || json_string_length(jd) > FR_MODEL_MAX_DESCRIPTION))
        return fr_diag_set(d, FR_ERR_BAD_MODEL,
                           "%s: field 'description': expected a string of at most %d bytes", origin,
                           FR_MODEL_MAX_DESCRIPTION);
    m->name = strdup(json_string_value(jn));
    m->description = jd ? strdup(json_string_value(jd)) : NULL;
    if (!m->name || (jd && !m->description))
        return fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", origin);
    return FR_ERR_OK;
}

fr_err fr_model_from_json(const void *json_root, const char *origin, fr_model *out, fr_diag *d)
{
    const json_t *root = json_root;
    fr_model m = {0};
    if (!json_is_object(root))
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "%s: expected a JSON object at the top level",
                           origin);
    fr_err e = read_header(root, origin, &m, d);
    json_t *ops = json_object_get(root, "operators");
    if (!e && !ops) e = fr_diag_set(d, FR_ERR_BAD_MODEL, "%s: field 'operators': missing", origin);
    if (!e && (!json_is_array(ops) || json_array_size(ops) == 0))
        e = fr_diag_set(d, FR_ERR_BAD_MODEL,
                        "%s: field 'operators': expected a non-empty array of operators", origin);
    if (!e && json_array_size(ops) > FR_MODEL_MAX_OPS)
        e = fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: field 'operators': %zu operators, limit %d",
                        origin, json_array_size(ops), FR_MODEL_MAX_OPS);
    json_t *seen = NULL;
    if (!e) {
        m.ops = calloc(json_array_size(ops), sizeof *m.ops);
        seen = json_object();
        if (!m.ops || !seen) e = fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", origin);
    }
    for (size_t i = 0; !e && i < json_array_size(ops); i++) {
        e = read_operator(json_array_get(ops, i), i, origin, seen, &m.ops[i], d);
        if (!e) m.nops = i + 1;
    }
    json_decref(seen);
    if (e) {
        fr_model_cleanup(&m);
        return e;
    }
    *out = m;
    return FR_ERR_OK;
}

fr_err fr_model_parse(const char *buf, size_t len, const char *origin, fr_model *out, fr_diag *d)
{
    if (len > FR_MODEL_MAX_BYTES)
        return fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: %zu bytes, over the limit of %d bytes", origin,
                           len, FR_MODEL_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fr_diag_set(d, FR_ERR_BAD_JSON, "%s: line %d column %d (byte %d): %s", origin,
                           jerr.line, jerr.column, jerr.position, jerr.text);
    fr_err e = fr_model_from_json(root, origin, out, d);
    json_decref(root);
    return e;
}

fr_err fr_model_load_file(const char *path, fr_model *out, fr_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_diag_set(d, errno == ENOENT ? FR_ERR_NOT_FOUND : FR_ERR_IO, "%s: %s", path,
                           strerror(errno));
    struct stat st;
    fr_err e = FR_ERR_OK;
    char *buf = NULL;
    size_t len = 0;
    if (fstat(fileno(f), &st) != 0) {
        e = fr_diag_set(d, FR_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        e = fr_diag_set(d, FR_ERR_IO, "%s: not a regular file", path);
    } else if (st.st_size > FR_MODEL_MAX_BYTES) {
        e = fr_diag_set(d, FR_ERR_TOO_LARGE, "%s: %lld bytes, over the limit of %d bytes", path,
                        (long long)st.st_size, FR_MODEL_MAX_BYTES);
    } else {
        /* One byte more than fstat said, so a file that grew since is caught by the cap. */
        size_t want = (size_t)st.st_size + 1;
        buf = malloc(want);
        if (!buf) e = fr_diag_set(d, FR_ERR_NOMEM, "%s: out of memory", path);
        if (!e) len = fread(buf, 1, want, f);
        if (!e && len == want)
            e = fr_diag_set(d, FR_ERR_IO, "%s: the file changed while being read", path);
        if (!e && ferror(f)) e = fr_diag_set(d, FR_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    if (!e) e = fr_model_parse(buf, len, path, out, d);
    free(buf);
    return e;
}

void fr_model_cleanup(fr_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nops; i++)
        free(m->ops[i].name);
    free(m->ops);
    free(m->name);
    free(m->description);
    memset(m, 0, sizeof *m);
}
