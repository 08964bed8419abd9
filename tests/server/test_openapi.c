/*
 * test_openapi.c - docs/openapi.yaml and the server agree: every route of the table
 * (`fastrun-server routes`) is documented with its method, every documented operation is a
 * route, routes that need a token document 401 and 403 and name their roles, and the server
 * serves the same file at /openapi.yaml. Fails as soon as the two drift apart.
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 64

typedef struct {
    char method[8];    /* upper case */
    char path[128];    /* OpenAPI spelling: the catch-all pattern is "/{file}" */
    char access[8];    /* routes only: open, read, token */
    char roles[64];    /* routes only */
    const char *block; /* documented operations: their text up to the next operation */
    size_t block_len;
} op;

static size_t read_routes(op *ops)
{
    char out[8192], err[1024];
    const char *argv[] = {frt_bin("FASTRUN_SERVER_BIN", "fastrun-server"), "routes", NULL};
    cr_assert_eq(frt_run(argv, NULL, out, sizeof out, err, sizeof err), 0, "%s", err);
    size_t n = 0;
    for (char *line = out; *line && n < MAX_OPS;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        cr_assert_eq(sscanf(line, "%7s %127s %7s %63s", ops[n].method, ops[n].path, ops[n].access,
                            ops[n].roles),
                     4, "route line '%s'", line);
        if (strcmp(ops[n].path, "/*") == 0) snprintf(ops[n].path, sizeof ops[n].path, "/{file}");
        n++;
        if (!end) break;
        line = end + 1;
    }
    return n;
}

/* Operations under "paths:": "  /path:" then "    method:" lines. */
static size_t read_document(char *yaml, op *ops)
{
    size_t n = 0;
    char path[128] = "";
    bool in_paths = false;
    for (char *line = yaml; line && *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len && !isspace((unsigned char)line[0])) in_paths = strncmp(line, "paths:", 6) == 0;
        if (in_paths && len > 3 && !strncmp(line, "  /", 3) && line[len - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)(len - 3), line + 2);
            if (n) ops[n - 1].block_len = (size_t)(line - ops[n - 1].block);
        } else if (in_paths && len > 5 && !strncmp(line, "    ", 4) && line[4] != ' ' &&
                   line[len - 1] == ':' && n < MAX_OPS) {
            if (n) ops[n - 1].block_len = (size_t)(line - ops[n - 1].block);
            snprintf(ops[n].method, sizeof ops[n].method, "%.*s", (int)(len - 5), line + 4);
            for (char *c = ops[n].method; *c; c++)
                *c = (char)toupper((unsigned char)*c);
            snprintf(ops[n].path, sizeof ops[n].path, "%s", path);
            ops[n].block = line;
            n++;
        }
        line = end ? end + 1 : NULL;
    }
    if (n) ops[n - 1].block_len = strlen(ops[n - 1].block);
    return n;
}

static const op *find(const op *ops, size_t n, const char *method, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ops[i].method, method) && !strcmp(ops[i].path, path)) return &ops[i];
    return NULL;
}

static bool block_has(const op *o, const char *text)
{
    char *copy = strndup(o->block, o->block_len);
    bool found = strstr(copy, text) != NULL;
    free(copy);
    return found;
}

Test(openapi, document_matches_route_table)
{
    op routes[MAX_OPS] = {0}, documented[MAX_OPS] = {0};
    size_t nr = read_routes(routes);
    char *yaml = frt_read_file(frt_bin("FASTRUN_OPENAPI", "docs/openapi.yaml"), NULL);
    cr_assert_not_null(yaml, "cannot read docs/openapi.yaml");
    size_t nd = read_document(yaml, documented);
    cr_assert_gt(nr, 5);
    for (size_t i = 0; i < nr; i++) {
        const op *d = find(documented, nd, routes[i].method, routes[i].path);
        cr_assert_not_null(d, "route %s %s is not in docs/openapi.yaml", routes[i].method,
                           routes[i].path);
        if (strcmp(routes[i].access, "token") == 0) {
            cr_assert(block_has(d, "'401'") && block_has(d, "'403'"),
                      "%s %s needs a token: document 401 and 403", d->method, d->path);
            char roles[96];
            snprintf(roles, sizeof roles, "x-fastrun-roles: [%s]", routes[i].roles);
            for (char *c = strchr(roles, '['); c && *c; c++)
                if (*c == ',') {
                    memmove(c + 2, c + 1, strlen(c + 1) + 1);
                    c[1] = ' ';
                }
            cr_assert(block_has(d, roles), "%s %s: document '%s'", d->method, d->path, roles);
        }
        if (strcmp(routes[i].access, "read") == 0)
            cr_assert(block_has(d, "'401'"),
                      "%s %s is token-protected with --read-token: "
                      "document 401",
                      d->method, d->path);
    }
    for (size_t i = 0; i < nd; i++)
        cr_assert_not_null(find(routes, nr, documented[i].method, documented[i].path),
                           "docs/openapi.yaml documents %s %s, which the server does not route",
                           documented[i].method, documented[i].path);
    free(yaml);
}

static fx f;

static void stop_server(void)
{
    fx_stop(&f);
}

Test(openapi, served_copy_is_the_document, .timeout = 60, .fini = stop_server)
{
    cr_assert_eq(fx_start(&f, NULL), 0);
    size_t len;
    char *yaml = frt_read_file(frt_bin("FASTRUN_OPENAPI", "docs/openapi.yaml"), &len);
    cr_assert_not_null(yaml, "cannot read docs/openapi.yaml");
    frt_resp r = fx_req(&f, "GET", "/openapi.yaml", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.len, len);
    cr_assert(memcmp(r.body, yaml, len) == 0, "the embedded copy is stale: rebuild");
    frt_resp_free(&r);
    free(yaml);
}
