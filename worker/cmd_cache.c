/*
 * cmd_cache.c - `fastrun cache show FILE | merge OUT IN... | diff A B` (push and pull, which talk
 * to a server, are in cmd_cache_net.c): reading, combining and comparing cache files with the cache
 * module's own loader, merge rule and ranking, so what the command shows is exactly what a run
 * would read.
 *
 * merge accumulates: OUT's current content (if any) is kept and every IN merged into it (the
 * merge rule counts identical figures once, so naming OUT among the INs is harmless). OUT is
 * written atomically while its lock is held.
 */
#include <string.h>

#include "cli.h"

static void show_result(const frc_result *r)
{
    char attrs[96];
    fr_attrs_format(r->attrs, attrs, sizeof attrs);
    if (r->failure) {
        printf("    %-28s failed: %s\n", r->algorithm, r->failure);
        return;
    }
    printf("    %-28s median %10.4f ms  min %10.4f ms  %5lld samples  %3lld reports  ws %llu  %s\n",
           r->algorithm, r->median_ms, r->min_ms, (long long)r->samples, (long long)r->reports,
           (unsigned long long)r->workspace, attrs);
}

static int cache_show(int argc, char **argv)
{
    if (argc != 2) return frw_cli_usage("cache show", "expects exactly one FILE");
    frc_doc doc;
    frc_doc_init(&doc);
    fr_diag d = {{0}};
    fr_err e = frc_file_load(argv[1], &doc, &d);
    if (e) return frw_cli_fail("cache show", e, &d);
    printf("%s: %zu categor%s\n", argv[1], doc.ncats, doc.ncats == 1 ? "y" : "ies");
    for (size_t c = 0; c < doc.ncats; c++) {
        const frc_category *cat = &doc.cats[c];
        char text[1024];
        frc_fingerprint_text(&cat->fp, text, sizeof text);
        printf("category %s (%zu entries)\n  %s\n", cat->id, cat->nentries, text);
        for (size_t k = 0; k < cat->nentries; k++) {
            printf("  %s\n", cat->entries[k].key);
            for (size_t r = 0; r < cat->entries[k].nresults; r++)
                show_result(&cat->entries[k].results[r]);
        }
    }
    frc_doc_cleanup(&doc);
    return FRW_EXIT_OK;
}

static int cache_merge(int argc, char **argv)
{
    if (argc < 3) return frw_cli_usage("cache merge", "expects OUT and at least one IN");
    const char *out = argv[1];
    frc_lock lock = {0};
    fr_diag d = {{0}};
    frc_doc acc, in;
    frc_doc_init(&acc);
    frc_doc_init(&in);
    fr_err e = frc_lock_acquire(out, &lock, &d);
    if (!e) {
        e = frc_file_load(out, &acc, &d);
        if (e == FR_ERR_NOT_FOUND) e = FR_ERR_OK;
    }
    for (int i = 2; !e && i < argc; i++) {
        e = frc_file_load(argv[i], &in, &d);
        if (!e) e = frc_doc_merge(&acc, &in);
        if (e == FR_ERR_NOMEM) fr_diag_set(&d, e, "%s: out of memory while merging", argv[i]);
        frc_doc_cleanup(&in);
    }
    if (!e) e = frc_file_save(out, &acc, &d);
    frc_unlock(&lock);
    size_t entries = 0;
    for (size_t c = 0; c < acc.ncats; c++)
        entries += acc.cats[c].nentries;
    if (!e)
        printf("%s: %zu categor%s, %zu entries\n", out, acc.ncats, acc.ncats == 1 ? "y" : "ies",
               entries);
    frc_doc_cleanup(&acc);
    return e ? frw_cli_fail("cache merge", e, &d) : FRW_EXIT_OK;
}

/* The measured winner of an entry, NULL if every result failed. */
static const frc_result *winner(const frc_entry *e)
{
    return e && e->nresults && !e->results[0].failure ? &e->results[0] : NULL;
}

static void diff_category(const frc_category *a, const frc_category *b, size_t *changed,
                          size_t *only_a, size_t *only_b)
{
    for (size_t k = 0; k < a->nentries; k++) {
        const frc_entry *ea = &a->entries[k];
        const frc_entry *eb = frc_category_find(b, ea->key);
        if (!eb) {
            (*only_a)++;
            continue;
        }
        const frc_result *wa = winner(ea), *wb = winner(eb);
        const char *na = wa ? wa->algorithm : "(none)", *nb = wb ? wb->algorithm : "(none)";
        if (strcmp(na, nb) == 0) continue;
        (*changed)++;
        printf("%s %s\n  %s -> %s", a->id, ea->key, na, nb);
        if (wa && wb)
            printf(": %.4f ms -> %.4f ms (%+.1f%%)", wa->median_ms, wb->median_ms,
                   (wb->median_ms / wa->median_ms - 1.0) * 100.0);
        printf("\n");
    }
    for (size_t k = 0; k < b->nentries; k++)
        if (!frc_category_find(a, b->entries[k].key)) (*only_b)++;
}

static int cache_diff(int argc, char **argv)
{
    if (argc != 3) return frw_cli_usage("cache diff", "expects exactly two files A and B");
    frc_doc a, b;
    frc_doc_init(&a);
    frc_doc_init(&b);
    fr_diag d = {{0}};
    fr_err e = frc_file_load(argv[1], &a, &d);
    if (!e) e = frc_file_load(argv[2], &b, &d);
    size_t changed = 0, only_a = 0, only_b = 0, cats_a = 0, cats_b = 0;
    for (size_t c = 0; !e && c < a.ncats; c++) {
        const frc_category *cb = frc_doc_find_category(&b, a.cats[c].id);
        if (cb)
            diff_category(&a.cats[c], cb, &changed, &only_a, &only_b);
        else
            cats_a++;
    }
    for (size_t c = 0; !e && c < b.ncats; c++)
        if (!frc_doc_find_category(&a, b.cats[c].id)) cats_b++;
    if (!e)
        printf("%zu key%s with a different winner; %zu keys only in %s, %zu only in %s; "
               "%zu categories only in %s, %zu only in %s\n",
               changed, changed == 1 ? "" : "s", only_a, argv[1], only_b, argv[2], cats_a, argv[1],
               cats_b, argv[2]);
    frc_doc_cleanup(&a);
    frc_doc_cleanup(&b);
    return e ? frw_cli_fail("cache diff", e, &d) : FRW_EXIT_OK;
}

int frw_cmd_cache(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"show", cache_show},
                {"merge", cache_merge},
                {"diff", cache_diff},
                {"push", frw_cmd_cache_push},
                {"pull", frw_cmd_cache_pull}};
    if (argc < 2) return frw_cli_usage("cache", "expects show, merge, diff, push or pull");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
    return frw_cli_usage(
        "cache", "unknown subcommand '%s' (expects show, merge, diff, push or pull)", argv[1]);
}
