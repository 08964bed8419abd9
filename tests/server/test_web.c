/*
 * test_web.c - the dashboard's static files (--web DIR): "/" is index.html, nested files with
 * their content type, and nothing outside DIR (neither by ".." nor by a symbolic link), and
 * nothing that is not a regular file (a FIFO would block the request thread in open()).
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static fx f;
static char dir[256], web[300];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", web, rel);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

static void setup(void)
{
    char path[512], outside[512];
    cr_assert_eq(frt_tempdir(dir, sizeof dir), 0);
    snprintf(web, sizeof web, "%s/web", dir);
    snprintf(path, sizeof path, "%s/js", web);
    cr_assert_eq(mkdir(web, 0755), 0);
    cr_assert_eq(mkdir(path, 0755), 0);
    put("index.html", "<h1>fastrun</h1>");
    put("js/app.js", "console.log(1);");
    snprintf(outside, sizeof outside, "%s/secret.txt", dir);
    FILE *fp = fopen(outside, "w");
    fputs("secret", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/link.txt", web);
    cr_assert_eq(symlink(outside, path), 0);
    snprintf(path, sizeof path, "%s/pipe.js", web);
    cr_assert_eq(mkfifo(path, 0644), 0);
    const char *extra[] = {"--web", web, NULL};
    cr_assert_eq(fx_start(&f, extra), 0);
}

static void teardown(void)
{
    fx_stop(&f);
    frt_rmtree(dir);
}

TestSuite(web, .init = setup, .fini = teardown, .timeout = 60);

Test(web, files_under_the_folder_only)
{
    char type[128];
    frt_resp r = fx_req(&f, "GET", "/", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "<h1>fastrun</h1>");
    cr_assert(strstr(frt_header(&r, "Content-Type", type, sizeof type), "text/html"));
    frt_resp_free(&r);
    r = fx_req(&f, "GET", "/js/app.js", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "console.log(1);");
    cr_assert(strstr(frt_header(&r, "Content-Type", type, sizeof type), "javascript"));
    frt_resp_free(&r);
    const char *refused[] = {"/link.txt",          "/../secret.txt", "/js/../../secret.txt",
                             "/%2e%2e/secret.txt", "/missing.html",  "/js"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = fx_req(&f, "GET", refused[i], NULL, NULL);
        cr_assert_eq(r.status, 404, "%s: %ld", refused[i], r.status);
        cr_assert_str_neq(r.body, "secret", "%s leaked the file outside --web", refused[i]);
        frt_resp_free(&r);
    }
    /* The API's paths are not files. */
    r = fx_req(&f, "POST", "/index.html", NULL, "{}");
    cr_assert_eq(r.status, 404);
    frt_resp_free(&r);
}

/* A FIFO in the web folder (nobody writes to it) is answered 404 at once, never opened for a
 * blocking read: before, open() waited for a writer and the request thread with it. */
Test(web, a_fifo_is_not_a_file)
{
    for (int i = 0; i < 3; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        frt_resp r = fx_req(&f, "GET", "/pipe.js", NULL, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        cr_assert_eq(r.status, 404, "GET /pipe.js: %ld after %.1f s", r.status, s);
        cr_assert_lt(s, 10.0, "GET /pipe.js took %.1f s: the request blocked on the FIFO", s);
        frt_resp_free(&r);
    }
    frt_resp r = fx_req(&f, "GET", "/js/app.js", NULL, NULL);
    cr_assert_eq(r.status, 200);
    frt_resp_free(&r);
}
