/*
 * fixture.h - what the server tests share: a fresh database on the binary's shared cluster, a
 * fastrun-server on it, one token per role, requests returning parsed JSON, and upload bodies
 * built from a small description of results.
 */
#ifndef FRT_SERVER_FIXTURE_H
#define FRT_SERVER_FIXTURE_H

#include "harness.h"

#include <jansson.h>

typedef struct {
    frt_pg pg;
    char conninfo[256];
    frt_server srv;
    char admin[96], submitter[96], worker[96], reader[96];
} fx;

/* Fresh database, server (extra arguments may be NULL), tokens. 0 on success. */
int fx_start(fx *f, const char *const *extra);
void fx_stop(fx *f);
/* A new token of role made by f's admin over POST /v1/tokens. 0 on success. */
int fx_token(fx *f, const char *role, char *out, size_t len);

/* A request to path on f's server with an optional bearer token and JSON body. */
frt_resp fx_req(fx *f, const char *method, const char *path, const char *token, const char *body);
/* The body parsed (new reference), or NULL. */
json_t *fx_json(const frt_resp *r);
/* The "error"."code" of an error body, or "" (static buffer). */
const char *fx_error_code(const frt_resp *r);
/* An SQL count on f's database (e.g. "SELECT count(*) FROM reports"). */
long fx_count(fx *f, const char *sql);

/* One result of an upload: algorithm, attributes ("REPRODUCIBLE,USES_BLAS" or ""), median. */
typedef struct {
    const char *algorithm;
    const char *attrs;
    double median_ms;
    long workspace;
} fx_result;

/* A fingerprint that no real machine has (cpu names the test), as JSON (new reference). */
json_t *fx_fingerprint(const char *cpu);
/* {"provenance": {...host, time...}, "fingerprint": fp, "entries": [{key, results}]} as text
 * (caller frees); one entry per key, each with the same results. Takes the reference to fp.
 */
char *fx_upload(const char *host, const char *time, json_t *fp, const char *const *keys,
                const fx_result *results, size_t nresults);
/* Canonical key of a matmul, as the worker computes it. */
void fx_matmul_key(int m, int n, int k, char *buf, size_t len);

#endif
