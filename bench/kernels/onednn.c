/*
 * onednn.c - oneDNN's side of the comparison, through its C API (oneDNN 2.x, dnnl.h).
 *
 * Two layouts per operator:
 *   KB_PLAIN:   the tensors exactly as fastrun holds them (conv: NCHW, weights OIHW or GOIHW,
 *               output NCHW; matmul: row-major), so oneDNN works on our interface as is and any
 *               repacking it needs happens inside the timed execution;
 *   KB_BLOCKED: conv: src, weights and dst as dnnl_format_tag_any (oneDNN picks its preferred,
 *               usually channel-blocked layouts); matmul: weights only, A and C stay row-major.
 *               Input and weights are reordered into those layouts before timing and only the
 *               primitive's execution is timed, as a framework that keeps tensors blocked would
 *               run it; the output is reordered back afterwards, for the check.
 * The convolution algorithm is dnnl_convolution_auto (oneDNN chooses, e.g. direct or Winograd),
 * propagation forward_inference, no bias. The scratchpad is in user mode and allocated before
 * timing, like fastrun's workspace. The output is checked against the reference within 16x the
 * verification bound (the loosest factor fastrun grants its own Winograd kernel).
 */
#include "kbench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#define DNNL_TOL_FACTOR 16.0

struct kb_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
};

const char *kb_layout_name(kb_layout l)
{
    return l == KB_PLAIN ? "nchw" : "blocked";
}

fr_err kb_dnnl_new(kb_dnnl **out, fr_diag *d)
{
    kb_dnnl *k = calloc(1, sizeof *k);
    if (!k) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    dnnl_status_t st = dnnl_engine_create(&k->engine, dnnl_cpu, 0);
    if (st == dnnl_success)
        st = dnnl_stream_create(&k->stream, k->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        kb_dnnl_free(k);
        return fr_diag_set(d, FR_ERR_UNAVAILABLE, "oneDNN CPU engine: %s", dnnl_status2str(st));
    }
    *out = k;
    return FR_ERR_OK;
}

void kb_dnnl_free(kb_dnnl *k)
{
    if (!k) return;
    if (k->stream) dnnl_stream_destroy(k->stream);
    if (k->engine) dnnl_engine_destroy(k->engine);
    free(k);
}

void kb_dnnl_describe(char *buf, size_t len)
{
    const dnnl_version_t *v = dnnl_version();
    const char *rt = v->cpu_runtime == DNNL_RUNTIME_OMP   ? "OpenMP"
                     : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                     : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                          : "other";
    snprintf(buf, len, "oneDNN %d.%d.%d (%s runtime), ISA %s", v->major, v->minor, v->patch, rt,
             dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
}

/* ---------------------------------------------------------------------------------------------
 * Descriptors
 * ------------------------------------------------------------------------------------------- */
enum { SRC = 0, WEI = 1, DST = 2 };

/* The plain (user) descriptors of op: src, weights, dst. */
static dnnl_status_t plain_descs(const fr_op *op, dnnl_memory_desc_t md[3])
{
    dnnl_status_t st;
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        int p, q, g = c->groups;
        fr_conv2d_out(c, &p, &q);
        dnnl_dims_t s = {c->n, c->c, c->h, c->w}, o = {c->n, c->k, p, q};
        dnnl_dims_t w4 = {c->k, c->c, c->r, c->s}, w5 = {g, c->k / g, c->c / g, c->r, c->s};
        st = dnnl_memory_desc_init_by_tag(&md[SRC], 4, s, dnnl_f32, dnnl_nchw);
        if (st == dnnl_success)
            st = g == 1 ? dnnl_memory_desc_init_by_tag(&md[WEI], 4, w4, dnnl_f32, dnnl_oihw)
                        : dnnl_memory_desc_init_by_tag(&md[WEI], 5, w5, dnnl_f32, dnnl_goihw);
        if (st == dnnl_success)
            st = dnnl_memory_desc_init_by_tag(&md[DST], 4, o, dnnl_f32, dnnl_nchw);
        return st;
    }
    const fr_matmul *m = &op->mm;
    int nd = m->batch == 1 ? 2 : 3;
    dnnl_format_tag_t tag = nd == 2 ? dnnl_ab : dnnl_abc;
    dnnl_dims_t a = {m->batch, m->m, m->k}, b = {m->batch, m->k, m->n}, c = {m->batch, m->m, m->n};
    int off = nd == 2 ? 1 : 0; /* 2-D: drop the batch dimension */
    st = dnnl_memory_desc_init_by_tag(&md[SRC], nd, a + off, dnnl_f32, tag);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&md[WEI], nd, b + off, dnnl_f32, tag);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&md[DST], nd, c + off, dnnl_f32, tag);
    return st;
}

/* The descriptors the primitive is created with: plain, or format_tag_any where oneDNN may
 * choose (conv: all three; matmul: the weights). */
static dnnl_status_t prim_descs(const fr_op *op, kb_layout l, const dnnl_memory_desc_t user[3],
                                dnnl_memory_desc_t md[3])
{
    for (int i = 0; i < 3; i++) {
        md[i] = user[i];
        bool any = l == KB_BLOCKED && (op->kind == FR_OP_CONV2D || i == WEI);
        if (!any) continue;
        dnnl_status_t st = dnnl_memory_desc_init_by_tag(&md[i], user[i].ndims, user[i].dims,
                                                        dnnl_f32, dnnl_format_tag_any);
        if (st != dnnl_success) return st;
    }
    return dnnl_success;
}

static dnnl_status_t make_pd(const kb_dnnl *k, const fr_op *op, const dnnl_memory_desc_t md[3],
                             const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd)
{
    dnnl_status_t st;
    if (op->kind == FR_OP_CONV2D) {
        const fr_conv2d *c = &op->conv;
        dnnl_dims_t strides = {c->stride[0], c->stride[1]};
        dnnl_dims_t dil = {c->dilation[0] - 1, c->dilation[1] - 1}; /* oneDNN: 0 = dense */
        dnnl_dims_t pad = {c->pad[0], c->pad[1]};
        dnnl_convolution_desc_t cd;
        st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                        dnnl_convolution_auto, &md[SRC], &md[WEI],
                                                        NULL, &md[DST], strides, dil, pad, pad);
        return st == dnnl_success ? dnnl_primitive_desc_create(pd, &cd, attr, k->engine, NULL) : st;
    }
    dnnl_matmul_desc_t mmd;
    st = dnnl_matmul_desc_init(&mmd, &md[SRC], &md[WEI], NULL, &md[DST]);
    return st == dnnl_success ? dnnl_primitive_desc_create(pd, &mmd, attr, k->engine, NULL) : st;
}

/* A layout in oneDNN's letter notation: dimensions a, b, c... outermost first, upper case when
 * blocked, then the inner blocks ("aBcd16b" is NCHW with channels in blocks of 16). */
static void layout_text(const dnnl_memory_desc_t *md, char *buf, size_t len)
{
    if (md->format_kind != dnnl_blocked) {
        snprintf(buf, len, "%s", md->format_kind == dnnl_format_kind_wino ? "wino" : "opaque");
        return;
    }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int order[DNNL_MAX_NDIMS];
    for (int i = 0; i < md->ndims; i++)
        order[i] = i;
    for (int i = 1; i < md->ndims; i++) /* insertion sort, outermost (largest stride) first */
        for (int j = i; j > 0 && b->strides[order[j]] > b->strides[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    size_t n = 0;
    for (int i = 0; i < md->ndims && n + 1 < len; i++) {
        bool blocked = false;
        for (int j = 0; j < b->inner_nblks; j++)
            blocked |= b->inner_idxs[j] == order[i];
        buf[n++] = (char)((blocked ? 'A' : 'a') + order[i]);
    }
    buf[n < len ? n : len - 1] = '\0';
    for (int j = 0; j < b->inner_nblks && n + 1 < len; j++) {
        int w = snprintf(buf + n, len - n, "%lld%c", (long long)b->inner_blks[j],
                         (char)('a' + b->inner_idxs[j]));
        n += w > 0 ? (size_t)w : 0;
    }
}

/* ---------------------------------------------------------------------------------------------
 * One primitive with its memories
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t user[3]; /* plain layouts over vr's operands and our output buffer */
    dnnl_memory_t mem[3];  /* the primitive's: user[i] itself, or its own reordered copy */
    dnnl_memory_t scratch;
    float *dst; /* plain output, frk_alloc'ed */
    dnnl_exec_arg_t args[4];
    int nargs;
} prim_run;

static void run_prim(void *arg)
{
    prim_run *p = arg;
    dnnl_primitive_execute(p->prim, p->stream, p->nargs, p->args);
    dnnl_stream_wait(p->stream);
}

static void prim_free(prim_run *p)
{
    for (int i = 0; i < 3; i++) {
        if (p->mem[i] && p->mem[i] != p->user[i]) dnnl_memory_destroy(p->mem[i]);
        if (p->user[i]) dnnl_memory_destroy(p->user[i]);
    }
    if (p->scratch) dnnl_memory_destroy(p->scratch);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    frk_free(p->dst);
}

/* Copies from -> to with a reorder primitive (outside any timed region). */
static dnnl_status_t reorder(const kb_dnnl *k, dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *fmd, *tmd;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_status_t st = dnnl_memory_get_memory_desc(from, &fmd);
    if (st == dnnl_success) st = dnnl_memory_get_memory_desc(to, &tmd);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&rpd, fmd, k->engine, tmd, k->engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&r, rpd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        st = dnnl_primitive_execute(r, k->stream, 2, args);
    }
    if (st == dnnl_success) st = dnnl_stream_wait(k->stream);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return st;
}

/* max |dst - ref| (+inf for a non-finite output). */
static double max_error(const float *dst, const float *ref, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)dst[i] - (double)ref[i]);
        if (!isfinite(e)) return INFINITY;
        if (e > worst) worst = e;
    }
    return worst;
}

#define TRY(what, call)                                                                            \
    do {                                                                                           \
        st = (call);                                                                               \
        if (st != dnnl_success) {                                                                  \
            step = (what);                                                                         \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

fr_err kb_dnnl_measure(kb_dnnl *k, const frk_verify_ref *vr, kb_layout l, const kb_timing *t,
                       double *samples, kb_dnnl_result *out)
{
    memset(out, 0, sizeof *out);
    const fr_op *op = &vr->op;
    prim_run p;
    memset(&p, 0, sizeof p);
    p.stream = k->stream;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_memory_desc_t user_md[3], md[3];
    dnnl_status_t st = dnnl_success;
    const char *step = NULL;
    int64_t ndst = fr_op_sizes_of(op).dst;
    p.dst = frk_alloc((size_t)ndst * sizeof(float));
    if (!p.dst) return FR_ERR_NOMEM;

    TRY("memory descriptors", plain_descs(op, user_md));
    TRY("memory descriptors", prim_descs(op, l, user_md, md));
    TRY("attributes", dnnl_primitive_attr_create(&attr));
    TRY("attributes", dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    TRY("primitive descriptor", make_pd(k, op, md, attr, &p.pd));
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(p.pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(out->impl, sizeof out->impl, "%s", impl);
    static const dnnl_query_t queries[3] = {dnnl_query_src_md, dnnl_query_weights_md,
                                            dnnl_query_dst_md};
    void *handles[3] = {(void *)vr->src, (void *)vr->wei, p.dst};
    char lay[3][48];
    for (int i = 0; i < 3; i++) {
        const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(p.pd, queries[i], 0);
        TRY("memory", dnnl_memory_create(&p.user[i], &user_md[i], k->engine, handles[i]));
        if (dnnl_memory_desc_equal(pmd, &user_md[i]))
            p.mem[i] = p.user[i];
        else
            TRY("memory", dnnl_memory_create(&p.mem[i], pmd, k->engine, DNNL_MEMORY_ALLOCATE));
        layout_text(pmd, lay[i], sizeof lay[i]);
    }
    snprintf(out->layouts, sizeof out->layouts, "src %s, wei %s, dst %s", lay[SRC], lay[WEI],
             lay[DST]);
    for (int i = SRC; i <= WEI; i++) /* operands into the primitive's layouts, before timing */
        if (p.mem[i] != p.user[i]) TRY("reorder in", reorder(k, p.user[i], p.mem[i]));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(p.pd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0)
        TRY("scratchpad", dnnl_memory_create(&p.scratch, smd, k->engine, DNNL_MEMORY_ALLOCATE));
    TRY("primitive", dnnl_primitive_create(&p.prim, p.pd));
    p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, p.mem[SRC]};
    p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, p.mem[WEI]};
    p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DST, p.mem[DST]};
    if (p.scratch) p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p.scratch};
    TRY("execute", dnnl_primitive_execute(p.prim, p.stream, p.nargs, p.args)); /* status check */
    kb_time_loop(t, run_prim, &p, samples, &out->t);
    if (p.mem[DST] != p.user[DST]) TRY("reorder out", reorder(k, p.mem[DST], p.user[DST]));
    out->max_err = max_error(p.dst, vr->ref, ndst);
    out->tolerance = DNNL_TOL_FACTOR * vr->tol_base;
    out->measured = out->max_err <= out->tolerance;
    if (!out->measured)
        snprintf(out->failure, sizeof out->failure, "wrong result: max error %.3g > %.3g",
                 out->max_err, out->tolerance);
done:
    if (step) snprintf(out->failure, sizeof out->failure, "%s: %s", step, dnnl_status2str(st));
    if (attr) dnnl_primitive_attr_destroy(attr);
    prim_free(&p);
    return FR_ERR_OK;
}
