/*
 * client.h - `fastrun run`'s side of fastrun-server, over libcurl: download this machine's
 * category (a conditional GET, the copy kept beside the local cache) before algorithms are
 * chosen, and upload what the run profiled.
 *
 *   fastrun run MODEL --cache-url URL [--token T] [--upload] ...
 *
 * The downloaded copy lives beside the local cache file: FILE.server.json (and its ETag in
 * FILE.server.json.etag) with --fast-run-algo-policy FILE, otherwise
 * $XDG_CACHE_HOME/fastrun/server-<category>.json (~/.cache/fastrun/...). Its results are merged
 * into the run's cache in memory with the merge rule (cache/merge.c), so operators the fleet
 * already measured are hits and are not profiled again. When the server cannot be reached the
 * stored copy is used, and the run says so; a server without results for the category is not an
 * error either. The token comes from --token or $FASTRUN_TOKEN (which keeps it out of `ps`).
 */
#ifndef FRW_CLIENT_H
#define FRW_CLIENT_H

#include "worker.h"

typedef struct {
    const char *url;        /* --cache-url (borrowed), NULL: no server */
    const char *token;      /* --token or $FASTRUN_TOKEN (borrowed), may be NULL */
    bool upload;            /* --upload */
    const char *local_path; /* --fast-run-algo-policy FILE (borrowed), may be NULL */
    /* Filled by the client: */
    char category[17];
    char **profiled; /* keys profiled in this run (owned), for the upload */
    size_t nprofiled;
    frw_sink_fn next_sink; /* the sink wrapped by frw_client_wrap_sink */
    void *next_ctx;
} frw_client;

/* Downloads this machine's category (frw_fingerprint) and merges it into doc, the run's cache
 * (so, when profiling with a cache FILE, FILE keeps the fleet's results too). *cat receives the
 * run's category in doc afterwards (added when profiling, NULL when neither has it): merging may
 * move categories, so pointers taken before are stale. Network trouble and "no results yet" are
 * reported on stderr and are not errors; a corrupt download is (FR_ERR_CORRUPT, naming the
 * URL), and so is a failure to store the copy. */
FR_WUR fr_err frw_client_fetch(frw_client *c, bool profiling, frc_doc *doc, frc_category **cat,
                               fr_diag *d);
/* Makes o's sink record each profiled key (then call the sink o had). */
void frw_client_wrap_sink(frw_client *c, frw_run_opts *o);
/* Uploads the results of the recorded keys from cat (POST /v1/results, provenance "user", this
 * host, now, a random upload id so a retry is idempotent). Retries twice on network errors and
 * 503. FR_ERR_* from the server's error body (its detail in d) when it refuses. */
FR_WUR fr_err frw_client_upload(frw_client *c, const frc_category *cat, fr_diag *d);
void frw_client_cleanup(frw_client *c);

/* The POST /v1/results body for cat: the entries of keys[0..nkeys), or every entry when keys is
 * NULL; provenance "user", this host, now, upload id "<id_prefix>-<16 random hex digits>".
 * Caller frees; NULL when out of memory. Shared with `fastrun cache push`. */
char *frw_upload_body(const frc_category *cat, char *const *keys, size_t nkeys,
                      const char *id_prefix);
/* POSTs body to url's /v1/results with token, retrying twice on no answer and 503 (the upload
 * id makes a retry a no-op). *added: reports the server stored. Errors are the server's (its
 * code and message in d, prefixed "upload to URL"). */
FR_WUR fr_err frw_results_post(const char *url, const char *token, const char *body, bool progress,
                               long long *added, fr_diag *d);

#endif
