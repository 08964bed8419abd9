/*
 * cache_int.h - helpers shared between the files of the cache module (double underscore, not
 * part of the contract in cache.h): the 9-digit rounding that makes ranking and merging give the
 * same answer before and after a round trip through the document, the checks a result and a
 * fingerprint must pass wherever they enter a document, and the canonical dump flags.
 */
#ifndef FRC_CACHE_INT_H
#define FRC_CACHE_INT_H

#include "cache.h"

#include <jansson.h>

/* The one set of dump flags: sorted keys, no whitespace, reals with 9 significant digits. The
 * digest is computed over text dumped with exactly these flags. */
#define FRC__DUMP_FLAGS (JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(9))

/* x as the document stores it: rounded to 9 significant digits. Ranking and merging compare
 * these values, so a document ranks and merges the same before and after dump and parse. */
double frc__round9(double x);

/* Checks a result's fields (name characters and length, known attributes, positive finite
 * figures, min <= median, a failure without figures). path names the result in the detail, e.g.
 * "categories[0].entries[1].results[2]"; the detail reads "<path>.<field>: <problem>".
 * Returns FR_ERR_CORRUPT, or FR_ERR_TOO_LARGE for an over-long string. */
FR_WUR fr_err frc__result_check(const frc_result *r, const char *path, fr_diag *d);
/* Same for a fingerprint: positive versions and threads, strings of 1..FRC_MAX_STRING bytes
 * without control characters. NULL strings are refused (callers normalise them first). */
FR_WUR fr_err frc__fingerprint_check(const frc_fingerprint *fp, const char *path, fr_diag *d);
/* Checks one free-text string: 1..FRC_MAX_STRING bytes, no control characters. */
FR_WUR fr_err frc__text_check(const char *s, const char *path, fr_diag *d);
/* An algorithm name: letters, digits, '_', '.', '-', '+' (FR_ERR_CORRUPT naming path). */
FR_WUR fr_err frc__name_check(const char *s, const char *path, fr_diag *d);

/* Index in cands[0..n) of the result that ranks first (frc_rank's rule applied to the set);
 * n must be > 0. Failures rank after every measured result. */
size_t frc__pick_first(const frc_result *const *cands, size_t n);

/* Frees an entry's key and results, leaving it zeroed. */
void frc__entry_cleanup(frc_entry *e);
/* Frees a category's fingerprint and entries, leaving it zeroed. */
void frc__category_cleanup(frc_category *c);

/* Position of key in cat's sorted entries: *found tells whether it is there; otherwise the
 * position is where it would be inserted. */
size_t frc__entry_slot(const frc_category *cat, const char *key, bool *found);

/* Duplicates s (NULL gives NULL and is not an error); *ok false on allocation failure. */
char *frc__strdup(const char *s, bool *ok);

/* ---------------------------------------------------------------------------------------------
 * doc.c
 * ------------------------------------------------------------------------------------------- */
/* "sha256:<64 hex>" of the categories value dumped with FRC__DUMP_FLAGS. */
FR_WUR fr_err frc__digest_of(const json_t *categories, char out[72]);

/* ---------------------------------------------------------------------------------------------
 * jfield.c: typed JSON field access for the reader; details read "<path>: <problem>".
 * ------------------------------------------------------------------------------------------- */
#define FRC__PATH_MAX 192
/* buf (FRC__PATH_MAX bytes) = path + ".name" (no dot after an empty path), or path + "[i]". */
void frc__path_field(char *buf, const char *path, const char *name);
void frc__path_index(char *buf, const char *path, size_t i);
/* Nesting depth (containers, the top level being 1) and string lengths anywhere in v:
 * FR_ERR_TOO_LARGE naming the path of the first value over a limit. */
FR_WUR fr_err frc__json_limits(const json_t *v, const char *path, int depth, fr_diag *d);
/* FR_ERR_CORRUPT "<path>.<name>: unknown field" for a field of o not in names[0..n). */
FR_WUR fr_err frc__json_only(const json_t *o, const char *path, const char *const *names, size_t n,
                             fr_diag *d);
FR_WUR fr_err frc__json_object(const json_t *v, const char *path, fr_diag *d);
/* Field name of object o: an integer in [min, max] (absent: dflt, or "missing" if required). */
FR_WUR fr_err frc__json_int(const json_t *o, const char *name, const char *path, bool required,
                            json_int_t min, json_int_t max, json_int_t dflt, json_int_t *out,
                            fr_diag *d);
/* A number (integer or real), range left to the caller; `what` completes "must be ...". */
FR_WUR fr_err frc__json_num(const json_t *o, const char *name, const char *path, bool required,
                            const char *what, double *out, fr_diag *d);
/* A string, borrowed from o; NULL when absent and optional. */
FR_WUR fr_err frc__json_str(const json_t *o, const char *name, const char *path, bool required,
                            const char **out, fr_diag *d);

#endif
