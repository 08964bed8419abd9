/*
 * report.c - presenting a run: the readable table on stdout, the --verbose account of every
 * choice, and the JSON report (--report FILE) built with jansson.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

void frw_report_print_table(const fr_model *m, const frw_run_report *r, FILE *f)
{
    fprintf(f, "model %s: %zu operators, category %s, median of %d runs\n", m->name, m->nops,
            r->category, r->iterations);
    fprintf(f, "%-16s %-28s %-9s %10s %8s  %s\n", "operator", "algorithm", "source", "time ms",
            "GFLOP/s", "shape");
    for (size_t i = 0; i < r->nops; i++) {
        const frw_op_record *o = &r->ops[i];
        char desc[160];
        fr_op_describe(&m->ops[i].op, desc, sizeof desc);
        double gflops = o->time_ms > 0 ? fr_op_flops(&m->ops[i].op) / (o->time_ms * 1e6) : 0;
        fprintf(f, "%-16s %-28s %-9s %10.4f %8.2f  %s\n", o->name, o->algo->name,
                frw_source_name(o->source), o->time_ms, gflops, desc);
    }
    fprintf(f, "%-16s %-28s %-9s %10.4f\n", "total", "", "", r->total_ms);
    fprintf(f, "profiled %zu operator%s in this run (%.1f s); set-up %.1f ms\n", r->profiled,
            r->profiled == 1 ? "" : "s", r->profiling_s, r->setup_ms);
    if (r->cond.lock_waited)
        fprintf(f, "waited %.1f s for the measurement lock (another fastrun was measuring)\n",
                r->cond.lock_wait_s);
}

static void print_candidate(const frc_result *c, FILE *f)
{
    char attrs[96];
    fr_attrs_format(c->attrs, attrs, sizeof attrs);
    if (c->failure)
        fprintf(f, "      %-28s failed: %s\n", c->algorithm, c->failure);
    else
        fprintf(f, "      %-28s median %10.4f ms  min %10.4f ms  %4lld samples  ws %llu  %s\n",
                c->algorithm, c->median_ms, c->min_ms, (long long)c->samples,
                (unsigned long long)c->workspace, attrs);
}

void frw_report_print_verbose(const fr_model *m, const frw_run_report *r, FILE *f)
{
    for (size_t i = 0; i < r->nops; i++) {
        const frw_op_record *o = &r->ops[i];
        char desc[160];
        fr_op_describe(&m->ops[i].op, desc, sizeof desc);
        fprintf(f, "[%zu] %s: %s\n", i, o->name, desc);
        fprintf(f, "    key: %s\n", o->key);
        fprintf(f, "    %s -> %s: %s\n", frw_source_name(o->source), o->algo->name, o->why);
        if (o->has_log)
            fprintf(f,
                    "    profiled %zu candidates (%zu failed) in %.2f s; reference %.4f ms; "
                    "load %.2f; measurement lock %s\n",
                    o->log.ncandidates, o->log.nfailed, o->log.total_s, o->log.reference_ms,
                    o->log.cond.load1, o->log.cond.lock_waited ? "waited for" : "free");
        if (o->preprocess_ms > 0)
            fprintf(f, "    weights preprocessed at set-up in %.4f ms (not timed)\n",
                    o->preprocess_ms);
        if (o->ncandidates) fprintf(f, "    candidates:\n");
        for (size_t c = 0; c < o->ncandidates; c++)
            print_candidate(&o->candidates[c], f);
        fprintf(f, "    time in the model run: %.4f ms\n", o->time_ms);
    }
}

void *frw_attrs_json(unsigned attrs)
{
    json_t *a = json_array();
    for (unsigned i = 0; a && i < 32; i++) {
        const char *name = fr_attr_name(1u << i); /* takes the bit value */
        if ((attrs & (1u << i)) && name) json_array_append_new(a, json_string(name));
    }
    return a;
}

static json_t *candidate_json(const frc_result *c)
{
    if (c->failure)
        return json_pack("{s:s, s:s}", "algorithm", c->algorithm, "failure", c->failure);
    return json_pack("{s:s, s:f, s:f, s:I, s:I, s:o}", "algorithm", c->algorithm, "median_ms",
                     c->median_ms, "min_ms", c->min_ms, "samples", (json_int_t)c->samples,
                     "workspace", (json_int_t)c->workspace, "attributes", frw_attrs_json(c->attrs));
}

static json_t *op_json(const frw_op_record *o)
{
    json_t *cands = json_array();
    for (size_t c = 0; cands && c < o->ncandidates; c++)
        json_array_append_new(cands, candidate_json(&o->candidates[c]));
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:s, s:s, s:f, s:f, s:o}", "name", o->name, "key",
                     o->key, "algorithm", o->algo->name, "attributes",
                     frw_attrs_json(o->algo->attrs), "workspace", (json_int_t)o->workspace,
                     "source", frw_source_name(o->source), "why", o->why, "time_ms", o->time_ms,
                     "preprocess_ms", o->preprocess_ms, "candidates", cands);
}

fr_err frw_report_write_json(const frw_run_report *r, const char *path, fr_diag *d)
{
    json_t *ops = json_array();
    for (size_t i = 0; ops && i < r->nops; i++)
        json_array_append_new(ops, op_json(&r->ops[i]));
    const frw_conditions *c = &r->cond;
    json_t *cond =
        json_pack("{s:i, s:f, s:b, s:f, s:I, s:f}", "threads", c->threads, "load1", c->load1,
                  "lock_waited", c->lock_waited, "lock_wait_s", c->lock_wait_s, "started_unix",
                  (json_int_t)c->started_unix, "duration_s", c->duration_s);
    json_t *root = json_pack("{s:s, s:f, s:i, s:I, s:f, s:f, s:o, s:o}", "category", r->category,
                             "total_ms", r->total_ms, "iterations", r->iterations, "profiled",
                             (json_int_t)r->profiled, "profiling_s", r->profiling_s, "setup_ms",
                             r->setup_ms, "conditions", cond, "operators", ops);
    if (!root) return fr_diag_set(d, FR_ERR_NOMEM, "%s: cannot build the report", path);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    fr_err e = FR_ERR_OK;
    if (json_dump_file(root, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0)
        e = fr_diag_set(d, FR_ERR_IO, "%s: cannot write the report", tmp);
    else if (rename(tmp, path) != 0)
        e = fr_diag_set(d, FR_ERR_IO, "%s: %s", path, strerror(errno));
    if (e) unlink(tmp);
    json_decref(root);
    return e;
}
