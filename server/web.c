/*
 * web.c - GET of any path no other route has: the dashboard's static files from --web DIR ("/" is
 * index.html).
 *
 * Only regular files below DIR are served: the request path is resolved with realpath() and
 * must stay under DIR's real path, so neither ".." nor a symbolic link leads out. Without
 * --web every such path is 404.
 */
#include "server.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".yaml", "application/yaml"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

fr_err frs_web_get(frs_req *r)
{
    const char *dir = r->srv->cfg.web_dir;
    if (!dir) return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "no route for GET %s", r->path);
    char root[PATH_MAX], want[PATH_MAX + 16], real[PATH_MAX];
    if (!realpath(dir, root))
        return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "web directory missing");
    const char *rel = strcmp(r->path, "/") == 0 ? "/index.html" : r->path;
    if (snprintf(want, sizeof want, "%s%s", root, rel) >= (int)sizeof want || !realpath(want, real))
        return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "no file %s", r->path);
    size_t rlen = strlen(root);
    if (strncmp(real, root, rlen) != 0 || real[rlen] != '/')
        return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "no file %s", r->path);
    /* O_NONBLOCK: a FIFO (or device) placed in the folder must not block this request thread in
     * open() waiting for a writer; fstat then refuses anything but a regular file, whose reads
     * O_NONBLOCK does not change. */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "no file %s", r->path);
    }
    frs_reply_file(r, 200, content_type(real), fd, (uint64_t)st.st_size);
    return FR_ERR_OK;
}
