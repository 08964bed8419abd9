/*
 * op.c - the operator description: output shape, operand sizes, FLOPs, validation with a detail
 * naming the field, and the canonical key (printed and parsed back). Formulas are those of
 * ../shared/models/README.md.
 */
#include "fr_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *fr_op_kind_name(fr_op_kind kind)
{
    switch (kind) {
    case FR_OP_CONV2D: return "conv2d";
    case FR_OP_MATMUL: return "matmul";
    default: return "unknown";
    }
}

void fr_conv2d_out(const fr_conv2d *c, int *p, int *q)
{
    int64_t ph = ((int64_t)c->h + 2 * (int64_t)c->pad[0] - (int64_t)c->dilation[0] * (c->r - 1) - 1);
    int64_t pw = ((int64_t)c->w + 2 * (int64_t)c->pad[1] - (int64_t)c->dilation[1] * (c->s - 1) - 1);
    /* Floor division for the negative case so an empty output is reported as <= 0. */
    *p = ph < 0 ? 0 : (int)(ph / c->stride[0] + 1);
    *q = pw < 0 ? 0 : (int)(pw / c->stride[1] + 1);
}

fr_op_sizes fr_op_sizes_of(const fr_op *op)
{
    fr_op_sizes s = {0, 0, 0};
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        int p, q;
        fr_conv2d_out(c, &p, &q);
        int64_t cg = c->groups > 0 ? c->c / c->groups : 0;
        s.src = (int64_t)c->n * c->c * c->h * c->w;
        s.wei = (int64_t)c->k * cg * c->r * c->s;
        s.dst = (int64_t)c->n * c->k * p * q;
    } else if (op->kind == FR_OP_MATMUL) {
        const fr_matmul *m = &op->mm;
        s.src = (int64_t)m->batch * m->m * m->k;
        s.wei = (int64_t)m->batch * m->k * m->n;
        s.dst = (int64_t)m->batch * m->m * m->n;
    }
    return s;
}

double fr_op_flops(const fr_op *op)
{
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        int p, q;
        fr_conv2d_out(c, &p, &q);
        return 2.0 * c->n * c->k * p * q * (double)(c->c / c->groups) * c->r * c->s;
    }
    const fr_matmul *m = &op->mm;
    return 2.0 * m->batch * m->m * m->n * (double)m->k;
}

static fr_err check_dim(const char *field, int v, int min, fr_diag *d)
{
    if (v < min || v > FR_MAX_DIM)
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "field '%s': %d is out of range [%d, %d]", field,
                           v, min, FR_MAX_DIM);
    return FR_ERR_OK;
}

#define CHECK(field, v, min)                                                                       \
    do {                                                                                           \
        fr_err e_ = check_dim(field, v, min, d);                                                   \
        if (e_) return e_;                                                                         \
    } while (0)

static fr_err check_bytes(const char *what, int64_t elems, fr_diag *d)
{
    /* elems is a product of bounded ints; compare in floating point to dodge overflow. */
    if ((double)elems * 4.0 > (double)FR_MAX_TENSOR_BYTES || elems <= 0)
        return fr_diag_set(d, FR_ERR_TOO_LARGE,
                           "the %s buffer would hold %" PRId64 " floats, over the limit of %" PRId64
                           " bytes",
                           what, elems, FR_MAX_TENSOR_BYTES);
    return FR_ERR_OK;
}

fr_err fr_op_validate(const fr_op *op, fr_diag *d)
{
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        CHECK("n", c->n, 1);
        CHECK("c", c->c, 1);
        CHECK("h", c->h, 1);
        CHECK("w", c->w, 1);
        CHECK("k", c->k, 1);
        CHECK("r", c->r, 1);
        CHECK("s", c->s, 1);
        CHECK("stride", c->stride[0], 1);
        CHECK("stride", c->stride[1], 1);
        CHECK("pad", c->pad[0], 0);
        CHECK("pad", c->pad[1], 0);
        CHECK("dilation", c->dilation[0], 1);
        CHECK("dilation", c->dilation[1], 1);
        CHECK("groups", c->groups, 1);
        if (c->c % c->groups)
            return fr_diag_set(d, FR_ERR_BAD_MODEL,
                               "field 'groups': c=%d is not divisible by groups=%d", c->c,
                               c->groups);
        if (c->k % c->groups)
            return fr_diag_set(d, FR_ERR_BAD_MODEL,
                               "field 'groups': k=%d is not divisible by groups=%d", c->k,
                               c->groups);
        int p, q;
        fr_conv2d_out(c, &p, &q);
        if (p <= 0)
            return fr_diag_set(d, FR_ERR_BAD_MODEL,
                               "field 'h': output height would be empty (h=%d, pad=%d, "
                               "dilation=%d, r=%d)",
                               c->h, c->pad[0], c->dilation[0], c->r);
        if (q <= 0)
            return fr_diag_set(d, FR_ERR_BAD_MODEL,
                               "field 'w': output width would be empty (w=%d, pad=%d, "
                               "dilation=%d, s=%d)",
                               c->w, c->pad[1], c->dilation[1], c->s);
    } else if (op->kind == FR_OP_MATMUL) {
        const fr_matmul *m = &op->mm;
        CHECK("batch", m->batch, 1);
        CHECK("m", m->m, 1);
        CHECK("n", m->n, 1);
        CHECK("k", m->k, 1);
    } else {
        return fr_diag_set(d, FR_ERR_BAD_MODEL, "field 'op': unknown operator kind");
    }
    fr_op_sizes s = fr_op_sizes_of(op);
    fr_err e;
    if ((e = check_bytes(op->kind == FR_OP_CONV2D ? "input" : "A", s.src, d))) return e;
    if ((e = check_bytes(op->kind == FR_OP_CONV2D ? "weight" : "B", s.wei, d))) return e;
    if ((e = check_bytes(op->kind == FR_OP_CONV2D ? "output" : "C", s.dst, d))) return e;
    return FR_ERR_OK;
}

void fr_op_key(const fr_op *op, bool wp, char *buf, size_t len)
{
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        snprintf(buf, len,
                 "conv2d n=%d c=%d h=%d w=%d k=%d r=%d s=%d stride=%d,%d pad=%d,%d dilation=%d,%d "
                 "groups=%d f32 wp=%d",
                 c->n, c->c, c->h, c->w, c->k, c->r, c->s, c->stride[0], c->stride[1], c->pad[0],
                 c->pad[1], c->dilation[0], c->dilation[1], c->groups, wp ? 1 : 0);
    } else {
        const fr_matmul *m = &op->mm;
        snprintf(buf, len, "matmul batch=%d m=%d n=%d k=%d f32 wp=%d", m->batch, m->m, m->n, m->k,
                 wp ? 1 : 0);
    }
}

fr_err fr_op_parse_key(const char *key, fr_op *op, bool *wp, fr_diag *d)
{
    fr_op o;
    memset(&o, 0, sizeof o);
    int w = -1, used = 0;
    size_t klen = strnlen(key, FR_MAX_KEY_LEN + 1);
    if (klen > FR_MAX_KEY_LEN)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "key is longer than %d bytes", FR_MAX_KEY_LEN);
    if (strncmp(key, "conv2d ", 7) == 0) {
        fr_conv2d *c = &o.conv;
        o.kind = FR_OP_CONV2D;
        if (sscanf(key,
                   "conv2d n=%d c=%d h=%d w=%d k=%d r=%d s=%d stride=%d,%d pad=%d,%d dilation=%d,%d "
                   "groups=%d f32 wp=%d%n",
                   &c->n, &c->c, &c->h, &c->w, &c->k, &c->r, &c->s, &c->stride[0], &c->stride[1],
                   &c->pad[0], &c->pad[1], &c->dilation[0], &c->dilation[1], &c->groups, &w,
                   &used) != 15)
            used = -1;
    } else if (strncmp(key, "matmul ", 7) == 0) {
        fr_matmul *m = &o.mm;
        o.kind = FR_OP_MATMUL;
        if (sscanf(key, "matmul batch=%d m=%d n=%d k=%d f32 wp=%d%n", &m->batch, &m->m, &m->n,
                   &m->k, &w, &used) != 5)
            used = -1;
    } else {
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "key '%.80s' names no known operator kind", key);
    }
    if (used < 0 || (size_t)used != klen || (w != 0 && w != 1))
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "key '%.120s' is not a canonical operator key",
                           key);
    fr_diag sub;
    if (fr_op_validate(&o, &sub) != FR_ERR_OK)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "key '%.120s': %s", key, sub.msg);
    /* Canonical means printing it back gives the same bytes (no "+1", no leading zeros). */
    char again[FR_MAX_KEY_LEN + 1];
    fr_op_key(&o, w == 1, again, sizeof again);
    if (strcmp(again, key) != 0)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "key '%.120s' is not in canonical form", key);
    *op = o;
    *wp = w == 1;
    return FR_ERR_OK;
}

/* "2" when both sides agree, "2x1" otherwise. */
static void pair_text(const int v[2], char *buf, size_t len)
{
    if (v[0] == v[1])
        snprintf(buf, len, "%d", v[0]);
    else
        snprintf(buf, len, "%dx%d", v[0], v[1]);
}

void fr_op_describe(const fr_op *op, char *buf, size_t len)
{
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        int p, q;
        fr_conv2d_out(c, &p, &q);
        char st[24], pd[24], dl[32] = "", grp[32] = "";
        pair_text(c->stride, st, sizeof st);
        pair_text(c->pad, pd, sizeof pd);
        if (c->dilation[0] != 1 || c->dilation[1] != 1) {
            char t[24];
            pair_text(c->dilation, t, sizeof t);
            snprintf(dl, sizeof dl, " d%s", t);
        }
        if (c->groups == c->c && c->groups == c->k && c->groups > 1)
            snprintf(grp, sizeof grp, " depthwise");
        else if (c->groups > 1)
            snprintf(grp, sizeof grp, " g%d", c->groups);
        snprintf(buf, len, "conv2d %dx%d s%s p%s%s%s, %d->%d ch, %dx%d->%dx%d, n=%d", c->r, c->s,
                 st, pd, dl, grp, c->c, c->k, c->h, c->w, p, q, c->n);
    } else {
        const fr_matmul *m = &op->mm;
        if (m->batch > 1)
            snprintf(buf, len, "matmul %d x (%dx%d * %dx%d)", m->batch, m->m, m->k, m->k, m->n);
        else
            snprintf(buf, len, "matmul %dx%d * %dx%d", m->m, m->k, m->k, m->n);
    }
}
