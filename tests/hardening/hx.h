/*
 * hx.h - what the hardening tests share, on top of tests/harness: a fresh database and
 * fastrun-server with one token per role, a snapshot of everything stored (to prove a rejected
 * request stored nothing), and a raw socket client for requests libcurl would not send as
 * written (dot segments, NUL bytes, bytes sent slowly, a request left unfinished).
 */
#ifndef HX_H
#define HX_H

#include "harness.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    frt_pg pg;
    char conninfo[256];
    frt_server srv;
    /* role tokens; "revoked" is a submitter token revoked right after it was made */
    char admin[96], submitter[96], worker[96], reader[96], revoked[96];
} hx;

/* Fresh database on the binary's shared cluster, a server with extra arguments (may be NULL),
 * the tokens above. 0 on success. */
int hx_start(hx *h, const char *const *extra);
/* Stops the server with SIGTERM, expecting (cr_expect) a clean exit: status 0, no signal. */
void hx_stop(hx *h);

/* A request with an optional bearer token (the whole header value is "Bearer <token>") and an
 * optional JSON body. */
frt_resp hx_req(hx *h, const char *method, const char *path, const char *token, const char *body,
                size_t len);
/* The "error"."code" of an error body, or "" when the body is not the error shape
 * {"error":{"code":s,"message":s,"detail":s}} (a buffer per thread, valid until its next call). */
const char *hx_error_code(const char *body);
/* "table=rows,...;revision=N" over every table of the public schema plus the sum of the
 * categories' revisions: equal before and after means nothing was stored. */
void hx_snapshot(hx *h, char *out, size_t len);
/* GET /healthz answers 200 within two seconds. */
bool hx_serving(hx *h);

/* Raw HTTP over a socket to h's server. */
typedef struct {
    int status;      /* from the status line; 0 if the connection closed without one */
    char body[4096]; /* the first bytes of the body, NUL-terminated */
    double seconds;  /* until the answer (or the close) */
} hx_raw_resp;

/* Sends the bytes (any, NUL included) in one go and reads the answer until the server closes
 * the connection or timeout_ms pass. Returns 0 when something arrived or the server closed. */
int hx_raw(hx *h, const void *bytes, size_t len, int timeout_ms, hx_raw_resp *out);
/* A connected socket to h's server (-1 on failure); the caller closes it. */
int hx_connect(hx *h);

#endif
