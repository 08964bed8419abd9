/*
 * test_authmatrix.c - every route x every caller: no token, a malformed header, a well-formed
 * but unknown token, a revoked token, and a token of each role. The routes come from
 * `fastrun-server routes` (the route table itself), so a new route is covered without touching
 * this test. What each route declares is what each caller gets:
 *   open (and read, unless --read-token): never 401 or 403, whoever asks;
 *   token (and read with --read-token): 401 "unauthorized" with WWW-Authenticate for the four
 *   callers without a valid token, 403 "forbidden" for a role not listed, neither for a role
 *   listed (the handler then answers on the merits of the request).
 * Refused requests store nothing, and no token's text appears in any answer or in the log.
 */
#include "hx.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char method[8], pattern[128], access[8], roles[64];
} route;

enum { MAX_ROUTES = 128 };

/* The route table as `fastrun-server routes` prints it. */
static size_t load_routes(route *out)
{
    static char text[16384];
    const char *argv[] = {frt_bin("FASTRUN_SERVER_BIN", "fastrun-server"), "routes", NULL};
    cr_assert_eq(frt_run(argv, NULL, text, sizeof text, NULL, 0), 0, "fastrun-server routes");
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < MAX_ROUTES;
         line = strtok_r(NULL, "\n", &save)) {
        route *r = &out[n];
        if (sscanf(line, "%7s %127s %7s %63s", r->method, r->pattern, r->access, r->roles) == 4)
            n++;
    }
    cr_assert_gt(n, 10, "only %zu routes parsed from `fastrun-server routes`", n);
    return n;
}

/* A concrete path for a pattern: every {name} becomes 999999 (no such id), slash-star a file
 * that does not exist. */
static void concrete(const char *pattern, char *out, size_t len)
{
    if (strcmp(pattern, "/*") == 0) {
        snprintf(out, len, "/no-such-file.txt");
        return;
    }
    size_t o = 0;
    for (const char *p = pattern; *p && o + 8 < len;) {
        if (*p == '{') {
            o += (size_t)snprintf(out + o, len - o, "999999");
            p = strchr(p, '}') ? strchr(p, '}') + 1 : p + strlen(p);
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

typedef struct {
    const char *name;
    const char *token; /* whole header value after "Bearer ", NULL: no header */
    const char *role;  /* role name when the token is valid, else NULL */
} caller;

static void check_matrix(bool read_token)
{
    static route routes[MAX_ROUTES];
    size_t nroutes = load_routes(routes);
    hx h;
    const char *rt[] = {"--read-token", NULL};
    cr_assert_eq(hx_start(&h, read_token ? rt : NULL), 0, "server did not start");
    const char *wrong = "frt_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    caller callers[] = {
        {"no token", NULL, NULL},       {"malformed", "not-a-token", NULL},
        {"unknown token", wrong, NULL}, {"revoked token", h.revoked, NULL},
        {"reader", h.reader, "reader"}, {"submitter", h.submitter, "submitter"},
        {"worker", h.worker, "worker"}, {"admin", h.admin, "admin"},
    };
    const size_t ncallers = sizeof callers / sizeof callers[0];
    char before[1024], after[1024];
    size_t requests = 0;
    /* Refusals first, all of them, then the snapshot: none of them may store anything. */
    hx_snapshot(&h, before, sizeof before);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nroutes; i++) {
            const route *r = &routes[i];
            bool needs = !strcmp(r->access, "token") || (!strcmp(r->access, "read") && read_token);
            char path[256];
            concrete(r->pattern, path, sizeof path);
            for (size_t c = 0; c < ncallers; c++) {
                const caller *who = &callers[c];
                bool allowed = !needs || (who->role && strstr(r->roles, who->role));
                if ((pass == 0) == allowed) continue; /* pass 0: refusals; pass 1: the rest */
                /* No body: some routes take none, and the others then answer 400 on the merits. */
                frt_resp resp = hx_req(&h, r->method, path, who->token, NULL, 0);
                requests++;
                char ctx[512];
                snprintf(ctx, sizeof ctx, "%s %s (%s, roles %s) as %s -> %ld %.200s", r->method,
                         path, r->access, r->roles, who->name, resp.status, resp.body);
                if (allowed) {
                    cr_assert(resp.status != 401 && resp.status != 403, "%s", ctx);
                    cr_assert(resp.status != 0 && resp.status < 500, "%s", ctx);
                } else if (!who->role) {
                    char hdr[128];
                    cr_assert_eq(resp.status, 401, "%s", ctx);
                    cr_assert_str_eq(hx_error_code(resp.body), "unauthorized", "%s", ctx);
                    cr_assert(frt_header(&resp, "WWW-Authenticate", hdr, sizeof hdr), "%s", ctx);
                } else {
                    cr_assert_eq(resp.status, 403, "%s", ctx);
                    cr_assert_str_eq(hx_error_code(resp.body), "forbidden", "%s", ctx);
                }
                for (size_t k = 0; k < ncallers; k++)
                    cr_assert(!callers[k].token ||
                                  !strstr(resp.body ? resp.body : "", callers[k].token),
                              "a token's text in the answer: %s", ctx);
                frt_resp_free(&resp);
            }
        }
        if (pass == 0) {
            hx_snapshot(&h, after, sizeof after);
            cr_assert_str_eq(after, before, "a refused request stored something");
        }
    }
    cr_log_info("auth matrix%s: %zu routes x %zu callers = %zu requests",
                read_token ? " (--read-token)" : "", nroutes, ncallers, requests);
    cr_assert_eq(requests, nroutes * ncallers);
    /* No token in the server's log (stderr, unbuffered: complete at this point). */
    size_t len = 0;
    char *log = frt_read_file(h.srv.log, &len);
    cr_assert(log, "no server log at %s", h.srv.log);
    for (size_t k = 0; k < ncallers; k++)
        cr_assert(!callers[k].token || !strstr(log, callers[k].token), "token of %s logged",
                  callers[k].name);
    free(log);
    hx_stop(&h);
}

Test(authmatrix, every_route_every_caller, .timeout = 240)
{
    check_matrix(false);
}

Test(authmatrix, every_route_every_caller_read_token, .timeout = 240)
{
    check_matrix(true);
}
