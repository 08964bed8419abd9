/*
 * test_heuristic.c - the entry's heuristic pick: written, read back, checked, kept by filters
 * and carried through merges (the newer document's pick wins), so the server and the dashboard
 * can show what tuning gained over the heuristic without linking kernels/.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static frc_category *one_entry(frc_doc *doc, const char *heuristic)
{
    frc_fingerprint fp;
    fx_fp(&fp, "cpu A", 2);
    frc_category *cat;
    cr_assert_eq(frc_doc_category(doc, &fp, &cat), FR_ERR_OK);
    frc_fingerprint_cleanup(&fp);
    frc_result r[2] = {fx_ok("matmul.blas", FR_ATTR_REPRODUCIBLE, 0, 1.0),
                       fx_ok("matmul.splitk", 0, 0, 2.0)};
    cr_assert_eq(frc_category_put(cat, FX_KEY_MM, r, 2), FR_ERR_OK);
    if (heuristic)
        cr_assert_eq(frc_entry_set_heuristic(frc_category_find(cat, FX_KEY_MM), heuristic),
                     FR_ERR_OK);
    return cat;
}

static frc_doc parse_ok(const char *text)
{
    frc_doc back;
    frc_doc_init(&back);
    fr_diag d = {""};
    cr_assert_eq(frc_doc_parse(text, strlen(text), "h.json", &back, &d), FR_ERR_OK, "%s", d.msg);
    return back;
}

Test(heuristic, round_trips_through_the_document)
{
    frc_doc doc;
    frc_doc_init(&doc);
    one_entry(&doc, "matmul.splitk");
    char *text = fx_dump(&doc, NULL);
    cr_assert(strstr(text, "\"heuristic\":\"matmul.splitk\""), "%s", text);
    frc_doc back = parse_ok(text);
    cr_assert_str_eq(back.cats[0].entries[0].heuristic, "matmul.splitk");
    char *again = fx_dump(&back, NULL);
    cr_assert_str_eq(again, text);
    free(again);
    free(text);
    frc_doc_cleanup(&back);
    frc_doc_cleanup(&doc);
}

Test(heuristic, absent_means_unknown_and_bad_names_are_refused)
{
    frc_doc doc;
    frc_doc_init(&doc);
    frc_category *cat = one_entry(&doc, NULL);
    char *text = fx_dump(&doc, NULL);
    cr_assert_null(strstr(text, "heuristic"));
    frc_doc back = parse_ok(text);
    cr_assert_null(back.cats[0].entries[0].heuristic);
    cr_assert_eq(frc_entry_set_heuristic(&cat->entries[0], "no spaces allowed"),
                 FR_ERR_INVALID_ARGUMENT);
    cr_assert_null(cat->entries[0].heuristic);
    free(text);
    frc_doc_cleanup(&back);
    frc_doc_cleanup(&doc);
}

Test(heuristic, kept_by_filters_and_merges)
{
    frc_doc a, b, filtered;
    frc_doc_init(&a);
    frc_doc_init(&b);
    one_entry(&a, "matmul.blas");
    one_entry(&b, "matmul.splitk");
    frc_policy pol = {.required = FR_ATTR_REPRODUCIBLE};
    cr_assert_eq(frc_doc_filter(&a, &pol, &filtered), FR_ERR_OK);
    cr_assert_str_eq(filtered.cats[0].entries[0].heuristic, "matmul.blas");
    /* Into a document without the key, then over an existing pick: the incoming one wins. */
    frc_doc empty;
    frc_doc_init(&empty);
    cr_assert_eq(frc_doc_merge(&empty, &a), FR_ERR_OK);
    cr_assert_str_eq(empty.cats[0].entries[0].heuristic, "matmul.blas");
    cr_assert_eq(frc_doc_merge(&empty, &b), FR_ERR_OK);
    cr_assert_str_eq(empty.cats[0].entries[0].heuristic, "matmul.splitk");
    /* A document without a pick does not erase a known one. */
    frc_doc none;
    frc_doc_init(&none);
    one_entry(&none, NULL);
    cr_assert_eq(frc_doc_merge(&empty, &none), FR_ERR_OK);
    cr_assert_str_eq(empty.cats[0].entries[0].heuristic, "matmul.splitk");
    frc_doc_cleanup(&none);
    frc_doc_cleanup(&empty);
    frc_doc_cleanup(&filtered);
    frc_doc_cleanup(&b);
    frc_doc_cleanup(&a);
}
