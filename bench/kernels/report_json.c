/*
 * report_json.c - one run of bench-kernels as JSON (jansson): environment-free, the caller
 * (main.c) wraps the runs with the environment. Every operator carries every fastrun candidate
 * (time or failure), both oneDNN layouts (implementation, layouts, time, error against the
 * reference) and the three ratios; the run carries the totals and their ratios.
 */
#include "kbench.h"

#include <jansson.h>
#include <string.h>

static json_t *time_json(const kb_time *t)
{
    return json_pack("{s:f, s:f, s:i, s:f, s:b}", "median_ms", t->median_ms, "min_ms", t->min_ms,
                     "samples", t->samples, "others_cores", t->others, "disturbed", t->disturbed);
}

static json_t *fastrun_json(const kb_fastrun *fr)
{
    json_t *cands = json_array();
    for (size_t i = 0; cands && i < fr->ncand; i++) {
        const kb_candidate *c = &fr->cand[i];
        json_t *j = c->failure[0]
                        ? json_pack("{s:s, s:s}", "algorithm", c->algo->name, "failure", c->failure)
                        : json_pack("{s:s, s:b, s:o}", "algorithm", c->algo->name, "preprocessed",
                                    c->preprocessed, "time", time_json(&c->t));
        json_array_append_new(cands, j);
    }
    return json_pack("{s:s?, s:s?, s:o}", "pick",
                     fr->best >= 0 ? fr->cand[fr->best].algo->name : NULL, "baseline",
                     fr->baseline >= 0 ? fr->cand[fr->baseline].algo->name : NULL, "candidates",
                     cands);
}

static json_t *dnnl_json(const kb_dnnl_result *d)
{
    if (!d->measured && !d->impl[0]) return json_pack("{s:s}", "failure", d->failure);
    return json_pack("{s:s, s:s, s:o, s:f, s:f, s:s?}", "impl", d->impl, "layouts", d->layouts,
                     "time", d->measured ? time_json(&d->t) : json_null(), "max_error", d->max_err,
                     "tolerance", d->tolerance, "failure", d->failure[0] ? d->failure : NULL);
}

static json_t *ratio_json(bool has, double num, double den)
{
    return has && den > 0 ? json_real(num / den) : json_null();
}

static json_t *ratios_json(const kb_cols *c)
{
    return json_pack("{s:o, s:o, s:o}", "fastrun_over_onednn_nchw",
                     ratio_json(c->has_fr && c->has_dnnl[KB_PLAIN], c->fr, c->dnnl[KB_PLAIN]),
                     "fastrun_over_onednn_blocked",
                     ratio_json(c->has_fr && c->has_dnnl[KB_BLOCKED], c->fr, c->dnnl[KB_BLOCKED]),
                     "im2col_over_fastrun", ratio_json(c->has_fr && c->has_base, c->base, c->fr));
}

static json_t *ms_json(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

void *kb_report_json(const kb_run *r)
{
    json_t *ops = json_array();
    for (size_t i = 0; ops && i < r->model->nops; i++) {
        const kb_op_result *o = &r->ops[i];
        char key[FR_MAX_KEY_LEN], cls[40];
        fr_op_key(&o->mop->op, true, key, sizeof key);
        kb_class_of(&o->mop->op, cls, sizeof cls);
        kb_cols c = kb_cols_of(o);
        json_array_append_new(
            ops,
            json_pack("{s:s, s:s, s:s, s:f, s:o, s:{s:o, s:o}, s:o, s:{s:i, s:i, s:i, s:f, "
                      "s:f}}",
                      "name", o->mop->name, "key", key, "class", cls, "flops", o->flops, "fastrun",
                      fastrun_json(&o->fr), "onednn", "nchw", dnnl_json(&o->dnnl[KB_PLAIN]),
                      "blocked", dnnl_json(&o->dnnl[KB_BLOCKED]), "ratios", ratios_json(&c),
                      "conditions", "attempts", o->attempts, "disturbed", o->disturbed, "measured",
                      o->measured, "busy_before", o->busy, "waited_s", o->waited_s));
    }
    kb_cols t = kb_cols_total(r);
    return json_pack(
        "{s:s, s:i, s:f, s:f, s:f, s:o, s:{s:o, s:o, s:o, s:o, s:o}}", "model", r->model->name,
        "threads", r->threads, "load_before", r->load_before, "load_after", r->load_after, "wall_s",
        r->wall_s, "operators", ops, "totals", "fastrun_ms", ms_json(t.has_fr, t.fr), "im2col_ms",
        ms_json(t.has_base, t.base), "onednn_nchw_ms",
        ms_json(t.has_dnnl[KB_PLAIN], t.dnnl[KB_PLAIN]), "onednn_blocked_ms",
        ms_json(t.has_dnnl[KB_BLOCKED], t.dnnl[KB_BLOCKED]), "ratios", ratios_json(&t));
}
