/*
 * test_model.c - the model-file reader (common/model.c): the shared model files load, and every
 * kind of mistake is refused with a detail naming the origin, the operator and the field.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr_common.h"

/* A one-operator model: the conv2d of tiny.json's "stem" with `extra` spliced in (a field, or a
 * replacement written over one with the same name later wins as a JSON duplicate would not). */
#define STEM_FIELDS                                                                                \
    "\"n\": 1, \"c\": 3, \"h\": 32, \"w\": 32, \"k\": 16, \"r\": 3, \"s\": 3, \"stride\": [1, "    \
    "1], "                                                                                         \
    "\"pad\": [1, 1], \"dilation\": [1, 1], \"groups\": 1"

static fr_err parse(const char *text, fr_model *m, fr_diag *d)
{
    memset(m, 0, sizeof *m);
    memset(d, 0, sizeof *d);
    return fr_model_parse(text, strlen(text), "m.json", m, d);
}

/* Parses text, expects error e and every needle in the detail. */
static void expect_error(const char *text, fr_err e, const char *const *needles)
{
    fr_model m;
    fr_diag d;
    fr_err got = parse(text, &m, &d);
    cr_assert_eq(got, e, "got %s (%s) for %s", fr_err_name(got), d.msg, text);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(strstr(d.msg, needles[i]), "'%s' not in '%s'", needles[i], d.msg);
    cr_assert_eq(m.nops, 0);
    cr_assert_null(m.ops);
    fr_model_cleanup(&m);
}

static char *conv_model(const char *fields)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"name\": \"x\", \"operators\": [{\"name\": \"a\", \"op\": \"matmul\", \"batch\": "
             "1, \"m\": 2, \"n\": 2, \"k\": 2}, {\"name\": \"stem\", \"op\": \"conv2d\", %s}]}",
             fields);
    return buf;
}

Test(model, shared_models_load)
{
    const char *names[] = {"tiny.json", "resnet50-b1.json", "transformer-small.json"};
    size_t counts[] = {7, 24, 7};
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", FR_MODELS_DIR, names[i]);
        fr_model m = {0};
        fr_diag d = {{0}};
        cr_assert_eq(fr_model_load_file(path, &m, &d), FR_ERR_OK, "%s", d.msg);
        cr_assert_eq(m.nops, counts[i], "%s", names[i]);
        cr_assert_not_null(m.description);
        fr_model_cleanup(&m);
        fr_model_cleanup(&m); /* twice is safe */
    }
}

Test(model, fields_are_read_exactly)
{
    fr_model m;
    fr_diag d;
    cr_assert_eq(parse(conv_model("\"n\": 2, \"c\": 6, \"h\": 12, \"w\": 15, \"k\": 4, \"r\": "
                                  "2, \"s\": 5, \"stride\": [1, 2], \"pad\": [0, 1], "
                                  "\"dilation\": [2, 1], \"groups\": 2"),
                       &m, &d),
                 FR_ERR_OK, "%s", d.msg);
    cr_assert_eq(m.nops, 2);
    cr_assert_str_eq(m.name, "x");
    cr_assert_null(m.description);
    cr_assert_str_eq(m.ops[1].name, "stem");
    char key[FR_MAX_KEY_LEN];
    fr_op_key(&m.ops[1].op, false, key, sizeof key);
    cr_assert_str_eq(key, "conv2d n=2 c=6 h=12 w=15 k=4 r=2 s=5 stride=1,2 pad=0,1 dilation=2,1 "
                          "groups=2 f32 wp=0");
    fr_op_key(&m.ops[0].op, false, key, sizeof key);
    cr_assert_str_eq(key, "matmul batch=1 m=2 n=2 k=2 f32 wp=0");
    fr_model_cleanup(&m);
}

Test(model, unknown_fields_and_ops_are_errors)
{
    expect_error(conv_model(STEM_FIELDS ", \"bias\": 1"), FR_ERR_BAD_MODEL,
                 (const char *[]){"m.json: operator 'stem' (#1): field 'bias'", "unknown", NULL});
    expect_error("{\"name\": \"x\", \"author\": \"me\", \"operators\": []}", FR_ERR_BAD_MODEL,
                 (const char *[]){"m.json", "field 'author'", NULL});
    expect_error("{\"name\": \"x\", \"operators\": [{\"name\": \"p\", \"op\": \"pool\"}]}",
                 FR_ERR_BAD_MODEL,
                 (const char *[]){"m.json: operator 'p' (#0): field 'op'", "'pool'", NULL});
}

Test(model, every_field_is_required_but_description)
{
    expect_error(conv_model("\"n\": 1, \"c\": 3, \"h\": 32, \"w\": 32, \"k\": 16, \"r\": 3, "
                            "\"s\": 3, \"stride\": [1, 1], \"pad\": [1, 1], \"groups\": 1"),
                 FR_ERR_BAD_MODEL,
                 (const char *[]){"operator 'stem' (#1): field 'dilation': missing", NULL});
    expect_error("{\"operators\": []}", FR_ERR_BAD_MODEL,
                 (const char *[]){"m.json: field 'name': missing", NULL});
    expect_error("{\"name\": \"x\"}", FR_ERR_BAD_MODEL,
                 (const char *[]){"field 'operators': missing", NULL});
    expect_error("{\"name\": \"x\", \"operators\": []}", FR_ERR_BAD_MODEL,
                 (const char *[]){"field 'operators'", "non-empty", NULL});
    expect_error("{\"name\": \"x\", \"description\": 3, \"operators\": []}", FR_ERR_BAD_MODEL,
                 (const char *[]){"field 'description'", NULL});
}

Test(model, only_json_integers_in_range_are_sizes)
{
    const char *bad[] = {"3.0", "\"3\"", "-1", "0", "true", "null", "2000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char fields[512];
        snprintf(fields, sizeof fields,
                 "\"n\": 1, \"c\": %s, \"h\": 32, \"w\": 32, \"k\": 16, "
                 "\"r\": 3, \"s\": 3, \"stride\": [1, 1], \"pad\": [1, 1], \"dilation\": [1, 1], "
                 "\"groups\": 1",
                 bad[i]);
        expect_error(conv_model(fields), FR_ERR_BAD_MODEL,
                     (const char *[]){"m.json: operator 'stem' (#1): field 'c'", NULL});
    }
    /* Beyond 64 bits jansson itself refuses the number, with its position. */
    expect_error(conv_model("\"n\": 99999999999999999999999, \"c\": 3"), FR_ERR_BAD_JSON,
                 (const char *[]){"m.json: line 1 column", NULL});
}

Test(model, pairs_need_two_integers)
{
    const char *bad[] = {"[1]", "[1, 1, 1]", "1", "[1, -1]", "[1, 1.5]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char fields[512];
        snprintf(fields, sizeof fields,
                 "\"n\": 1, \"c\": 3, \"h\": 32, \"w\": 32, \"k\": 16, "
                 "\"r\": 3, \"s\": 3, \"stride\": [1, 1], \"pad\": %s, \"dilation\": [1, 1], "
                 "\"groups\": 1",
                 bad[i]);
        expect_error(conv_model(fields), FR_ERR_BAD_MODEL,
                     (const char *[]){"operator 'stem' (#1): field 'pad'", NULL});
    }
}

Test(model, names_are_unique_bounded_strings)
{
    expect_error("{\"name\": \"x\", \"operators\": [{\"name\": \"a\", \"op\": \"matmul\", "
                 "\"batch\": 1, \"m\": 2, \"n\": 2, \"k\": 2}, {\"name\": \"a\", \"op\": "
                 "\"matmul\", \"batch\": 1, \"m\": 2, \"n\": 2, \"k\": 2}]}",
                 FR_ERR_BAD_MODEL,
                 (const char *[]){"operator 'a' (#1): field 'name'", "duplicate", "#0", NULL});
    char long_name[400];
    memset(long_name, 'x', FR_MODEL_MAX_NAME + 1);
    long_name[FR_MODEL_MAX_NAME + 1] = '\0';
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"x\", \"operators\": [{\"name\": \"%s\", \"op\": "
             "\"matmul\", \"batch\": 1, \"m\": 2, \"n\": 2, \"k\": 2}]}",
             long_name);
    expect_error(text, FR_ERR_BAD_MODEL, (const char *[]){"operator #0: field 'name'", NULL});
    expect_error("{\"name\": \"x\", \"operators\": [{\"name\": 7, \"op\": \"matmul\"}]}",
                 FR_ERR_BAD_MODEL, (const char *[]){"operator #0: field 'name'", NULL});
    expect_error("{\"name\": \"\", \"operators\": []}", FR_ERR_BAD_MODEL,
                 (const char *[]){"field 'name'", NULL});
}

Test(model, shape_rules_name_the_field)
{
    /* h=2 with a 5-high kernel and no padding: empty output. */
    expect_error(conv_model("\"n\": 1, \"c\": 3, \"h\": 2, \"w\": 32, \"k\": 16, \"r\": 5, "
                            "\"s\": 3, \"stride\": [1, 1], \"pad\": [0, 0], \"dilation\": [1, 1], "
                            "\"groups\": 1"),
                 FR_ERR_BAD_MODEL,
                 (const char *[]){"operator 'stem' (#1): field 'h'", "empty", NULL});
    expect_error(conv_model("\"n\": 1, \"c\": 3, \"h\": 32, \"w\": 32, \"k\": 16, \"r\": 3, "
                            "\"s\": 3, \"stride\": [1, 1], \"pad\": [1, 1], \"dilation\": [1, 1], "
                            "\"groups\": 2"),
                 FR_ERR_BAD_MODEL, (const char *[]){"operator 'stem' (#1): field 'groups'", NULL});
    /* 65536 x 65536 floats: over the buffer limit. */
    expect_error("{\"name\": \"x\", \"operators\": [{\"name\": \"big\", \"op\": \"matmul\", "
                 "\"batch\": 1, \"m\": 65536, \"n\": 65536, \"k\": 1}]}",
                 FR_ERR_TOO_LARGE, (const char *[]){"operator 'big' (#0)", "limit", NULL});
}

Test(model, json_errors_give_the_position)
{
    expect_error("{\"name\": \"x\",\n \"operators\": [\n  {\"name\": \"a\",, }]}", FR_ERR_BAD_JSON,
                 (const char *[]){"m.json: line 3 column", NULL});
    expect_error("{\"name\": \"x\", \"name\": \"y\", \"operators\": []}", FR_ERR_BAD_JSON,
                 (const char *[]){"m.json: line 1", "duplicate", NULL});
    expect_error("[1, 2]", FR_ERR_BAD_MODEL, (const char *[]){"m.json", "object", NULL});
}

Test(model, files_name_themselves_in_errors)
{
    fr_model m = {0};
    fr_diag d = {{0}};
    cr_assert_eq(fr_model_load_file("/nonexistent/model.json", &m, &d), FR_ERR_NOT_FOUND);
    cr_assert(strstr(d.msg, "/nonexistent/model.json"), "%s", d.msg);

    char path[] = "/tmp/fastrun-model-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    /* One byte over the cap, as a sparse file. */
    cr_assert_eq(ftruncate(fd, (off_t)FR_MODEL_MAX_BYTES + 1), 0);
    close(fd);
    cr_assert_eq(fr_model_load_file(path, &m, &d), FR_ERR_TOO_LARGE);
    cr_assert(strstr(d.msg, path), "%s", d.msg);
    unlink(path);
}
