/*
 * test_doc.c - the document codec as a reader of cache files sees it: equal contents give equal
 * bytes, a round trip changes nothing, and every kind of damaged, foreign or
 * non-canonical document is refused with an error naming the origin and the place (limits:
 * test_limits.c).
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(doc, canonical_bytes_do_not_depend_on_insertion_order)
{
    frc_doc a, b;
    fx_sample_doc(&a, false);
    fx_sample_doc(&b, true);
    size_t la, lb;
    char *ta = fx_dump(&a, &la), *tb = fx_dump(&b, &lb);
    cr_assert_eq(la, lb);
    cr_assert_str_eq(ta, tb);
    cr_assert(strncmp(ta, "{\"categories\":[{\"entries\":[{\"key\":\"", 35) == 0, "%.60s", ta);
    cr_assert_eq(ta[la - 1], '\n');
    cr_assert_eq(strchr(ta, '\n'), ta + la - 1, "one line, no whitespace");
    cr_assert_not_null(strstr(ta, "\"median_ms\":0.333333333,"), "9 significant digits");
    cr_assert_not_null(strstr(ta, "\"format\":\"fastrun-cache\",\"revision\":0,\"version\":1}"));
    /* Ranked: the failure is last, the fastest first. */
    const char *first = strstr(ta, "\"results\":[{\"algorithm\":\"matmul.blas\"");
    cr_assert_not_null(first);
    cr_assert(strstr(ta, "\"algorithm\":\"matmul.broken\"") > strstr(ta, "matmul.naive"));
    free(ta);
    free(tb);
    frc_doc_cleanup(&a);
    frc_doc_cleanup(&b);
}

Test(doc, round_trip_gives_identical_bytes)
{
    frc_doc a, b;
    fr_diag d = {""};
    fx_sample_doc(&a, true);
    a.revision = 42;
    size_t la, lb;
    char *ta = fx_dump(&a, &la);
    cr_assert_eq(frc_doc_parse(ta, la, "cache.json", &b, &d), FR_ERR_OK, "%s", d.msg);
    char *tb = fx_dump(&b, &lb);
    cr_assert_str_eq(ta, tb);
    cr_assert_eq(b.revision, 42);
    cr_assert_eq(b.ncats, 2);
    frc_entry *e = frc_category_find(&b.cats[0], FX_KEY_CONV);
    cr_assert_not_null(e);
    cr_assert_eq(e->nresults, 4);
    cr_assert_str_eq(e->results[0].algorithm, "matmul.blas");
    cr_assert_eq(e->results[0].attrs, FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS);
    cr_assert_float_eq(e->results[1].median_ms, 0.333333333, 1e-12);
    cr_assert_str_eq(e->results[3].failure, "crashed: SIGSEGV");
    /* Every category id is the id of its fingerprint, recomputed. */
    for (size_t i = 0; i < b.ncats; i++) {
        char id[17];
        frc_category_id(&b.cats[i].fp, id);
        cr_assert_str_eq(id, b.cats[i].id);
        cr_assert_eq(frc_doc_find_category(&b, id), &b.cats[i]);
    }
    free(ta);
    free(tb);
    frc_doc_cleanup(&a);
    frc_doc_cleanup(&b);
}

Test(doc, layout_and_key_order_do_not_change_the_digest)
{
    /* A hand-indented or re-ordered file (e.g. after `jq .`) holds the same content and loads. */
    json_t *root = fx_sample_json();
    char *pretty = json_dumps(root, JSON_INDENT(3) | JSON_REAL_PRECISION(9));
    frc_doc doc;
    fr_diag d = {""};
    cr_assert_eq(frc_doc_parse(pretty, strlen(pretty), "pretty.json", &doc, &d), FR_ERR_OK, "%s",
                 d.msg);
    cr_assert_eq(doc.ncats, 2);
    frc_doc_cleanup(&doc);
    free(pretty);
    json_decref(root);
}

Test(doc, fingerprint_text_escapes_separators)
{
    frc_fingerprint a, b;
    char ta[FRC_FINGERPRINT_TEXT_MAX], tb[FRC_FINGERPRINT_TEXT_MAX], ia[17], ib[17];
    fx_fp(&a, "x;isa=avx2", 2);
    fx_fp(&b, "x", 2);
    free(b.isa);
    b.isa = strdup("avx2;isa=avx512");
    frc_fingerprint_text(&a, ta, sizeof ta);
    frc_fingerprint_text(&b, tb, sizeof tb);
    cr_assert_str_eq(ta, "fastrun=1;kernels=1;cpu=x\\;isa=avx2;isa=avx512;threads=2;"
                         "blas=OpenBLAS 0.3.21;blas_core=Cooperlake");
    cr_assert_str_neq(ta, tb);
    frc_category_id(&a, ia);
    frc_category_id(&b, ib);
    cr_assert_eq(strlen(ia), 16);
    cr_assert_str_neq(ia, ib);
    frc_fingerprint_cleanup(&a);
    frc_fingerprint_cleanup(&b);
}

Test(doc, changed_digit_is_caught_by_the_digest)
{
    frc_doc a, b;
    fr_diag d = {""};
    fx_sample_doc(&a, false);
    size_t len;
    char *text = fx_dump(&a, &len);
    char *m = strstr(text, "\"median_ms\":0.125");
    cr_assert_not_null(m);
    m[strlen("\"median_ms\":0.12")] = '6';
    cr_assert_eq(frc_doc_parse(text, len, "cache.json", &b, &d), FR_ERR_CORRUPT);
    cr_assert(strncmp(d.msg, "cache.json: digest mismatch", 27) == 0, "%s", d.msg);
    cr_assert_eq(b.ncats, 0);
    free(text);
    frc_doc_cleanup(&a);
}

Test(doc, missing_digest_is_refused_unless_allowed)
{
    json_t *root = fx_sample_json();
    json_object_del(root, "digest");
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: digest: missing");
    frc_doc doc;
    cr_assert_eq(frc_doc_from_json(root, "upload", false, &doc, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(doc.ncats, 2);
    frc_doc_cleanup(&doc);
    json_decref(root);
}

Test(doc, syntax_error_names_line_column_and_byte)
{
    const char *text = "{\"format\":\"fastrun-cache\",\n \"version\":1,, }";
    frc_doc doc;
    fr_diag d = {""};
    cr_assert_eq(frc_doc_parse(text, strlen(text), "cache.json", &doc, &d), FR_ERR_CORRUPT);
    cr_assert(strncmp(d.msg, "cache.json: line 2 column 14 (byte 41): ", 40) == 0, "%s", d.msg);
    const char *dup = "{\"format\":\"fastrun-cache\",\"format\":\"x\"}";
    cr_assert_eq(frc_doc_parse(dup, strlen(dup), "cache.json", &doc, &d), FR_ERR_CORRUPT);
    cr_assert(strstr(d.msg, "duplicate") != NULL, "%s", d.msg);
}

Test(doc, foreign_json_is_not_a_cache)
{
    const char *cases[] = {
        "{\"name\":\"tiny\",\"operators\":[]}",
        "[1,2,3]",
        "{\"format\":\"fastrun-model\",\"version\":1}",
    };
    const char *why[] = {"(no \"format\": \"fastrun-cache\" field)",
                         "(the top level is not an object)", "(format is \"fastrun-model\""};
    for (size_t i = 0; i < 3; i++) {
        frc_doc doc;
        fr_diag d = {""};
        cr_assert_eq(frc_doc_parse(cases[i], strlen(cases[i]), "x.json", &doc, &d), FR_ERR_CORRUPT);
        cr_assert(strncmp(d.msg, "x.json: not a fastrun cache document ", 37) == 0, "%s", d.msg);
        cr_assert(strstr(d.msg, why[i]) != NULL, "%s", d.msg);
    }
}

Test(doc, other_version_is_refused)
{
    json_t *root = fx_sample_json();
    json_object_set_new(root, "version", json_integer(2));
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_VERSION);
    cr_assert_str_eq(d.msg, "cache.json: unsupported cache format version 2 (this fastrun "
                            "reads version 1)");
    json_decref(root);
}

Test(doc, unknown_fields_are_errors)
{
    json_t *root = fx_sample_json();
    json_object_set_new(root, "comment", json_string("hi"));
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: comment: unknown field");
    json_object_del(root, "comment");
    json_object_set_new(fx_result_at(root, 1, 2, 1), "speed", json_real(1.0));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: categories[1].entries[2].results[1].speed: unknown field");
    json_decref(root);
}

Test(doc, field_errors_name_their_path)
{
    json_t *root = fx_sample_json();
    fr_diag d = {""};
    json_object_set_new(fx_result_at(root, 0, 2, 1), "median_ms", json_real(-1.0));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[2].results[1].median_ms: must be "
                            "a positive number");
    json_decref(root);

    root = fx_sample_json();
    json_object_set_new(fx_result_at(root, 0, 0, 0), "samples", json_string("10"));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[0].results[0].samples: must be a "
                            "positive integer");
    json_decref(root);

    root = fx_sample_json();
    json_array_append_new(json_object_get(fx_result_at(root, 0, 0, 0), "attributes"),
                          json_string("FAST"));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[0].results[0].attributes[2]: "
                            "unknown attribute 'FAST'");
    json_decref(root);

    root = fx_sample_json();
    json_object_set_new(fx_result_at(root, 0, 0, 3), "median_ms", json_real(1.0));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[0].results[3].median_ms: a failed "
                            "result carries no figures");
    json_decref(root);
}

Test(doc, non_canonical_key_is_refused)
{
    const char *bad[] = {
        "matmul batch=1 m=064 n=512 k=512 f32 wp=0", "matmul batch=1 m=64 n=512 k=512 f32 wp=0 ",
        "matmul batch=1 m=64  n=512 k=512 f32 wp=0", "matmul batch=1 m=+64 n=512 k=512 f32 wp=0",
        "matmul batch=1 m=64 n=512 k=512 f16 wp=0",  "softmax n=3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *root = fx_sample_json();
        json_t *c = json_array_get(json_object_get(root, "categories"), 0);
        json_t *e = json_array_get(json_object_get(c, "entries"), 1);
        json_object_set_new(e, "key", json_string(bad[i]));
        fx_reseal(root);
        fr_diag d = {""};
        cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT, "key '%s' accepted", bad[i]);
        cr_assert(strncmp(d.msg, "cache.json: categories[0].entries[1].key: ", 42) == 0, "%s",
                  d.msg);
        json_decref(root);
    }
}

Test(doc, category_id_must_match_fingerprint)
{
    json_t *root = fx_sample_json();
    json_t *c = json_array_get(json_object_get(root, "categories"), 1);
    json_object_set_new(json_object_get(c, "fingerprint"), "threads", json_integer(3));
    fx_reseal(root);
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert(strstr(d.msg, "cache.json: categories[1].id: ") == d.msg, "%s", d.msg);
    cr_assert(strstr(d.msg, "is not the id of this fingerprint") != NULL, "%s", d.msg);
    json_decref(root);
}

Test(doc, duplicates_are_refused)
{
    json_t *root = fx_sample_json();
    json_t *cats = json_object_get(root, "categories");
    json_array_append(cats, json_array_get(cats, 0));
    fx_reseal(root);
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert(strstr(d.msg, "appears twice") != NULL, "%s", d.msg);
    json_decref(root);

    root = fx_sample_json();
    json_t *c = json_array_get(json_object_get(root, "categories"), 0);
    json_t *res = json_object_get(json_array_get(json_object_get(c, "entries"), 0), "results");
    json_array_append_new(res, json_deep_copy(json_array_get(res, 0)));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[0].results[4].algorithm: "
                            "'matmul.blas' already in [0]");
    json_decref(root);
}

Test(doc, result_json_round_trip)
{
    frc_result r = fx_ok("conv2d.winograd_f43", FR_ATTR_REPRODUCIBLE, 123456, 2.5), back;
    void *j;
    fr_diag d = {""};
    cr_assert_eq(frc_result_to_json(&r, &j), FR_ERR_OK);
    char *text = json_dumps(j, FX_DUMP_FLAGS);
    cr_assert_str_eq(text, "{\"algorithm\":\"conv2d.winograd_f43\",\"attributes\":"
                           "[\"REPRODUCIBLE\"],\"median_ms\":2.5,\"min_ms\":2.25,\"reports\":1,"
                           "\"samples\":10,\"spread_ms\":0.0,\"workspace\":123456}");
    cr_assert_eq(frc_result_from_json(j, "results[0]", &back, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_str_eq(back.algorithm, r.algorithm);
    cr_assert_eq(back.workspace, 123456u);
    cr_assert_eq(back.median_ms, 2.5);
    frc_result_cleanup(&back);
    free(text);
    json_decref(j);
    /* A worker's upload may leave out reports and spread. */
    json_t *lean =
        json_pack("{s:s,s:[s],s:i,s:f,s:f,s:i}", "algorithm", "matmul.blas", "attributes",
                  "USES_BLAS", "workspace", 0, "median_ms", 1.5, "min_ms", 1.25, "samples", 7);
    cr_assert_eq(frc_result_from_json(lean, "results[0]", &back, &d), FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(back.reports, 1);
    cr_assert_eq(back.spread_ms, 0.0);
    frc_result_cleanup(&back);
    json_object_set_new(lean, "min_ms", json_real(2.0));
    cr_assert_eq(frc_result_from_json(lean, "results[0]", &back, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "results[0].min_ms: 2 exceeds median_ms 1.5");
    json_decref(lean);
}
