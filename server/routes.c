/*
 * routes.c - the one route table, and matching a request against it.
 *
 * Adding a resource is one handler file and lines here; the dispatcher (http.c), the metrics,
 * `fastrun-server routes` and the test that holds docs/openapi.yaml to this table all iterate
 * it. Patterns are literal segments, "{name}" segments (any one non-empty segment, handed to
 * the handler in req->path_params in order), or "/{path...}" written as slash-star (any path; only the static files).
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_SUBMIT (FRS_ROLE_SUBMITTER | FRS_ROLE_ADMIN)

static const frs_route routes[] = {
    /* method  pattern             handler               access     roles            body */
    {"GET",    "/healthz",         frs_health_live,      FRS_OPEN,  0,               FRS_BODY_NONE},
    {"GET",    "/readyz",          frs_health_ready,     FRS_OPEN,  0,               FRS_BODY_NONE},
    {"GET",    "/metrics",         frs_metrics_get,      FRS_OPEN,  0,               FRS_BODY_NONE},
    {"GET",    "/openapi.yaml",    frs_openapi_get,      FRS_OPEN,  0,               FRS_BODY_NONE},
    {"GET",    "/v1/categories",   frs_categories_list,  FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_NONE},
    {"GET",    "/v1/cache",        frs_cache_get,        FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_NONE},
    {"POST",   "/v1/results",      frs_results_post,     FRS_TOKEN, FRS_ROLES_WRITE, FRS_BODY_LARGE},
    {"POST",   "/v1/coverage",     frs_coverage_post,    FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_LARGE},
    {"GET",    "/v1/tokens",       frs_tokens_list,      FRS_TOKEN, FRS_ROLE_ADMIN,  FRS_BODY_NONE},
    {"POST",   "/v1/tokens",       frs_tokens_post,      FRS_TOKEN, FRS_ROLE_ADMIN,  FRS_BODY_SMALL},
    {"DELETE", "/v1/tokens/{id}",  frs_tokens_revoke,    FRS_TOKEN, FRS_ROLE_ADMIN,  FRS_BODY_NONE},
    /* Jobs and workers (jobs_int.h); JOBS_SUBMIT = submitter or admin. */
    {"POST",   "/v1/jobs",         frs_jobs_post,        FRS_TOKEN, JOBS_SUBMIT,     FRS_BODY_LARGE},
    {"GET",    "/v1/jobs",         frs_jobs_list,        FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_NONE},
    {"GET",    "/v1/jobs/{id}",    frs_jobs_get,         FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_NONE},
    {"DELETE", "/v1/jobs/{id}",    frs_jobs_cancel,      FRS_TOKEN, JOBS_SUBMIT,     FRS_BODY_NONE},
    {"GET",    "/v1/jobs/{id}/cache", frs_jobs_cache,    FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_NONE},
    {"POST",   "/v1/jobs/{id}/heartbeat", frs_jobs_heartbeat, FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_SMALL},
    {"POST",   "/v1/jobs/{id}/operators/{index}", frs_jobs_report, FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_SMALL},
    {"POST",   "/v1/jobs/{id}/complete", frs_jobs_complete, FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_SMALL},
    {"POST",   "/v1/jobs/{id}/release", frs_jobs_release, FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_SMALL},
    {"POST",   "/v1/jobs/{id}/fail", frs_jobs_fail,      FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_SMALL},
    {"GET",    "/v1/workers",      frs_workers_list,     FRS_READ,  FRS_ROLES_ANY,   FRS_BODY_NONE},
    {"POST",   "/v1/workers",      frs_workers_post,     FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_SMALL},
    {"DELETE", "/v1/workers/{id}", frs_workers_stop,     FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_NONE},
    {"POST",   "/v1/workers/{id}/claim", frs_workers_claim, FRS_TOKEN, FRS_ROLE_WORKER, FRS_BODY_NONE},
    {"GET",    "/*",               frs_web_get,          FRS_OPEN,  0,               FRS_BODY_NONE},
};

#define NROUTES (sizeof routes / sizeof routes[0])

size_t frs_route_count(void)
{
    return NROUTES;
}

const frs_route *frs_route_at(size_t i)
{
    return i < NROUTES ? &routes[i] : NULL;
}

static const char *const role_names[] = {
#define X(up, low, bit) #low,
    FRS_ROLES(X)
#undef X
};

const char *frs_role_name(unsigned role)
{
    for (unsigned bit = 0; bit < sizeof role_names / sizeof role_names[0]; bit++)
        if (role == 1u << bit) return role_names[bit];
    return "none";
}

fr_err frs_role_parse(const char *name, unsigned *out_role)
{
    for (unsigned bit = 0; bit < sizeof role_names / sizeof role_names[0]; bit++) {
        if (strcmp(role_names[bit], name) == 0) {
            *out_role = 1u << bit;
            return FR_ERR_OK;
        }
    }
    return FR_ERR_INVALID_ARGUMENT;
}

/* Matches path against pattern; on success fills params (owned copies) unless NULL. */
static bool pattern_match(const char *pattern, const char *path, char **params)
{
    size_t np = 0;
    if (strcmp(pattern, "/*") == 0) return path[0] == '/';
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/') return false;
        pattern++, path++;
        size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");
        if (pattern[0] == '{') {
            if (len == 0 || np == FRS_MAX_PATH_PARAMS) return false;
            if (params && !(params[np] = strndup(path, len))) return false;
            np++;
        } else if (plen != len || strncmp(pattern, path, len) != 0) {
            return false;
        }
        pattern += plen, path += len;
    }
    return *pattern == '\0' && *path == '\0';
}

/* Sets req's path parameters from route i and reports the match. */
static fr_err take(frs_req *req, size_t i, const char *path, size_t *out_index)
{
    for (size_t k = 0; k < FRS_MAX_PATH_PARAMS; k++) {
        free(req->path_params[k]);
        req->path_params[k] = NULL;
    }
    if (!pattern_match(routes[i].pattern, path, req->path_params)) return FR_ERR_NOMEM;
    *out_index = i;
    return FR_ERR_OK;
}

fr_err frs_route_match(frs_req *req, const char *method, const char *path, size_t *out_index,
                       char *allow, size_t allow_len)
{
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    size_t used = 0;
    allow[0] = '\0';
    /* The API's routes first: a path they know with another method is 405, even though the
     * catch-all of static files would match it. */
    for (size_t i = 0; i < NROUTES; i++) {
        if (strcmp(routes[i].pattern, "/*") == 0) continue;
        if (!pattern_match(routes[i].pattern, path, NULL)) continue;
        if (strcmp(routes[i].method, m) == 0) return take(req, i, path, out_index);
        int n = snprintf(allow + used, allow_len - used, "%s%s%s", used ? ", " : "",
                         routes[i].method, strcmp(routes[i].method, "GET") ? "" : ", HEAD");
        if (n > 0 && (size_t)n < allow_len - used) used += (size_t)n;
    }
    if (used) return FR_ERR_METHOD_NOT_ALLOWED;
    /* The catch-all too must match: a target that is not a path ("http://host/x", "*") is
     * 404, not the out-of-memory take() reports when its pattern_match fails. */
    for (size_t i = 0; i < NROUTES; i++)
        if (strcmp(routes[i].pattern, "/*") == 0 && strcmp(routes[i].method, m) == 0 &&
            pattern_match(routes[i].pattern, path, NULL))
            return take(req, i, path, out_index);
    return FR_ERR_NOT_FOUND;
}

void frs_routes_print(FILE *f)
{
    static const char *const access_names[] = {"open", "read", "token"};
    for (size_t i = 0; i < NROUTES; i++) {
        char roles[64] = "";
        size_t used = 0;
        for (unsigned bit = 0; bit < 4; bit++) {
            if (!(routes[i].roles & (1u << bit))) continue;
            int n = snprintf(roles + used, sizeof roles - used, "%s%s", used ? "," : "",
                             role_names[bit]);
            if (n > 0 && (size_t)n < sizeof roles - used) used += (size_t)n;
        }
        fprintf(f, "%s %s %s %s\n", routes[i].method, routes[i].pattern,
                access_names[routes[i].access], used ? roles : "-");
    }
}
