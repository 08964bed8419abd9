/*
 * test_limits.c - every limit a document must respect (FRC_MAX_*: size, categories, entries,
 * results per entry, string length, nesting depth) is enforced with FR_ERR_TOO_LARGE and an
 * error naming the place, and a document exactly at a limit is still accepted.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(limits, empty_and_oversized_text)
{
    frc_doc doc;
    fr_diag d = {""};
    cr_assert_eq(frc_doc_parse("", 0, "body", &doc, &d), FR_ERR_CORRUPT);
    cr_assert_str_eq(d.msg, "body: empty document (0 bytes)");
    size_t big = (size_t)FRC_MAX_DOC_BYTES + 1;
    char *spaces = malloc(big);
    memset(spaces, ' ', big);
    cr_assert_eq(frc_doc_parse(spaces, big, "body", &doc, &d), FR_ERR_TOO_LARGE);
    cr_assert(strstr(d.msg, "exceeds the limit") != NULL, "%s", d.msg);
    free(spaces);
}

Test(limits, too_many_results_in_an_entry)
{
    json_t *root = fx_sample_json();
    json_t *c = json_array_get(json_object_get(root, "categories"), 0);
    json_t *res = json_object_get(json_array_get(json_object_get(c, "entries"), 0), "results");
    json_array_clear(res);
    for (int i = 0; i <= FRC_MAX_RESULTS_PER_ENTRY; i++) {
        char name[32];
        snprintf(name, sizeof name, "matmul.v%d", i);
        json_array_append_new(res, json_pack("{s:s,s:[],s:i,s:f,s:f,s:i}", "algorithm", name,
                                             "attributes", "workspace", 0, "median_ms", 1.0,
                                             "min_ms", 1.0, "samples", 3));
    }
    fx_reseal(root);
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_TOO_LARGE);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[0].results: 65 results exceed the "
                            "limit of 64");
    /* One fewer is fine. */
    json_array_remove(res, 0);
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_OK, "%s", d.msg);
    json_decref(root);
}

Test(limits, too_many_categories_and_entries)
{
    json_t *root = fx_sample_json();
    json_t *cats = json_array();
    for (int i = 0; i <= FRC_MAX_CATEGORIES; i++)
        json_array_append_new(cats, json_object());
    json_object_set_new(root, "categories", cats);
    fx_reseal(root);
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_TOO_LARGE);
    cr_assert_str_eq(d.msg, "cache.json: categories: 1025 categories exceed the limit of 1024");
    json_decref(root);

    root = fx_sample_json();
    json_t *c = json_array_get(json_object_get(root, "categories"), 0);
    json_t *ents = json_array();
    for (int i = 0; i <= FRC_MAX_ENTRIES; i++)
        json_array_append_new(ents, json_null());
    json_object_set_new(c, "entries", ents);
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_TOO_LARGE);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries: 200001 entries exceed the limit "
                            "of 200000");
    json_decref(root);
}

Test(limits, nesting_deeper_than_the_limit)
{
    /* The deepest legal value (attributes) is at depth 8; one more level is refused. */
    json_t *root = fx_sample_json();
    json_t *attrs = json_object_get(fx_result_at(root, 0, 0, 0), "attributes");
    json_array_append_new(attrs, json_array());
    fx_reseal(root);
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_TOO_LARGE);
    cr_assert_str_eq(d.msg, "cache.json: categories[0].entries[0].results[0].attributes[2]: "
                            "nested deeper than 8 levels");
    json_decref(root);

    const char *deep = "{\"format\":\"fastrun-cache\",\"version\":1,\"categories\":"
                       "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}";
    frc_doc doc;
    cr_assert_eq(frc_doc_parse(deep, strlen(deep), "cache.json", &doc, &d), FR_ERR_TOO_LARGE);
    cr_assert_str_eq(d.msg, "cache.json: categories[0][0][0][0][0][0][0]: nested deeper than 8 "
                            "levels");
}

Test(limits, strings_longer_than_the_limit)
{
    char name[FRC_MAX_STRING + 2];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    json_t *root = fx_sample_json();
    json_object_set_new(fx_result_at(root, 1, 0, 0), "algorithm", json_string(name));
    fx_reseal(root);
    fr_diag d = {""};
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_TOO_LARGE);
    cr_assert_str_eq(d.msg, "cache.json: categories[1].entries[0].results[0].algorithm: string "
                            "of 257 bytes is longer than the limit of 256");
    /* Exactly at the limit is fine. */
    name[FRC_MAX_STRING] = '\0';
    json_object_set_new(fx_result_at(root, 1, 0, 0), "algorithm", json_string(name));
    fx_reseal(root);
    cr_assert_eq(fx_parse_json(root, &d), FR_ERR_OK, "%s", d.msg);
    json_decref(root);
}
