/*
 * test_web.c - the dashboard's static files (--web DIR): "/" is index.html, nested files with
 * their content type, and nothing outside DIR (neither by ".." nor by a symbolic link).
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
