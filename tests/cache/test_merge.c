/*
 * test_merge.c - the merge rule as the fleet sees it: figures combine by the weighted median of
 * medians (lower median on an even split), mins take the minimum, samples and reports add up,
 * spread is the range of medians or the widest input spread; identical inputs count once, so a
 * document merged with itself is unchanged; the result does not depend on the order of merging;
 * a failure counts only when nobody measured the algorithm. Also the report helpers that turn raw
 * measurements into results.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define R FR_ATTR_REPRODUCIBLE

static frc_result fig(double median, double min, int64_t samples, int64_t reports, double spread)
{
    frc_result r = fx_ok("matmul.blas", FR_ATTR_USES_BLAS, 0, median);
    r.min_ms = min;
    r.samples = samples;
    r.reports = reports;
    r.spread_ms = spread;
    return r;
}

static frc_result merge_of(const frc_result *rs, size_t n)
{
    const frc_result *in[8];
    for (size_t i = 0; i < n; i++)
        in[i] = &rs[i];
    frc_result out;
    cr_assert_eq(frc_merge_results(in, n, &out), FR_ERR_OK);
    return out;
}

Test(merge, weighted_median_of_medians)
{
    frc_result a[] = {fig(1.0, 0.9, 10, 1, 0), fig(2.0, 1.5, 20, 3, 0), fig(3.0, 2.5, 30, 1, 0)};
    frc_result m = merge_of(a, 3);
    cr_assert_eq(m.median_ms, 2.0, "weight 3 of 5 sits at 2.0");
    cr_assert_eq(m.min_ms, 0.9);
    cr_assert_eq(m.samples, 60);
    cr_assert_eq(m.reports, 5);
    cr_assert_eq(m.spread_ms, 2.0, "range of the medians");
    cr_assert_null(m.failure);
    frc_result_cleanup(&m);

    frc_result b[] = {fig(3.0, 2.5, 30, 1, 0), fig(1.0, 0.9, 10, 3, 0), fig(2.0, 1.5, 20, 1, 0)};
    m = merge_of(b, 3);
    cr_assert_eq(m.median_ms, 1.0, "weight 3 of 5 sits at 1.0");
    frc_result_cleanup(&m);

    frc_result even[] = {fig(4.0, 4.0, 5, 2, 0), fig(1.0, 1.0, 5, 2, 0)};
    m = merge_of(even, 2);
    cr_assert_eq(m.median_ms, 1.0, "an even split takes the lower median");
    cr_assert_eq(m.reports, 4);
    frc_result_cleanup(&m);

    frc_result wide[] = {fig(1.0, 1.0, 5, 1, 0), fig(1.5, 1.0, 5, 1, 7.5)};
    m = merge_of(wide, 2);
    cr_assert_eq(m.spread_ms, 7.5, "the widest input spread when larger than the range");
    frc_result_cleanup(&m);
}

Test(merge, identical_inputs_count_once)
{
    frc_result a[] = {fig(1.0, 0.9, 10, 1, 0), fig(1.0, 0.9, 10, 1, 0), fig(5.0, 4.0, 10, 1, 0)};
    frc_result m = merge_of(a, 3);
    cr_assert_eq(m.reports, 2);
    cr_assert_eq(m.samples, 20);
    cr_assert_eq(m.median_ms, 1.0);
    frc_result_cleanup(&m);
}

Test(merge, failure_counts_only_without_measurements)
{
    frc_result a[] = {fx_fail("matmul.blas", "timed out after 120 ms"), fig(2.0, 1.0, 8, 1, 0)};
    frc_result m = merge_of(a, 2);
    cr_assert_null(m.failure);
    cr_assert_eq(m.median_ms, 2.0);
    cr_assert_eq(m.reports, 1);
    frc_result_cleanup(&m);

    frc_result f[] = {fx_fail("matmul.blas", "timed out after 120 ms"),
                      fx_fail("matmul.blas", "crashed: SIGSEGV"),
                      fx_fail("matmul.blas", "crashed: SIGSEGV")};
    m = merge_of(f, 3);
    cr_assert_str_eq(m.failure, "crashed: SIGSEGV", "the first reason by text");
    cr_assert_eq(m.reports, 2, "two distinct failure reports");
    cr_assert_eq(m.median_ms, 0.0);
    frc_result_cleanup(&m);
}

Test(merge, inputs_must_name_one_algorithm)
{
    frc_result a = fig(1.0, 1.0, 1, 1, 0), b = fx_ok("matmul.tiled", 0, 0, 1.0);
    const frc_result *in[] = {&a, &b};
    frc_result out;
    cr_assert_eq(frc_merge_results(in, 2, &out), FR_ERR_INVALID_ARGUMENT);
    cr_assert_eq(frc_merge_results(in, 0, &out), FR_ERR_INVALID_ARGUMENT);
}

Test(merge, document_merged_with_itself_is_unchanged)
{
    frc_doc a, b;
    fr_diag d = {""};
    fx_sample_doc(&a, false);
    size_t la, lb;
    char *before = fx_dump(&a, &la);
    cr_assert_eq(frc_doc_parse(before, la, "copy", &b, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(frc_doc_merge(&a, &b), FR_ERR_OK);
    char *after = fx_dump(&a, &lb);
    cr_assert_str_eq(after, before);
    free(after);
    cr_assert_eq(frc_doc_merge(&a, &a), FR_ERR_OK);
    after = fx_dump(&a, &lb);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    frc_doc_cleanup(&a);
    frc_doc_cleanup(&b);
}

/* Two documents that overlap: shared category and key with other figures, a key and a
 * category only one of them has, an algorithm only one measured, a failure on one side. */
static void make_pair(frc_doc *x, frc_doc *y)
{
    frc_fingerprint fp1, fp2;
    frc_category *c;
    fx_fp(&fp1, "AMD EPYC 9R45", 2);
    fx_fp(&fp2, "AMD EPYC 9R45", 1);
    frc_doc_init(x);
    frc_doc_init(y);
    frc_result xs[] = {fig(1.0, 0.8, 10, 1, 0), fx_ok("matmul.tiled", R, 4096, 1.2),
                       fx_fail("matmul.simd", "crashed: SIGILL")};
    frc_result ys[] = {fig(1.4, 1.1, 30, 2, 0.1), fx_ok("matmul.simd", R, 0, 0.7)};
    frc_result other[] = {fx_ok("matmul.naive", FR_ATTR_NAIVE, 0, 9.0)};
    cr_assert_eq(frc_doc_category(x, &fp1, &c), FR_ERR_OK);
    cr_assert_eq(frc_category_put(c, FX_KEY_MM, xs, 3), FR_ERR_OK);
    cr_assert_eq(frc_category_put(c, FX_KEY_MM2, other, 1), FR_ERR_OK);
    cr_assert_eq(frc_doc_category(y, &fp1, &c), FR_ERR_OK);
    cr_assert_eq(frc_category_put(c, FX_KEY_MM, ys, 2), FR_ERR_OK);
    cr_assert_eq(frc_doc_category(y, &fp2, &c), FR_ERR_OK);
    cr_assert_eq(frc_category_put(c, FX_KEY_CONV, other, 1), FR_ERR_OK);
    frc_fingerprint_cleanup(&fp1);
    frc_fingerprint_cleanup(&fp2);
}

Test(merge, order_of_merging_does_not_change_the_figures)
{
    frc_doc x, y, xy, yx;
    make_pair(&x, &y);
    cr_assert_eq(frc_doc_copy(&x, &xy), FR_ERR_OK);
    cr_assert_eq(frc_doc_merge(&xy, &y), FR_ERR_OK);
    cr_assert_eq(frc_doc_copy(&y, &yx), FR_ERR_OK);
    cr_assert_eq(frc_doc_merge(&yx, &x), FR_ERR_OK);
    char *a = fx_dump(&xy, NULL), *b = fx_dump(&yx, NULL);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);

    /* What the merged entry holds. */
    cr_assert_eq(xy.ncats, 2);
    frc_fingerprint fp1;
    fx_fp(&fp1, "AMD EPYC 9R45", 2);
    char id[17];
    frc_category_id(&fp1, id);
    frc_fingerprint_cleanup(&fp1);
    const frc_category *c = frc_doc_find_category(&xy, id);
    cr_assert_not_null(c);
    cr_assert_eq(c->nentries, 2);
    const frc_entry *e = frc_category_find(c, FX_KEY_MM);
    cr_assert_eq(e->nresults, 3);
    cr_assert_str_eq(e->results[0].algorithm, "matmul.simd", "measured beats the failure");
    cr_assert_null(e->results[0].failure);
    cr_assert_str_eq(e->results[1].algorithm, "matmul.tiled");
    cr_assert_str_eq(e->results[2].algorithm, "matmul.blas");
    cr_assert_eq(e->results[2].median_ms, 1.4, "weights 1 at 1.0 and 2 at 1.4");
    cr_assert_eq(e->results[2].min_ms, 0.8);
    cr_assert_eq(e->results[2].samples, 40);
    cr_assert_eq(e->results[2].reports, 3);
    cr_assert_float_eq(e->results[2].spread_ms, 0.4, 1e-12);
    frc_doc_cleanup(&x);
    frc_doc_cleanup(&y);
    frc_doc_cleanup(&xy);
    frc_doc_cleanup(&yx);
}

Test(merge, merged_in_memory_equals_merged_after_a_round_trip)
{
    frc_doc x, y, x2, y2;
    fr_diag d = {""};
    make_pair(&x, &y);
    /* Figures with more than 9 digits: the merge must read them as the file stores them. */
    x.cats[0].entries[0].results[0].median_ms = 1.0000000049;
    char *tx = fx_dump(&x, NULL), *ty = fx_dump(&y, NULL);
    cr_assert_eq(frc_doc_parse(tx, strlen(tx), "x", &x2, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(frc_doc_parse(ty, strlen(ty), "y", &y2, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(frc_doc_merge(&x, &y), FR_ERR_OK);
    cr_assert_eq(frc_doc_merge(&x2, &y2), FR_ERR_OK);
    char *a = fx_dump(&x, NULL), *b = fx_dump(&x2, NULL);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    free(tx);
    free(ty);
    frc_doc_cleanup(&x);
    frc_doc_cleanup(&y);
    frc_doc_cleanup(&x2);
    frc_doc_cleanup(&y2);
}

Test(merge, reports_group_by_algorithm_and_rank)
{
    double t1[] = {3.0, 1.0, 2.0, 4.0}, t2[] = {1.5, 1.4, 1.6}, t3[] = {0.9};
    frc_result rep[4];
    cr_assert_eq(frc_result_measured("matmul.blas", 0, 0, t1, 4, &rep[0]), FR_ERR_OK);
    cr_assert_eq(rep[0].median_ms, 2.5);
    cr_assert_eq(rep[0].min_ms, 1.0);
    cr_assert_eq(rep[0].samples, 4);
    cr_assert_eq(frc_result_measured("matmul.blas", 0, 0, t2, 3, &rep[1]), FR_ERR_OK);
    cr_assert_eq(rep[1].median_ms, 1.5);
    cr_assert_eq(frc_result_measured("matmul.tiled", R, 64, t3, 1, &rep[2]), FR_ERR_OK);
    cr_assert_eq(frc_result_failed("matmul.simd", 0, 0, "crashed:\tSIGILL\n", &rep[3]), FR_ERR_OK);
    cr_assert_str_eq(rep[3].failure, "crashed: SIGILL ");
    frc_result *out;
    size_t n;
    cr_assert_eq(frc_merge_reports(rep, 4, &out, &n), FR_ERR_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(out[0].algorithm, "matmul.tiled");
    cr_assert_str_eq(out[1].algorithm, "matmul.blas");
    cr_assert_eq(out[1].median_ms, 1.5, "lower median of 2.5 and 1.5");
    cr_assert_eq(out[1].reports, 2);
    cr_assert_eq(out[1].samples, 7);
    cr_assert_str_eq(out[2].algorithm, "matmul.simd");
    for (size_t i = 0; i < n; i++)
        frc_result_cleanup(&out[i]);
    free(out);
    for (size_t i = 0; i < 4; i++)
        frc_result_cleanup(&rep[i]);

    double bad[] = {1.0, -2.0};
    frc_result r;
    cr_assert_eq(frc_result_measured("matmul.blas", 0, 0, bad, 2, &r), FR_ERR_INVALID_ARGUMENT);
    cr_assert_eq(frc_result_measured("bad name", 0, 0, t3, 1, &r), FR_ERR_INVALID_ARGUMENT);
}

Test(merge, long_failure_reasons_are_cut_at_a_character_boundary)
{
    char reason[600] = "";
    for (int i = 0; i < 150; i++)
        strncat(reason, "\xc3\xa9", sizeof reason - strlen(reason) - 1);
    frc_result r;
    cr_assert_eq(frc_result_failed("x", 0, 0, reason, &r), FR_ERR_OK);
    cr_assert_eq(strlen(r.failure), 256);
    frc_doc doc;
    frc_fingerprint fp;
    frc_category *c;
    fx_fp(&fp, "cpu", 1);
    frc_doc_init(&doc);
    cr_assert_eq(frc_doc_category(&doc, &fp, &c), FR_ERR_OK);
    cr_assert_eq(frc_category_put(c, FX_KEY_MM, &r, 1), FR_ERR_OK);
    char *text = fx_dump(&doc, NULL);
    frc_doc back;
    fr_diag d = {""};
    cr_assert_eq(frc_doc_parse(text, strlen(text), "t", &back, &d), FR_ERR_OK, "%s", d.msg);
    frc_doc_cleanup(&back);
    free(text);
    frc_doc_cleanup(&doc);
    frc_fingerprint_cleanup(&fp);
    frc_result_cleanup(&r);
}
