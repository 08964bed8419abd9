/*
 * cache.h - the persistent cache of profiling results, shared by worker/ and server/.
 *
 * Data model: a document holds categories; a category (where a measurement is valid: cache
 * format, kernel set, CPU, ISA, threads, BLAS and its core) holds entries; an entry (one
 * operator key) holds its results ranked best first; a result is one algorithm's figures or its
 * failure. The same JSON document is the local file and the server's download (doc.c), canonical
 * so equal contents give equal bytes, with a SHA-256 digest of the content the reader checks.
 *
 * Also here: ranking with deterministic tie-breaks (rank.c), the merge rule used by both
 * `fastrun cache merge` and the server (merge.c), the policy filter applied when reading
 * (policy.c), and atomic, locked file load/save (file.c).
 *
 * Ownership: every char * inside these structs is owned by the struct that holds it; the
 * *_cleanup functions free them and are safe on zeroed structs.
 */
#ifndef FRC_CACHE_H
#define FRC_CACHE_H

#include "fr_common.h"

/* Version of the document format; a reader refuses any other ("format" + "version" fields). */
#define FRC_FORMAT_NAME "fastrun-cache"
#define FRC_FORMAT_VERSION 1

/* Limits on what a document may hold (a client controls uploads). */
#define FRC_MAX_DOC_BYTES (64 << 20)
#define FRC_MAX_CATEGORIES 1024
#define FRC_MAX_ENTRIES 200000
#define FRC_MAX_RESULTS_PER_ENTRY 64
#define FRC_MAX_STRING 256
#define FRC_MAX_DEPTH 8
/* Additions (cache module): the largest thread count a fingerprint may name, and a buffer size
 * that always holds frc_fingerprint_text of a valid fingerprint (escaped strings included). */
#define FRC_MAX_THREADS 65536
#define FRC_FINGERPRINT_TEXT_MAX 2304

/* Two medians within this relative distance are a tie within measurement noise. */
/* Largest time a result may state, in ms (about 31 years): beyond it a figure is no measurement,
 * and PostgreSQL's jsonb prints numbers >= 1e19 as integers that jansson cannot read back. */
#define FRC_MAX_MS 1e12
#define FRC_TIE_TOLERANCE 0.03

/* ---------------------------------------------------------------------------------------------
 * Data model
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    char *algorithm;    /* stable name, e.g. "conv2d.winograd_f43" */
    unsigned attrs;     /* FR_ATTR_* */
    uint64_t workspace; /* bytes */
    double median_ms;   /* merged: weighted median of the reports' medians */
    double min_ms;      /* merged: minimum over reports */
    int64_t samples;    /* timed runs, summed over reports */
    int64_t reports;    /* number of independent reports merged into this figure (>= 1) */
    double spread_ms;   /* range of the reports' medians (0 for one report) */
    char *failure;      /* NULL if measured; else why it failed ("crashed: SIGSEGV", "wrong
                           result: max error 3e-2 > 1e-4", "timed out after 120 ms"); a failed
                           result has no figures and ranks after every measured one */
} frc_result;

typedef struct {
    char *key; /* canonical operator key (fr_op_key) */
    frc_result *results; /* ranked best first (frc_rank) */
    size_t nresults;
    char *heuristic; /* the heuristic's pick for this key under no policy, as the measuring
                        machine's kernels chose it; NULL if unknown. Lets readers that do not
                        link kernels/ (server, dashboard) say what tuning gained over it. */
} frc_entry;

/* The fingerprint of a category. Anything unknown is the string "unknown", which never matches
 * a real value. */
typedef struct {
    int format_version;  /* FRC_FORMAT_VERSION at measurement */
    int kernel_set;      /* FRK_KERNEL_SET_VERSION at measurement */
    char *cpu;           /* CPU model */
    char *isa;           /* "avx512" */
    int threads;
    char *blas;          /* "OpenBLAS 0.3.21" */
    char *blas_core;     /* "Cooperlake" */
} frc_fingerprint;

typedef struct {
    char id[17];  /* 16 hex digits: first 64 bits of SHA-256 of the canonical fingerprint text */
    frc_fingerprint fp;
    frc_entry *entries; /* sorted by key (strcmp) */
    size_t nentries;
} frc_category;

typedef struct {
    frc_category *cats; /* sorted by id */
    size_t ncats;
    int64_t revision;   /* server's revision of a download; 0 for a local file */
} frc_doc;

/* A reader's policy (DESIGN.md): applied when reading, never when profiling. */
typedef struct {
    unsigned required;   /* e.g. FR_ATTR_REPRODUCIBLE */
    unsigned forbidden;  /* e.g. FR_ATTR_NAIVE */
    uint64_t max_workspace; /* bytes, 0 = no limit */
} frc_policy;

/* ---------------------------------------------------------------------------------------------
 * model.c: construction and lookup
 * ------------------------------------------------------------------------------------------- */
void frc_doc_init(frc_doc *doc);
void frc_doc_cleanup(frc_doc *doc);
void frc_result_cleanup(frc_result *r);
void frc_fingerprint_cleanup(frc_fingerprint *fp);
/* Deep copies. */
FR_WUR fr_err frc_fingerprint_copy(const frc_fingerprint *src, frc_fingerprint *dst);
FR_WUR fr_err frc_result_copy(const frc_result *src, frc_result *dst);

/* Canonical fingerprint text ("fastrun=1;kernels=1;cpu=...;isa=...;threads=2;blas=...;
 * blas_core=...") and the id derived from it (16 lowercase hex digits). */
void frc_fingerprint_text(const frc_fingerprint *fp, char *buf, size_t len);
void frc_category_id(const frc_fingerprint *fp, char out[17]);

/* Finds or adds the category of fp (copied). *out is borrowed from doc and stays valid until
 * the next category is added to doc (the array may move). FR_ERR_INVALID_ARGUMENT for a
 * fingerprint that frc_fingerprint_to_json would refuse (NULL strings count as "unknown"). */
FR_WUR fr_err frc_doc_category(frc_doc *doc, const frc_fingerprint *fp, frc_category **out);
/* Finds by id; NULL if absent. */
frc_category *frc_doc_find_category(const frc_doc *doc, const char *id);
/* Finds an entry by key; NULL if absent. */
frc_entry *frc_category_find(const frc_category *cat, const char *key);
/* Sets (copies) or, with NULL, clears the entry's heuristic pick. The name must be an
 * algorithm name (letters, digits, '_', '.', '-', '+'): FR_ERR_INVALID_ARGUMENT otherwise. */
FR_WUR fr_err frc_entry_set_heuristic(frc_entry *ent, const char *algorithm);
/* Replaces (or adds) the entry for key with these results (deep-copied, then ranked).
 * Pointers into cat's entries are invalidated. FR_ERR_INVALID_ARGUMENT for a non-canonical key,
 * no results, a duplicate algorithm or an invalid result; FR_ERR_TOO_LARGE over a limit. */
FR_WUR fr_err frc_category_put(frc_category *cat, const char *key, const frc_result *results,
                               size_t n);

/* ---------------------------------------------------------------------------------------------
 * rank.c: ranking, deterministic within noise. Measured results sorted by median; among those
 * whose median is within FRC_TIE_TOLERANCE of the fastest remaining one, the order is
 * REPRODUCIBLE first, then smaller workspace, then name; failures last, by name.
 * ------------------------------------------------------------------------------------------- */
void frc_rank(frc_result *results, size_t n);

/* ---------------------------------------------------------------------------------------------
 * policy.c
 * ------------------------------------------------------------------------------------------- */
bool frc_policy_accepts(const frc_policy *pol, const frc_result *r);
/* Lookup outcome for one key under a policy. */
typedef enum {
    FRC_MISS = 0,      /* no entry for the key in this category */
    FRC_HIT,           /* *out is the best result the policy accepts */
    FRC_NONE_ACCEPTED, /* an entry exists but nothing in it meets the policy */
} frc_lookup_status;
frc_lookup_status frc_lookup(const frc_category *cat, const char *key, const frc_policy *pol,
                             const frc_result **out);
/* Where a reader takes an algorithm's attributes from (the runner: its kernel registry, never
 * the file). Returns false for an algorithm the reader does not know; else sets *attrs. */
typedef bool (*frc_attrs_fn)(void *ctx, const char *algorithm, unsigned *attrs);
/* frc_lookup with each result's attributes replaced by attrs_of's answer; results it does not
 * know are skipped and counted in *nunknown (may be NULL). *out points into cat (borrowed). */
frc_lookup_status frc_lookup_with(const frc_category *cat, const char *key, const frc_policy *pol,
                                  frc_attrs_fn attrs_of, void *ctx, const frc_result **out,
                                  size_t *nunknown);
/* A copy of doc keeping, in every entry, only results the policy accepts (and entries left
 * non-empty). Failures are dropped. */
FR_WUR fr_err frc_doc_filter(const frc_doc *doc, const frc_policy *pol, frc_doc *out);

/* ---------------------------------------------------------------------------------------------
 * merge.c: the merge rule (README "Merge rule").
 * Each input result of one (category, key, algorithm) counts as `reports` reports at its
 * median. Merged median = weighted median of the input medians (lower median on an even split);
 * min = min of mins; samples and reports add up; spread = range of the input medians (or the
 * widest input spread if larger). Inputs with identical figures count once, so merging a
 * document with itself changes nothing. A failure counts only when no input measured the
 * algorithm.
 * ------------------------------------------------------------------------------------------- */
FR_WUR fr_err frc_merge_results(const frc_result *const *inputs, size_t n, frc_result *out);
/* Merges src into dst (every category, key and algorithm), re-ranking touched entries. */
FR_WUR fr_err frc_doc_merge(frc_doc *dst, const frc_doc *src);
/* Addition: a deep copy of src into out (initialised here; the caller cleans it up). */
FR_WUR fr_err frc_doc_copy(const frc_doc *src, frc_doc *out);

/* ---------------------------------------------------------------------------------------------
 * doc.c: the JSON document codec
 * {"format":"fastrun-cache","version":1,"revision":0,"digest":"sha256:<hex>",
 *  "categories":[{"id":"..","fingerprint":{...},"entries":[{"key":"..","results":[{...}]}]}]}
 * Canonical: categories by id, entries by key, results ranked, object keys sorted, reals with
 * 9 significant digits. digest = SHA-256 of the canonical compact text of "categories".
 * ------------------------------------------------------------------------------------------- */
/* Serialises to canonical text (owned by the caller, free()), with digest. */
FR_WUR fr_err frc_doc_dump(const frc_doc *doc, char **out, size_t *outlen);
/* Parses and checks a document: format, version, limits, types, canonical keys, digest.
 * Errors name origin and the position or path: "cache.json: line 3 column 5 (byte 40): ..." or
 * "cache.json: categories[0].entries[2].results[1].median_ms: must be a positive number". */
FR_WUR fr_err frc_doc_parse(const char *buf, size_t len, const char *origin, frc_doc *out,
                            fr_diag *d);
/* Same, from a jansson value (borrowed): used by the server for bodies it has already parsed.
 * With require_digest false, a missing digest is accepted (hand-written uploads). */
FR_WUR fr_err frc_doc_from_json(const void *json_root, const char *origin, bool require_digest,
                                frc_doc *out, fr_diag *d);
/* Builds the jansson value of doc (new reference, caller json_decref()s). */
FR_WUR fr_err frc_doc_to_json(const frc_doc *doc, void **out_json);
/* Result <-> JSON object, for the server's per-operator uploads and reports. */
FR_WUR fr_err frc_result_to_json(const frc_result *r, void **out_json);
FR_WUR fr_err frc_result_from_json(const void *json, const char *path, frc_result *out,
                                   fr_diag *d);
FR_WUR fr_err frc_fingerprint_to_json(const frc_fingerprint *fp, void **out_json);
FR_WUR fr_err frc_fingerprint_from_json(const void *json, const char *path, frc_fingerprint *out,
                                        fr_diag *d);
/* Hex SHA-256 (65 bytes with NUL) of bytes. */
void frc_sha256_hex(const void *data, size_t len, char out[65]);

/* ---------------------------------------------------------------------------------------------
 * file.c: load and save, atomic and locked
 * ------------------------------------------------------------------------------------------- */
/* An exclusive lock on PATH (held on the side file PATH.lock with flock, so the cache file
 * itself can be replaced by rename while locked). */
typedef struct {
    int fd;
    char *path;
} frc_lock;

/* Takes the lock; FR_ERR_LOCKED at once if another process holds it, naming its pid if known.
 * lock must be zeroed; frc_unlock on a zeroed lock is a no-op. */
FR_WUR fr_err frc_lock_acquire(const char *path, frc_lock *lock, fr_diag *d);
void frc_unlock(frc_lock *lock);

/* Loads PATH. FR_ERR_NOT_FOUND if it does not exist (the caller decides whether missing means
 * empty). Corrupt, truncated, foreign or wrong-version files are errors naming the file and what
 * is wrong; the file is never modified. */
FR_WUR fr_err frc_file_load(const char *path, frc_doc *out, fr_diag *d);
/* Saves atomically: PATH.tmp.<pid> written, fsynced, renamed over PATH, directory fsynced. On any
 * error (disk full included) PATH is untouched and the temporary file removed. */
FR_WUR fr_err frc_file_save(const char *path, const frc_doc *doc, fr_diag *d);

/* ---------------------------------------------------------------------------------------------
 * report.c (addition): from raw measurements to results, for the worker and the server.
 * ------------------------------------------------------------------------------------------- */
/* One measured result from the times of its timed runs (ms, any order, all positive and
 * finite): median (mean of the two middle ones for an even count), min, samples = n,
 * reports = 1, spread 0. name is copied. FR_ERR_INVALID_ARGUMENT for n == 0, a bad time or a
 * bad name (letters, digits, '_', '.', '-', '+'; at most FRC_MAX_STRING bytes). */
FR_WUR fr_err frc_result_measured(const char *algorithm, unsigned attrs, uint64_t workspace,
                                  const double *times_ms, size_t n, frc_result *out);
/* One failed result: reason is copied, made printable (control characters become spaces) and
 * cut to FRC_MAX_STRING bytes (at a UTF-8 character boundary), so any reason text is accepted;
 * reports = 1. */
FR_WUR fr_err frc_result_failed(const char *algorithm, unsigned attrs, uint64_t workspace,
                                const char *reason, frc_result *out);
/* Many reports of one (category, key), e.g. every worker's upload of that operator, in any
 * order and any number per algorithm: groups them by algorithm, merges each group with
 * frc_merge_results and ranks the outcome. *out (caller frees each with frc_result_cleanup and
 * the array with free) has *nout <= n entries. FR_ERR_TOO_LARGE if more than
 * FRC_MAX_RESULTS_PER_ENTRY algorithms; FR_ERR_INVALID_ARGUMENT for an invalid report. */
FR_WUR fr_err frc_merge_reports(const frc_result *reports, size_t n, frc_result **out,
                                size_t *nout);

#endif
