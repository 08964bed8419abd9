/*
 * queries.c - the named queries of sql/queries/NAME.sql, read from the copies embedded in the
 * binary. A query starts at a line "-- name: NAME"; the comment lines after it describe it; the
 * SQL runs to the next name or the end of the file; a trailing ';' is dropped. Every name in
 * FRS_QUERIES must appear exactly once and no file may define another name, so the code and
 * sql/ cannot drift apart without the server refusing to start (and the tests failing).
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

static const char *const query_names[] = {
#define X(name) #name,
    FRS_QUERIES(X)
#undef X
};

const char *frs_query_name(frs_query q)
{
    return (int)q >= 0 && q < FRS_Q__COUNT ? query_names[q] : "?";
}

const frs_embedded *frs_embedded_find(const char *path)
{
    for (size_t i = 0; i < frs_embedded_count; i++)
        if (strcmp(frs_embedded_files[i].path, path) == 0) return &frs_embedded_files[i];
    return NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Stores text[0..len) without surrounding blanks and a trailing ';' as query `name`. */
static fr_err store_query(frs_queryset *qs, const char *file, const char *name, size_t namelen,
                          const char *text, size_t len, fr_diag *d)
{
    while (len && strchr(" \t\r\n", text[0]))
        text++, len--;
    while (len && strchr(" \t\r\n;", text[len - 1]))
        len--;
    for (int q = 0; q < FRS_Q__COUNT; q++) {
        if (strlen(query_names[q]) != namelen || strncmp(query_names[q], name, namelen) != 0)
            continue;
        if (qs->text[q])
            return fr_diag_set(d, FR_ERR_INTERNAL, "%s: query '%s' is defined twice", file,
                               query_names[q]);
        if (len == 0)
            return fr_diag_set(d, FR_ERR_INTERNAL, "%s: query '%s' has no SQL", file,
                               query_names[q]);
        qs->text[q] = strndup(text, len);
        return qs->text[q] ? FR_ERR_OK : FR_ERR_NOMEM;
    }
    return fr_diag_set(d, FR_ERR_INTERNAL, "%s: query '%.*s' is not in FRS_QUERIES (server.h)",
                       file, (int)namelen, name);
}

/* Splits one file into its named queries. Comment lines are dropped from the SQL. */
static fr_err load_file(frs_queryset *qs, const frs_embedded *f, fr_diag *d)
{
    const char *name = NULL;
    size_t namelen = 0;
    char *sql = malloc(f->len + 1);
    size_t used = 0;
    fr_err e = FR_ERR_OK;
    if (!sql) return FR_ERR_NOMEM;
    for (const char *line = f->data; *line && e == FR_ERR_OK;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (starts_with(line, "-- name:")) {
            if (name) e = store_query(qs, f->path, name, namelen, sql, used, d);
            name = line + strlen("-- name:");
            while (*name == ' ')
                name++;
            namelen = (size_t)(line + len - name);
            while (namelen && strchr(" \r", name[namelen - 1]))
                namelen--;
            used = 0;
        } else if (!starts_with(line, "--") && name) {
            memcpy(sql + used, line, len);
            used += len;
            sql[used++] = '\n';
        }
        line = end ? end + 1 : line + len;
    }
    if (e == FR_ERR_OK && name) e = store_query(qs, f->path, name, namelen, sql, used, d);
    free(sql);
    return e;
}

fr_err frs_queries_load(frs_queryset *qs, fr_diag *d)
{
    memset(qs, 0, sizeof *qs);
    for (size_t i = 0; i < frs_embedded_count; i++) {
        if (!starts_with(frs_embedded_files[i].path, "sql/queries/")) continue;
        fr_err e = load_file(qs, &frs_embedded_files[i], d);
        if (e != FR_ERR_OK) {
            frs_queries_cleanup(qs);
            return e;
        }
    }
    for (int q = 0; q < FRS_Q__COUNT; q++) {
        if (!qs->text[q]) {
            frs_queries_cleanup(qs);
            return fr_diag_set(d, FR_ERR_INTERNAL, "query '%s' is not defined in sql/queries/",
                               query_names[q]);
        }
    }
    return FR_ERR_OK;
}

void frs_queries_cleanup(frs_queryset *qs)
{
    for (int q = 0; q < FRS_Q__COUNT; q++) {
        free(qs->text[q]);
        qs->text[q] = NULL;
    }
}
