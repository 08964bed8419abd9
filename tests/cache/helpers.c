/*
 * helpers.c - the fixtures declared in helpers.h.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fx_fp(frc_fingerprint *fp, const char *cpu, int threads)
{
    frc_fingerprint src = {
        .format_version = FRC_FORMAT_VERSION,
        .kernel_set = 1,
        .cpu = (char *)cpu,
        .isa = "avx512",
        .threads = threads,
        .blas = "OpenBLAS 0.3.21",
        .blas_core = "Cooperlake",
    };
    cr_assert_eq(frc_fingerprint_copy(&src, fp), FR_ERR_OK);
}

frc_result fx_ok(const char *name, unsigned attrs, uint64_t ws, double median)
{
    frc_result r = {
        .algorithm = (char *)name,
        .attrs = attrs,
        .workspace = ws,
        .median_ms = median,
        .min_ms = median * 0.9,
        .samples = 10,
        .reports = 1,
    };
    return r;
}

frc_result fx_fail(const char *name, const char *reason)
{
    frc_result r = {.algorithm = (char *)name, .reports = 1, .failure = (char *)reason};
    return r;
}

static void put_key(frc_category *cat, const char *key, bool reversed)
{
    frc_result rs[] = {
        fx_ok("matmul.blas", FR_ATTR_REPRODUCIBLE | FR_ATTR_USES_BLAS, 0, 0.125),
        fx_ok("matmul.tiled", FR_ATTR_REPRODUCIBLE, 4096, 0.3333333333333),
        fx_ok("matmul.naive", FR_ATTR_REPRODUCIBLE | FR_ATTR_NAIVE, 0, 12.5),
        fx_fail("matmul.broken", "crashed: SIGSEGV"),
    };
    size_t n = sizeof rs / sizeof rs[0];
    if (reversed)
        for (size_t i = 0; i < n / 2; i++) {
            frc_result t = rs[i];
            rs[i] = rs[n - 1 - i];
            rs[n - 1 - i] = t;
        }
    cr_assert_eq(frc_category_put(cat, key, rs, n), FR_ERR_OK);
}

void fx_sample_doc(frc_doc *doc, bool reversed)
{
    const char *cpus[] = {"AMD EPYC 9R45", "Intel Xeon; with a semicolon \\ and backslash"};
    const char *keys[] = {FX_KEY_MM, FX_KEY_MM2, FX_KEY_CONV};
    frc_doc_init(doc);
    for (int ci = 0; ci < 2; ci++) {
        frc_fingerprint fp;
        fx_fp(&fp, cpus[reversed ? 1 - ci : ci], 2);
        frc_category *cat;
        cr_assert_eq(frc_doc_category(doc, &fp, &cat), FR_ERR_OK);
        frc_fingerprint_cleanup(&fp);
        for (int k = 0; k < 3; k++)
            put_key(cat, keys[reversed ? 2 - k : k], reversed);
    }
}

void fx_big_doc(frc_doc *doc, size_t n)
{
    frc_fingerprint fp;
    frc_category *cat;
    fx_fp(&fp, "AMD EPYC 9R45", 2);
    frc_doc_init(doc);
    cr_assert_eq(frc_doc_category(doc, &fp, &cat), FR_ERR_OK);
    frc_fingerprint_cleanup(&fp);
    for (size_t i = 0; i < n; i++) {
        char key[FR_MAX_KEY_LEN];
        snprintf(key, sizeof key, "matmul batch=1 m=%zu n=64 k=64 f32 wp=0", i + 1);
        frc_result rs[] = {fx_ok("matmul.blas", FR_ATTR_USES_BLAS, 0, 0.5 + (double)i / 7),
                           fx_ok("matmul.tiled", FR_ATTR_REPRODUCIBLE, 65536, 0.75)};
        cr_assert_eq(frc_category_put(cat, key, rs, 2), FR_ERR_OK);
    }
}

char *fx_dump(const frc_doc *doc, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    cr_assert_eq(frc_doc_dump(doc, &text, &n), FR_ERR_OK);
    cr_assert_eq(strlen(text), n);
    if (len) *len = n;
    return text;
}

char *fx_tmpdir(void)
{
    char tmpl[] = "/tmp/frc-test-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fx_rmtree(const char *dir)
{
    chmod(dir, 0700);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fx_write(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

char *fx_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int fx_count_matching(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, needle)) count++;
    closedir(d);
    return count;
}

/* The sample document as a jansson value, for tests that damage it. */
json_t *fx_sample_json(void)
{
    frc_doc doc;
    fx_sample_doc(&doc, false);
    char *text = fx_dump(&doc, NULL);
    frc_doc_cleanup(&doc);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(root);
    return root;
}

/* Recomputes the digest the way any writer would, so that only the damage under test remains. */
void fx_reseal(json_t *root)
{
    char *cats = json_dumps(json_object_get(root, "categories"), FX_DUMP_FLAGS);
    cr_assert_not_null(cats);
    char hex[65], digest[80];
    frc_sha256_hex(cats, strlen(cats), hex);
    free(cats);
    snprintf(digest, sizeof digest, "sha256:%s", hex);
    json_object_set_new(root, "digest", json_string(digest));
}

/* Parses root's text as "cache.json"; returns the error and leaves the detail in d. */
fr_err fx_parse_json(json_t *root, fr_diag *d)
{
    char *text = json_dumps(root, FX_DUMP_FLAGS);
    frc_doc doc;
    fr_err e = frc_doc_parse(text, strlen(text), "cache.json", &doc, d);
    cr_assert_eq(doc.ncats, e ? 0u : doc.ncats, "a failed parse leaves the document empty");
    frc_doc_cleanup(&doc);
    free(text);
    return e;
}

json_t *fx_result_at(json_t *root, size_t cat, size_t ent, size_t res)
{
    json_t *c = json_array_get(json_object_get(root, "categories"), cat);
    json_t *e = json_array_get(json_object_get(c, "entries"), ent);
    return json_array_get(json_object_get(e, "results"), res);
}
