/*
 * helpers.h - fixtures shared by the cache tests: fingerprints, results, a sample document built
 * in either insertion order, and small file utilities (temporary directories, whole-file read
 * and write). Every helper asserts with Criterion, so a broken fixture fails the test using it.
 */
#ifndef FRC_TEST_HELPERS_H
#define FRC_TEST_HELPERS_H

#include "cache.h"

#include <jansson.h>
#include <stddef.h>

#define FX_KEY_MM "matmul batch=1 m=64 n=512 k=512 f32 wp=0"
#define FX_KEY_MM2 "matmul batch=2 m=8 n=8 k=8 f32 wp=1"
#define FX_KEY_CONV                                                                                \
    "conv2d n=1 c=64 h=56 w=56 k=64 r=3 s=3 stride=1,1 pad=1,1 dilation=1,1 groups=1 f32 wp=0"

/* A fingerprint with owned strings (clean up with frc_fingerprint_cleanup). */
void fx_fp(frc_fingerprint *fp, const char *cpu, int threads);
/* A measured result; the name is borrowed (fine for put, merge and rank, which copy or only
 * reorder). min = 0.9 * median, 10 samples, 1 report. */
frc_result fx_ok(const char *name, unsigned attrs, uint64_t ws, double median);
/* A failed result with a borrowed name and reason. */
frc_result fx_fail(const char *name, const char *reason);

/* Two categories, three keys, results with figures and a failure; reversed inserts everything
 * in the opposite order. */
void fx_sample_doc(frc_doc *doc, bool reversed);
/* A document with one category and n matmul keys (for size tests). */
void fx_big_doc(frc_doc *doc, size_t n);

/* Canonical text of doc (asserts success); caller frees. */
char *fx_dump(const frc_doc *doc, size_t *len);

/* Temporary directory (caller frees the string, removes it with fx_rmtree). */
char *fx_tmpdir(void);
void fx_rmtree(const char *dir);
void fx_write(const char *path, const char *buf, size_t len);
/* Whole file, NUL-terminated; NULL if it cannot be opened. */
char *fx_read(const char *path, size_t *len);
/* Number of entries of dir whose name contains needle. */
int fx_count_matching(const char *dir, const char *needle);

/* jansson side, for tests that damage a document: the dump flags, the sample document as a
 * value, a digest recomputed the way any writer would (so only the damage under test remains),
 * a parse of the value's text as "cache.json" (error returned, detail in d), and the value of
 * categories[cat].entries[ent].results[res]. */
#define FX_DUMP_FLAGS (JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(9))
json_t *fx_sample_json(void);
void fx_reseal(json_t *root);
fr_err fx_parse_json(json_t *root, fr_diag *d);
json_t *fx_result_at(json_t *root, size_t cat, size_t ent, size_t res);

#endif
