/*
 * http.h - the one HTTP client of worker/ (libcurl): one request set-up (base URL + path, bearer
 * token, JSON headers, timeouts, an optional If-None-Match, an optional progress line) and one
 * capped body buffer, used by `fastrun run --cache-url` (client.c) and `fastrun cache push|pull`
 * (cmd_cache_net.c). Plus what conditional GETs need beside a file: its saved ETag.
 *
 * Ownership: every pointer argument is borrowed; frw_http_answer owns its body and is freed with
 * frw_http_answer_cleanup (safe on a zeroed answer).
 */
#ifndef FRW_HTTP_H
#define FRW_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "fr_common.h"

typedef struct {
    char *buf; /* body, NUL-terminated (owned), NULL when empty */
    size_t len;
    size_t cap;     /* largest body accepted; 0 = FRC_MAX_DOC_BYTES. Over it the transfer stops */
    bool truncated; /* the cap stopped the transfer */
    char etag[128]; /* the ETag header, "" if none */
} frw_http_answer;

typedef struct {
    const char *base;          /* server URL, trailing '/' ignored */
    const char *token;         /* bearer token, NULL for none */
    const char *if_none_match; /* NULL for none */
    const char *body;          /* JSON request body, NULL for none */
    bool progress;             /* a progress line on stderr (callers: only on a terminal) */
    long timeout_s;            /* whole transfer; 0 = 120 */
    void *handle;              /* a CURL * to reuse (reset here; keeps connections), NULL: own */
    const atomic_bool *stop;   /* abandon the transfer once it is true (NULL: never) */
} frw_http_req;

/* One request: method to base + path (a POST without body sends an empty one). *status is the
 * HTTP status, or 0 when no answer came (the reason in d, as FR_ERR_UNAVAILABLE, which is also
 * returned; "stopping" when r->stop ended it); FR_ERR_TOO_LARGE past the answer's cap;
 * FR_ERR_NOMEM if libcurl cannot start. Never retries. */
FR_WUR fr_err frw_http_request(const frw_http_req *r, const char *method, const char *path,
                               long *status, frw_http_answer *out, fr_diag *d);
void frw_http_answer_cleanup(frw_http_answer *a);
/* The fr_err of a server error body {"error":{"code","message","detail"}}; d gets
 * "server answered STATUS: message: detail". */
fr_err frw_http_server_error(long status, const frw_http_answer *a, fr_diag *d);

/* The ETag saved beside path (path.etag) into out, "" if none. */
void frw_etag_read(const char *path, char *out, size_t len);
/* Saves etag beside path atomically (temporary file renamed). */
FR_WUR fr_err frw_etag_write(const char *path, const char *etag, fr_diag *d);

#endif
