/*
 * fx.h - test fixtures for the worker tests: a temporary directory per test, running the built
 * `fastrun` binary as a user would (fork/exec, its own environment changes, output captured in
 * files), background runs that teardown always kills, and small file and JSON helpers.
 * FASTRUN_BIN and FR_MODELS_DIR come from CMake.
 */
#ifndef FX_H
#define FX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int code;  /* exit status, or -signal if killed */
    char *out; /* stdout, owned by the fixture until the next fx_run */
    char *err; /* stderr, same */
} fx_result;

/* Criterion .init / .fini: make and remove the temporary directory, kill what was spawned. */
void fx_setup(void);
void fx_teardown(void);

/* "<tmpdir>/name", valid until teardown. */
const char *fx_path(const char *name);
/* "<FR_MODELS_DIR>/name", valid until teardown. */
const char *fx_model(const char *name);

/* Environment changes for a child: "NAME=value" sets, "NAME" unsets. NULL-terminated. */
typedef const char *const fx_env[];

/* Runs fastrun with the NULL-terminated arguments (after the program name), in tmpdir, and
 * waits. The FASTRUN_TEST_* hooks are unset unless env sets them. */
fx_result fx_run(const char *const *env, const char *const *args);
/* Starts fastrun in the background (output to files "<tag>.out" / "<tag>.err" in tmpdir). */
pid_t fx_spawn(const char *const *env, const char *const *args, const char *tag);
/* Waits for a spawned process; returns its exit code or -signal. */
int fx_wait(pid_t pid);

/* Whole file contents (NUL-terminated), NULL if missing; *len may be NULL. Caller frees. */
char *fx_read(const char *path, size_t *len);
void fx_write(const char *path, const char *text);
/* Parsed JSON file (caller json_decref()s); fails the test if unreadable. */
json_t *fx_json(const char *path);
/* Count of operators in a report whose "source" equals src. */
size_t fx_count_source(const json_t *report, const char *src);
/* Number of entries of the category `id` in a cache file (which must load). */
size_t fx_entries_in(const char *path, const char *id);
/* Fields of a --report document. */
const char *fx_report_category(const json_t *report);
json_int_t fx_profiled(const json_t *report);
/* Whether some operator of a report has a candidate `algo` (measured, if asked). */
bool fx_has_candidate(const json_t *report, const char *algo, bool measured);
/* Whether a JSON array of attribute names holds name. */
bool fx_attrs_have(const json_t *attrs, const char *name);
/* Whether text contains needle. */
bool fx_has(const char *text, const char *needle);

#endif
