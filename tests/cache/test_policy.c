/*
 * test_policy.c - reading under a policy: required and forbidden attributes and a workspace
 * limit; a key with no entry is a MISS, an entry with nothing acceptable is NONE_ACCEPTED (the
 * caller then profiles or falls back and says why), and a failure is never a hit.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define R FR_ATTR_REPRODUCIBLE
#define NAIVE FR_ATTR_NAIVE

static frc_doc doc;
static frc_category *cat;

static void setup(void)
{
    frc_fingerprint fp;
    fx_fp(&fp, "AMD EPYC 9R45", 2);
    frc_doc_init(&doc);
    cr_assert_eq(frc_doc_category(&doc, &fp, &cat), FR_ERR_OK);
    frc_fingerprint_cleanup(&fp);
    frc_result rs[] = {
        fx_ok("matmul.naive", R | NAIVE, 0, 0.5),
        fx_ok("matmul.fast", 0, 0, 1.0),
        fx_ok("matmul.repro", R, 1 << 20, 1.2),
        fx_fail("matmul.crash", "crashed: SIGSEGV"),
    };
    cr_assert_eq(frc_category_put(cat, FX_KEY_MM, rs, 4), FR_ERR_OK);
    frc_result only_fail[] = {fx_fail("conv2d.broken", "wrong result: max error 3e-2 > 1e-4")};
    cr_assert_eq(frc_category_put(cat, FX_KEY_CONV, only_fail, 1), FR_ERR_OK);
}

static void teardown(void)
{
    frc_doc_cleanup(&doc);
}

TestSuite(policy, .init = setup, .fini = teardown);

static const char *hit(const frc_policy *pol, const char *key, frc_lookup_status want)
{
    const frc_result *r = (const frc_result *)1;
    frc_lookup_status st = frc_lookup(cat, key, pol, &r);
    cr_assert_eq(st, want, "lookup of '%s' gave %d", key, (int)st);
    if (st != FRC_HIT) {
        cr_assert_null(r);
        return NULL;
    }
    return r->algorithm;
}

Test(policy, no_policy_takes_the_fastest)
{
    cr_assert_str_eq(hit(NULL, FX_KEY_MM, FRC_HIT), "matmul.naive");
    frc_policy none = {0};
    cr_assert_str_eq(hit(&none, FX_KEY_MM, FRC_HIT), "matmul.naive");
}

Test(policy, forbidden_and_required_attributes)
{
    frc_policy no_naive = {.forbidden = NAIVE};
    cr_assert_str_eq(hit(&no_naive, FX_KEY_MM, FRC_HIT), "matmul.fast");
    frc_policy repro = {.required = R, .forbidden = NAIVE};
    cr_assert_str_eq(hit(&repro, FX_KEY_MM, FRC_HIT), "matmul.repro");
    frc_policy repro_naive_ok = {.required = R};
    cr_assert_str_eq(hit(&repro_naive_ok, FX_KEY_MM, FRC_HIT), "matmul.naive");
}

Test(policy, workspace_limit)
{
    frc_policy small = {.required = R, .forbidden = NAIVE, .max_workspace = 1 << 20};
    cr_assert_str_eq(hit(&small, FX_KEY_MM, FRC_HIT), "matmul.repro", "the limit is inclusive");
    small.max_workspace = (1 << 20) - 1;
    cr_assert_null(hit(&small, FX_KEY_MM, FRC_NONE_ACCEPTED));
}

Test(policy, miss_versus_none_accepted)
{
    cr_assert_null(hit(NULL, FX_KEY_MM2, FRC_MISS));
    cr_assert_eq(frc_lookup(NULL, FX_KEY_MM, NULL, NULL), FRC_MISS, "no category is a miss");
    /* An entry holding only a failure is never a hit, whatever the policy. */
    cr_assert_null(hit(NULL, FX_KEY_CONV, FRC_NONE_ACCEPTED));
    frc_result crash = fx_fail("x", "crashed");
    cr_assert(!frc_policy_accepts(NULL, &crash));
}

Test(policy, ties_are_broken_among_the_accepted_only)
{
    /* Ranked as a whole: y (fastest of the tie with w), w, then z. With w excluded by the
     * workspace limit, z (REPRODUCIBLE) ties with y and wins. */
    frc_result rs[] = {fx_ok("w", 0, 500, 0.99), fx_ok("y", 0, 0, 1.00), fx_ok("z", R, 0, 1.025)};
    cr_assert_eq(frc_category_put(cat, FX_KEY_MM2, rs, 3), FR_ERR_OK);
    const frc_entry *e = frc_category_find(cat, FX_KEY_MM2);
    cr_assert_str_eq(e->results[0].algorithm, "y");
    cr_assert_str_eq(e->results[1].algorithm, "w");
    cr_assert_str_eq(hit(NULL, FX_KEY_MM2, FRC_HIT), "y");
    frc_policy lim = {.max_workspace = 100};
    cr_assert_str_eq(hit(&lim, FX_KEY_MM2, FRC_HIT), "z");
}

Test(policy, filtered_document_keeps_only_what_the_policy_accepts)
{
    frc_policy repro = {.required = R, .forbidden = NAIVE};
    frc_doc out;
    cr_assert_eq(frc_doc_filter(&doc, &repro, &out), FR_ERR_OK);
    cr_assert_eq(out.ncats, 1);
    cr_assert_str_eq(out.cats[0].id, doc.cats[0].id);
    cr_assert_eq(out.cats[0].nentries, 1, "the entry with only a failure is dropped");
    cr_assert_str_eq(out.cats[0].entries[0].key, FX_KEY_MM);
    cr_assert_eq(out.cats[0].entries[0].nresults, 1);
    cr_assert_str_eq(out.cats[0].entries[0].results[0].algorithm, "matmul.repro");
    /* The filtered document is a valid document. */
    char *text = fx_dump(&out, NULL);
    frc_doc back;
    fr_diag d = {""};
    cr_assert_eq(frc_doc_parse(text, strlen(text), "download", &back, &d), FR_ERR_OK, "%s", d.msg);
    frc_doc_cleanup(&back);
    free(text);
    frc_doc_cleanup(&out);
}
