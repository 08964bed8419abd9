/*
 * report.c - one run of bench-kernels as a readable table (aligned text, or GitHub markdown for
 * BENCHMARKS.md): per operator fastrun's pick, the im2col/BLAS baseline, oneDNN in both layouts,
 * the three ratios and oneDNN's implementations; then the network totals (sums of per-operator
 * medians) with their ratios, a summary per operator class (1x1, 3x3 s1, depthwise, gemv...) and
 * whatever was left out and why.
 *
 * Ratios: fastrun / oneDNN below 1 means fastrun is faster; im2col / fastrun is fastrun's
 * speed-up over the plain im2col + OpenBLAS baseline.
 */
#include "kbench.h"

#include <string.h>

kb_cols kb_cols_of(const kb_op_result *o)
{
    kb_cols c;
    memset(&c, 0, sizeof c);
    if ((c.has_fr = o->fr.best >= 0)) {
        c.fr = o->fr.cand[o->fr.best].t.median_ms;
        c.dist_fr = o->fr.cand[o->fr.best].t.disturbed;
    }
    if ((c.has_base = o->fr.baseline >= 0)) {
        c.base = o->fr.cand[o->fr.baseline].t.median_ms;
        c.dist_base = o->fr.cand[o->fr.baseline].t.disturbed;
    }
    for (int l = 0; l < KB_NLAYOUTS; l++) {
        if (!(c.has_dnnl[l] = o->dnnl[l].measured)) continue;
        c.dnnl[l] = o->dnnl[l].t.median_ms;
        c.dist_dnnl[l] = o->dnnl[l].t.disturbed;
    }
    return c;
}

void kb_count_disturbed(const kb_op_result *o, int *disturbed, int *measured)
{
    *disturbed = *measured = 0;
    for (size_t i = 0; i < o->fr.ncand; i++) {
        if (o->fr.cand[i].failure[0]) continue;
        (*measured)++;
        *disturbed += o->fr.cand[i].t.disturbed;
    }
    for (int l = 0; l < KB_NLAYOUTS; l++) {
        if (!o->dnnl[l].measured) continue;
        (*measured)++;
        *disturbed += o->dnnl[l].t.disturbed;
    }
}

kb_cols kb_cols_none(void)
{
    kb_cols c;
    memset(&c, 0, sizeof c);
    c.has_fr = c.has_base = true;
    for (int l = 0; l < KB_NLAYOUTS; l++)
        c.has_dnnl[l] = true;
    return c;
}

void kb_cols_add(kb_cols *sum, const kb_cols *c)
{
    sum->fr += c->fr;
    sum->has_fr &= c->has_fr;
    sum->dist_fr |= c->dist_fr;
    sum->base += c->base;
    sum->has_base &= c->has_base;
    sum->dist_base |= c->dist_base;
    for (int l = 0; l < KB_NLAYOUTS; l++) {
        sum->dnnl[l] += c->dnnl[l];
        sum->has_dnnl[l] &= c->has_dnnl[l];
        sum->dist_dnnl[l] |= c->dist_dnnl[l];
    }
}

kb_cols kb_cols_total(const kb_run *r)
{
    kb_cols t = kb_cols_none();
    for (size_t i = 0; i < r->model->nops; i++) {
        kb_cols c = kb_cols_of(&r->ops[i]);
        kb_cols_add(&t, &c);
    }
    return t;
}

void kb_class_of(const fr_op *op, char *buf, size_t len)
{
    if (op->kind == FR_OP_MATMUL) {
        const fr_matmul *m = &op->mm;
        snprintf(buf, len, "%s",
                 m->m == 1      ? "matmul gemv (m=1)"
                 : m->batch > 1 ? "matmul batched"
                                : "matmul");
        return;
    }
    const fr_conv2d *c = &op->conv;
    if (c->groups > 1 && c->groups == c->c && c->groups == c->k)
        snprintf(buf, len, "conv depthwise");
    else if (c->groups > 1)
        snprintf(buf, len, "conv grouped");
    else if (c->dilation[0] > 1 || c->dilation[1] > 1)
        snprintf(buf, len, "conv dilated");
    else
        snprintf(buf, len, "conv %dx%d s%d", c->r, c->s, c->stride[0]);
}

/* ---------------------------------------------------------------------------------------------
 * Rows: a table is a list of columns (title, width; negative width = left-aligned) and rows of
 * already formatted cells, printed aligned or as markdown.
 * ------------------------------------------------------------------------------------------- */
#define MAX_COLS 12
#define CELL 96

typedef struct {
    FILE *f;
    bool md;
    int ncols;
    const char *title[MAX_COLS];
    int width[MAX_COLS];
} table;

static void row(const table *t, char cells[][CELL])
{
    for (int i = 0; i < t->ncols; i++) {
        if (t->md)
            fprintf(t->f, "| %s ", cells[i]);
        else
            fprintf(t->f, "%*s%s", t->width[i], cells[i], i + 1 < t->ncols ? " " : "");
    }
    fputs(t->md ? "|\n" : "\n", t->f);
}

static void header(const table *t)
{
    char cells[MAX_COLS][CELL];
    for (int i = 0; i < t->ncols; i++)
        snprintf(cells[i], CELL, "%s", t->title[i]);
    row(t, cells);
    if (!t->md) return;
    for (int i = 0; i < t->ncols; i++)
        fputs(t->width[i] < 0 ? "|---" : "|---:", t->f);
    fputs("|\n", t->f);
}

/* "1.234", "1.234!" when disturbed, "-" when not measured. */
static void fmt_ms(char *cell, bool has, bool disturbed, double v)
{
    if (!has)
        snprintf(cell, CELL, "-");
    else
        snprintf(cell, CELL, v < 0.1 ? "%.4f%s" : "%.3f%s", v, disturbed ? "!" : "");
}

static void fmt_ratio(char *cell, bool has, double num, double den)
{
    if (has && den > 0)
        snprintf(cell, CELL, "%.2f", num / den);
    else
        snprintf(cell, CELL, "-");
}

/* The 7 compared cells: four times, three ratios. */
static void fmt_cols(char cells[][CELL], const kb_cols *c)
{
    fmt_ms(cells[0], c->has_fr, c->dist_fr, c->fr);
    fmt_ms(cells[1], c->has_base, c->dist_base, c->base);
    fmt_ms(cells[2], c->has_dnnl[KB_PLAIN], c->dist_dnnl[KB_PLAIN], c->dnnl[KB_PLAIN]);
    fmt_ms(cells[3], c->has_dnnl[KB_BLOCKED], c->dist_dnnl[KB_BLOCKED], c->dnnl[KB_BLOCKED]);
    fmt_ratio(cells[4], c->has_fr && c->has_dnnl[KB_PLAIN], c->fr, c->dnnl[KB_PLAIN]);
    fmt_ratio(cells[5], c->has_fr && c->has_dnnl[KB_BLOCKED], c->fr, c->dnnl[KB_BLOCKED]);
    fmt_ratio(cells[6], c->has_fr && c->has_base, c->base, c->fr);
}

static const char *const compared[7] = {"fastrun", "im2col", "dnnl-nchw", "dnnl-blk",
                                        "fr/nchw", "fr/blk", "im2c/fr"};

static void add_compared(table *t)
{
    for (int i = 0; i < 7; i++) {
        t->title[t->ncols] = compared[i];
        t->width[t->ncols++] = i < 4 ? 9 : 7;
    }
}

static void print_ops(const kb_run *r, bool md, FILE *f)
{
    int nw = -9;
    for (size_t i = 0; i < r->model->nops; i++) {
        int len = (int)strlen(r->model->ops[i].name);
        if (-len < nw) nw = -len;
    }
    table t = {
        f, md, 4, {"operator", "shape", "MFLOP", "fastrun pick (* = wp)"}, {nw, -48, 8, -27}};
    add_compared(&t);
    t.title[t.ncols] = "oneDNN impl (nchw / blocked)";
    t.width[t.ncols++] = -1;
    header(&t);
    char cells[MAX_COLS][CELL];
    for (size_t i = 0; i < r->model->nops; i++) {
        const kb_op_result *o = &r->ops[i];
        const kb_fastrun *fr = &o->fr;
        snprintf(cells[0], CELL, "%s", o->mop->name);
        fr_op_describe(&o->mop->op, cells[1], CELL);
        snprintf(cells[2], CELL, "%.1f", o->flops / 1e6);
        snprintf(cells[3], CELL, "%s%s", fr->best >= 0 ? fr->cand[fr->best].algo->name : "-",
                 fr->best >= 0 && fr->cand[fr->best].preprocessed ? "*" : "");
        kb_cols c = kb_cols_of(o);
        fmt_cols(cells + 4, &c);
        snprintf(cells[11], CELL, "%s / %s",
                 o->dnnl[KB_PLAIN].impl[0] ? o->dnnl[KB_PLAIN].impl : "-",
                 o->dnnl[KB_BLOCKED].impl[0] ? o->dnnl[KB_BLOCKED].impl : "-");
        row(&t, cells);
    }
    kb_cols tot = kb_cols_total(r);
    snprintf(cells[0], CELL, md ? "**total**" : "TOTAL");
    snprintf(cells[1], CELL, "sum of per-operator medians");
    cells[2][0] = cells[3][0] = cells[11][0] = '\0';
    fmt_cols(cells + 4, &tot);
    row(&t, cells);
}

static void print_classes(const kb_run *r, bool md, FILE *f)
{
    enum { MAXC = 32 };
    char names[MAXC][40];
    kb_cols sums[MAXC];
    int count[MAXC];
    int nc = 0;
    for (size_t i = 0; i < r->model->nops; i++) {
        char cls[40];
        kb_class_of(&r->ops[i].mop->op, cls, sizeof cls);
        int j = 0;
        while (j < nc && strcmp(names[j], cls) != 0)
            j++;
        if (j == nc && nc == MAXC) continue;
        if (j == nc) {
            snprintf(names[nc], sizeof names[nc], "%s", cls);
            sums[nc] = kb_cols_none();
            count[nc++] = 0;
        }
        kb_cols c = kb_cols_of(&r->ops[i]);
        kb_cols_add(&sums[j], &c);
        count[j]++;
    }
    fprintf(f, "\nby operator class (sums of medians, ms):\n\n");
    table t = {f, md, 2, {"class", "ops"}, {-22, 4}};
    add_compared(&t);
    header(&t);
    char cells[MAX_COLS][CELL];
    for (int j = 0; j < nc; j++) {
        snprintf(cells[0], CELL, "%s", names[j]);
        snprintf(cells[1], CELL, "%d", count[j]);
        fmt_cols(cells + 2, &sums[j]);
        row(&t, cells);
    }
}

static void print_failures(const kb_run *r, bool md, FILE *f)
{
    bool any = false;
    for (size_t i = 0; i < r->model->nops; i++) {
        const kb_op_result *o = &r->ops[i];
        for (size_t j = 0; j < o->fr.ncand; j++) {
            if (!o->fr.cand[j].failure[0]) continue;
            if (!any) fprintf(f, "\nleft out:\n%s", md ? "\n" : "");
            any = true;
            fprintf(f, "%s%s: %s: %s\n", md ? "- " : "  ", o->mop->name, o->fr.cand[j].algo->name,
                    o->fr.cand[j].failure);
        }
        for (int l = 0; l < KB_NLAYOUTS; l++) {
            if (!o->dnnl[l].failure[0]) continue;
            if (!any) fprintf(f, "\nleft out:\n%s", md ? "\n" : "");
            any = true;
            fprintf(f, "%s%s: oneDNN %s: %s\n", md ? "- " : "  ", o->mop->name, kb_layout_name(l),
                    o->dnnl[l].failure);
        }
    }
}

/* How quiet the machine was: load, waits, disturbed measurements, operators measured again. */
static void print_conditions(const kb_run *r, FILE *f)
{
    int dist = 0, meas = 0, again = 0;
    double waited = 0, busy_max = 0;
    for (size_t i = 0; i < r->model->nops; i++) {
        const kb_op_result *o = &r->ops[i];
        dist += o->disturbed;
        meas += o->measured;
        again += o->attempts > 1;
        waited += o->waited_s;
        if (o->busy > busy_max) busy_max = o->busy;
    }
    fprintf(f,
            "\nconditions: load average (1 min) %.2f before, %.2f after; %.1f s for this run, "
            "%.1f s of it waiting for a quiet machine; busy share of the machine before an "
            "operator's measurement at most %.0f%%; %d of %zu operators measured again; %d of "
            "%d times disturbed (marked !: median > %.1f x min, or other processes used more "
            "than the CPUs left free + %.2f while sampling)\n",
            r->load_before, r->load_after, r->wall_s, waited, 100 * busy_max, again, r->model->nops,
            dist, meas, KB_DISTURBED, KB_OTHERS_SLACK);
}

void kb_report_table(const kb_run *r, bool markdown, FILE *f)
{
    fprintf(f, "\n%s %s, %d thread%s: median ms per operator\n\n",
            markdown ? "####" : "==", r->model->name, r->threads, r->threads == 1 ? "" : "s");
    print_ops(r, markdown, f);
    kb_cols t = kb_cols_total(r);
    fprintf(f,
            "\ntotals (sum of per-operator medians): fastrun %.3f ms, im2col+OpenBLAS %.3f ms, "
            "oneDNN nchw %.3f ms, oneDNN blocked %.3f ms\n",
            t.fr, t.base, t.dnnl[KB_PLAIN], t.dnnl[KB_BLOCKED]);
    fprintf(f,
            "ratios: fastrun / oneDNN-nchw %.2f, fastrun / oneDNN-blocked %.2f, "
            "im2col / fastrun %.2f%s\n",
            t.fr / t.dnnl[KB_PLAIN], t.fr / t.dnnl[KB_BLOCKED], t.base / t.fr,
            t.has_fr && t.has_base && t.has_dnnl[0] && t.has_dnnl[1]
                ? ""
                : " (incomplete: some operator lacks a figure, see 'left out')");
    print_classes(r, markdown, f);
    print_failures(r, markdown, f);
    print_conditions(r, f);
}
