/*
 * run.c - the local runner (DESIGN.md "The local runner"): for every operator of a model, pick
 * an algorithm from the cached ranking, a fresh profile or the heuristic, saying which and why;
 * then set the model up (random weights and inputs from a fixed seed, weights preprocessed once
 * when asked) and time whole-model runs. Where MegEngine would abort, this falls back and says
 * why: an entry with nothing that meets the policy is re-profiled if allowed, else the heuristic
 * decides.
 *
 * Policy of a run: REPRODUCIBLE required with --reproducible, NAIVE forbidden unless --full-run,
 * and the workspace limit. Profiling itself always measures every candidate (policies apply
 * when reading). The attributes the policy tests come from this build's kernel registry, not
 * from the cache: an algorithm the registry does not know is skipped and named in the reason.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

const char *frw_source_name(frw_source s)
{
    switch (s) {
    case FRW_SRC_CACHE:
        return "cache";
    case FRW_SRC_PROFILED:
        return "profiled";
    case FRW_SRC_HEURISTIC:
        return "heuristic";
    }
    return "unknown";
}

void frw_run_opts_default(frw_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->iterations = 10;
    frw_profile_opts_default(&o->prof);
}

static frc_policy policy_of(const frw_run_opts *o)
{
    frc_policy p = {
        .required = o->reproducible ? FR_ATTR_REPRODUCIBLE : 0,
        .forbidden = o->prof.full ? 0 : FR_ATTR_NAIVE,
        .max_workspace = o->workspace_limit,
    };
    return p;
}

/* The heuristic under the run's policy; when nothing meets it, the policy is relaxed one step at
 * a time (NAIVE allowed, then any attributes, then any workspace) and the reason says so. The
 * naive algorithm applies to every operator, so the last step always finds one. */
static void use_heuristic(const fr_op *op, const frw_run_opts *o, const char *because,
                          frw_op_record *rec)
{
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    frc_policy p = policy_of(o);
    const struct {
        unsigned required, forbidden;
        size_t ws;
        const char *note;
    } steps[] = {
        {p.required, p.forbidden, o->workspace_limit, ""},
        {p.required, 0, o->workspace_limit, " (nothing else meets the policy: NAIVE allowed)"},
        {0, 0, o->workspace_limit, " (nothing meets the policy: attributes relaxed)"},
        {0, 0, 0, " (nothing meets the policy: workspace limit relaxed)"},
    };
    const char *why = "";
    const frk_algo *a = NULL;
    size_t i = 0;
    for (; i < sizeof steps / sizeof steps[0] && !a; i++)
        a = frk_heuristic(op, o->weight_preprocess, &ctx, steps[i].required, steps[i].forbidden, steps[i].ws, &why);
    rec->algo = a;
    rec->source = FRW_SRC_HEURISTIC;
    snprintf(rec->why, sizeof rec->why, "%s; heuristic: %s%s", because, why, steps[i - 1].note);
}

/* frc_attrs_fn: attributes come from this build's kernel registry, never from the cache file
 * (a downloaded or edited file may mislabel an algorithm; the server cannot tell). */
static bool local_attrs(void *ctx, const char *algorithm, unsigned *attrs)
{
    (void)ctx;
    const frk_algo *a = frk_algo_find(algorithm);
    if (a) *attrs = a->attrs;
    return a != NULL;
}

/* Appends to rec->why what the registry rule changed for this entry: algorithms skipped as
 * unknown to this build, and those whose cached attributes were overridden. */
static void note_registry(const frc_category *cat, frw_op_record *rec)
{
    const frc_entry *e = cat ? frc_category_find(cat, rec->key) : NULL;
    char unknown[160] = "", relabelled[160] = "";
    for (size_t i = 0; e && i < e->nresults; i++) {
        const frc_result *r = &e->results[i];
        unsigned attrs = 0;
        bool known = local_attrs(NULL, r->algorithm, &attrs);
        if (known && attrs == r->attrs) continue;
        char *dst = known ? relabelled : unknown;
        size_t len = strlen(dst);
        snprintf(dst + len, sizeof unknown - len, "%s%.60s", len ? ", " : "", r->algorithm);
    }
    size_t len = strlen(rec->why);
    if (*unknown)
        len += (size_t)snprintf(rec->why + len, sizeof rec->why - len,
                                "; skipped (unknown to this build's registry): %s", unknown);
    if (len < sizeof rec->why && *relabelled)
        snprintf(rec->why + len, sizeof rec->why - len,
                 "; attributes taken from this build's registry, not the cache, for: %s",
                 relabelled);
}

/* The cached candidates for --verbose, with the attributes the choice used (the registry's). */
static fr_err copy_candidates(const frc_category *cat, frw_op_record *rec)
{
    const frc_entry *e = cat ? frc_category_find(cat, rec->key) : NULL;
    if (!e || e->nresults == 0) return FR_ERR_OK;
    rec->candidates = calloc(e->nresults, sizeof *rec->candidates);
    if (!rec->candidates) return FR_ERR_NOMEM;
    for (size_t i = 0; i < e->nresults; i++) {
        if (frc_result_copy(&e->results[i], &rec->candidates[i])) return FR_ERR_NOMEM;
        (void)local_attrs(NULL, e->results[i].algorithm, &rec->candidates[i].attrs);
        rec->ncandidates = i + 1;
    }
    return FR_ERR_OK;
}

/* Uses a looked-up result: the algorithm must exist in this build and apply to op. */
static void use_result(const fr_op *op, const frw_run_opts *o, const frc_result *best,
                       frw_source src, const char *what, frw_op_record *rec)
{
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    const frk_algo *a = frk_algo_find(best->algorithm);
    if (!a || (a->applicable && !a->applicable(op, &ctx))) {
        char because[200];
        snprintf(because, sizeof because, "%s names '%.60s', which this build cannot run", what,
                 best->algorithm);
        use_heuristic(op, o, because, rec);
        return;
    }
    const frc_entry *e = frc_category_find(o->cat, rec->key);
    const frc_result *top = e && e->nresults ? &e->results[0] : best;
    rec->algo = a;
    rec->source = src;
    if (top == best)
        snprintf(rec->why, sizeof rec->why, "%s: fastest of %zu candidates (median %.4g ms)", what,
                 e ? e->nresults : (size_t)1, best->median_ms);
    else
        snprintf(rec->why, sizeof rec->why,
                 "%s: fastest of %zu candidates that meets the policy (median %.4g ms; %.60s "
                 "is faster but excluded)",
                 what, e ? e->nresults : (size_t)1, best->median_ms, top->algorithm);
}

/* Progress on stderr while profiling (only when the caller asked: a terminal). */
typedef struct {
    size_t i, n;
    const char *name;
} progress;

static void on_candidate(void *ctx, size_t i, size_t n, const char *algo)
{
    const progress *p = ctx;
    enum { WIDTH = 20 };
    /* Operators done plus the fraction of this one's candidates done. */
    double done = ((double)p->i + (double)i / (double)n) / (double)p->n;
    char bar[WIDTH + 1];
    for (int k = 0; k < WIDTH; k++)
        bar[k] = k < (int)(done * WIDTH) ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r\033[K[%s] %zu/%zu %.40s: %s (%zu/%zu)", bar, p->i + 1, p->n, p->name, algo,
            i + 1, n);
    fflush(stderr);
}

static fr_err profile_one(const fr_model_op *mop, size_t idx, const frw_run_opts *o,
                          frw_op_record *rec, frw_run_report *rep, fr_diag *d)
{
    frw_profile_opts po = o->prof;
    progress pr = {idx, rep->nops, mop->name};
    if (o->progress) {
        po.on_candidate = on_candidate;
        po.cb_ctx = &pr;
    }
    frc_result *res = NULL;
    size_t n = 0;
    fr_err e = frw_profile_op(&mop->op, o->weight_preprocess, &po, &res, &n, &rec->log, d);
    if (o->progress) fprintf(stderr, "\r\033[K");
    if (!e) e = frc_category_put(o->cat, rec->key, res, n);
    if (!e) e = frc_entry_set_heuristic(frc_category_find(o->cat, rec->key), rec->log.heuristic);
    frw_results_free(res, n);
    if (e) {
        fr_diag_prefix(d, "operator '%s'", mop->name);
        return e;
    }
    rec->has_log = true;
    rep->profiled++;
    rep->profiling_s += rec->log.total_s;
    if (o->sink) e = o->sink(o->sink_ctx, o->cat, rec->key, &rec->log, d);
    return e;
}

static fr_err choose(const fr_model *m, size_t idx, const frw_run_opts *o, frw_run_report *rep,
                     fr_diag *d)
{
    const fr_model_op *mop = &m->ops[idx];
    frw_op_record *rec = &rep->ops[idx];
    frc_policy pol = policy_of(o);
    const frc_result *best = NULL;
    frc_lookup_status st =
        o->cat ? frc_lookup_with(o->cat, rec->key, &pol, local_attrs, NULL, &best, NULL) : FRC_MISS;
    char what[160];
    snprintf(what, sizeof what, "cache hit in %s", o->cache_name ? o->cache_name : "memory");
    for (size_t i = 0; i < idx && st == FRC_HIT; i++)
        if (rep->ops[i].source == FRW_SRC_PROFILED && strcmp(rep->ops[i].key, rec->key) == 0)
            snprintf(what, sizeof what, "same key as operator '%.60s', profiled in this run",
                     rep->ops[i].name);
    if (st == FRC_HIT) {
        use_result(&mop->op, o, best, FRW_SRC_CACHE, what, rec);
    } else if (o->profile) {
        fr_err e = profile_one(mop, idx, o, rec, rep, d);
        if (e) return e;
        bool had_entry = st == FRC_NONE_ACCEPTED;
        st = frc_lookup_with(o->cat, rec->key, &pol, local_attrs, NULL, &best, NULL);
        snprintf(what, sizeof what, "%s",
                 had_entry ? "re-profiled (the cached entry had nothing meeting the policy)"
                           : "profiled");
        if (st == FRC_HIT)
            use_result(&mop->op, o, best, FRW_SRC_PROFILED, what, rec);
        else
            use_heuristic(&mop->op, o, "profiled, but no measured algorithm meets the policy", rec);
    } else if (st == FRC_NONE_ACCEPTED) {
        use_heuristic(&mop->op, o, "cached entry has no algorithm meeting the policy", rec);
    } else if (o->cat || o->cache_name) {
        snprintf(what, sizeof what, "miss: not in %s for this category",
                 o->cache_name ? o->cache_name : "the cache");
        use_heuristic(&mop->op, o, what, rec);
    } else {
        use_heuristic(&mop->op, o, "no cache", rec);
    }
    note_registry(o->cat, rec);
    if (copy_candidates(o->cat, rec)) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    return FR_ERR_OK;
}

/* The model's data. Inputs and weights come from one random pool each, as large as the largest
 * operand of any operator and shared read-only by all of them, so set-up costs what the largest
 * operator costs, not what the whole model does. Outputs, workspaces and preprocessed weights
 * are per operator. */
typedef struct {
    float *src, *wei;
    frw_buffers *bufs; /* one per operator */
    size_t n;
} model_data;

static void model_data_free(model_data *md)
{
    for (size_t i = 0; md->bufs && i < md->n; i++)
        frw_buffers_free(&md->bufs[i]);
    free(md->bufs);
    frk_free(md->src);
    frk_free(md->wei);
    memset(md, 0, sizeof *md);
}

static fr_err setup(const fr_model *m, const frw_run_opts *o, frw_run_report *rep, model_data *md,
                    fr_diag *d)
{
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    double start = frw_now();
    int64_t src = 0, wei = 0;
    for (size_t i = 0; i < m->nops; i++) {
        fr_op_sizes s = fr_op_sizes_of(&m->ops[i].op);
        src = s.src > src ? s.src : src;
        wei = s.wei > wei ? s.wei : wei;
    }
    md->src = frk_alloc((size_t)src * sizeof(float));
    md->wei = frk_alloc((size_t)wei * sizeof(float));
    md->bufs = calloc(m->nops, sizeof *md->bufs);
    if (!md->src || !md->wei || !md->bufs) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    md->n = m->nops;
    frw_fill_random(md->src, (size_t)src, frw_seed_of(m->name));
    frw_fill_random(md->wei, (size_t)wei, frw_seed_of(m->name) ^ 0x5bd1e995u);
    for (size_t i = 0; i < m->nops; i++) {
        frw_op_record *rec = &rep->ops[i];
        fr_err e =
            frw_buffers_alloc(&m->ops[i].op, rec->algo, &ctx, md->src, md->wei, &md->bufs[i], d);
        double t0 = frw_now();
        if (!e && o->weight_preprocess)
            e = frw_buffers_preprocess(&m->ops[i].op, rec->algo, &ctx, &md->bufs[i], d);
        rec->preprocess_ms = md->bufs[i].pwei ? (frw_now() - t0) * 1000.0 : 0;
        rec->workspace = md->bufs[i].ws_bytes;
        if (e) {
            fr_diag_prefix(d, "operator '%s'", rec->name);
            return e;
        }
    }
    rep->setup_ms = (frw_now() - start) * 1000.0;
    return FR_ERR_OK;
}

/* Times o->iterations whole-model runs after one warm-up, under the measurement lock. */
static fr_err execute(const frw_run_opts *o, frw_run_report *rep, const model_data *md,
                      const fr_model *m, fr_diag *d)
{
    frk_ctx ctx;
    frk_ctx_default(&ctx);
    size_t iters = (size_t)o->iterations;
    double *times = calloc(iters * (rep->nops + 1), sizeof *times);
    if (!times) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    frw_measure_lock lock;
    frw_measure_lock_init(&lock);
    fr_err e = frw_measure_lock_acquire(&lock, &rep->cond, d);
    for (size_t it = 0; !e && it <= iters; it++) { /* iteration 0 is the warm-up */
        double start = frw_now();
        for (size_t i = 0; i < rep->nops; i++) {
            frk_exec x = frw_buffers_exec(&md->bufs[i]);
            double t0 = frw_now();
            rep->ops[i].algo->run(&m->ops[i].op, &ctx, &x);
            if (it) times[i * iters + it - 1] = (frw_now() - t0) * 1000.0;
        }
        if (it) times[rep->nops * iters + it - 1] = (frw_now() - start) * 1000.0;
    }
    frw_measure_lock_release(&lock, &rep->cond);
    for (size_t i = 0; !e && i < rep->nops; i++)
        rep->ops[i].time_ms = frw_median(&times[i * iters], iters);
    if (!e) rep->total_ms = frw_median(&times[rep->nops * iters], iters);
    free(times);
    return e;
}

fr_err frw_run_model(const fr_model *m, const frw_run_opts *o, frw_run_report *out, fr_diag *d)
{
    if (o->profile && !o->cat)
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT, "profiling needs a category to fill");
    if (o->iterations < 1)
        return fr_diag_set(d, FR_ERR_INVALID_ARGUMENT, "iterations must be at least 1");
    out->ops = calloc(m->nops, sizeof *out->ops);
    if (!out->ops) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    out->nops = m->nops;
    out->iterations = o->iterations;
    if (o->cat) {
        memcpy(out->category, o->cat->id, sizeof out->category);
    } else {
        frc_fingerprint fp = {0};
        if (frw_fingerprint(&fp)) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
        frc_category_id(&fp, out->category);
        frc_fingerprint_cleanup(&fp);
    }
    fr_err e = FR_ERR_OK;
    for (size_t i = 0; !e && i < m->nops; i++) {
        out->ops[i].name = m->ops[i].name;
        fr_op_key(&m->ops[i].op, o->weight_preprocess, out->ops[i].key, sizeof out->ops[i].key);
        e = choose(m, i, o, out, d);
    }
    if (e) return e;
    model_data md = {0};
    e = setup(m, o, out, &md, d);
    if (!e) e = execute(o, out, &md, m, d);
    model_data_free(&md);
    return e;
}

void frw_run_report_cleanup(frw_run_report *r)
{
    for (size_t i = 0; r->ops && i < r->nops; i++)
        frw_results_free(r->ops[i].candidates, r->ops[i].ncandidates);
    free(r->ops);
    memset(r, 0, sizeof *r);
}
