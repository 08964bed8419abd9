/*
 * migrate.c - applies the numbered migrations sql/NNN_name.sql embedded in the binary.
 *
 * Each migration runs in its own transaction that first takes a transaction-scoped advisory
 * lock and re-reads the version, so several servers starting at once apply each migration once.
 * The version table (created by 001) records what was applied. A database whose version is
 * higher than the highest migration this binary knows belongs to a newer server: refuse to run
 * rather than serve with a schema we do not understand.
 *
 * The statements here run unprepared (PQexecParams with the text of the named queries): they run
 * before the tables the other prepared queries refer to exist.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATION_LOCK_KEY "7313411058"
#define MAX_MIGRATIONS 999

/* Version number of an embedded path "sql/NNN_name.sql", or 0 if it is not a migration. */
static int migration_number(const char *path)
{
    const char *p = path + strlen("sql/");
    if (strncmp(path, "sql/", 4) != 0 || strchr(p, '/')) return 0;
    for (int i = 0; i < 3; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    if (p[3] != '_') return 0;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* The embedded migration with number v, or NULL. */
static const frs_embedded *migration(int v)
{
    for (size_t i = 0; i < frs_embedded_count; i++)
        if (migration_number(frs_embedded_files[i].path) == v) return &frs_embedded_files[i];
    return NULL;
}

int frs_migrations_known(void)
{
    int max = 0;
    for (size_t i = 0; i < frs_embedded_count; i++) {
        int v = migration_number(frs_embedded_files[i].path);
        if (v > max) max = v;
    }
    return max;
}

/* Runs one statement; on failure the detail names what and why. */
static fr_err run(PGconn *pg, const char *what, const char *sql, int nparams,
                  const char *const *params, PGresult **out, fr_diag *d)
{
    PGresult *r = nparams >= 0 ? PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0)
                               : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return FR_ERR_OK;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    msg[strcspn(msg, "\n")] = '\0';
    fr_err e = PQstatus(pg) == CONNECTION_OK
                   ? frs_db_sqlstate_err(PQresultErrorField(r, PG_DIAG_SQLSTATE))
                   : FR_ERR_DB_UNAVAILABLE;
    if (e != FR_ERR_DB_UNAVAILABLE) e = FR_ERR_DB;
    PQclear(r);
    return fr_diag_set(d, e, "%s: %s", what, msg);
}

/* The database's schema version (0 for an empty database). */
static fr_err current_version(PGconn *pg, const frs_queryset *qs, int *out, fr_diag *d)
{
    PGresult *r;
    fr_err e = run(pg, "schema_exists", qs->text[FRS_Q_schema_exists], 0, NULL, &r, d);
    if (e != FR_ERR_OK) return e;
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    *out = 0;
    if (!exists) return FR_ERR_OK;
    e = run(pg, "schema_version_max", qs->text[FRS_Q_schema_version_max], 0, NULL, &r, d);
    if (e != FR_ERR_OK) return e;
    *out = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return FR_ERR_OK;
}

/* Applies migration v in one transaction unless another server did it meanwhile. */
static fr_err apply(PGconn *pg, const frs_queryset *qs, int v, fr_diag *d)
{
    const frs_embedded *m = migration(v);
    if (!m) return fr_diag_set(d, FR_ERR_INTERNAL, "migration %03d is missing from sql/", v);
    const char *lock[] = {MIGRATION_LOCK_KEY};
    int now = 0;
    fr_err e = run(pg, "begin", qs->text[FRS_Q_begin], 0, NULL, NULL, d);
    if (e == FR_ERR_OK) e = run(pg, "schema_lock", qs->text[FRS_Q_schema_lock], 1, lock, NULL, d);
    if (e == FR_ERR_OK) e = current_version(pg, qs, &now, d);
    if (e == FR_ERR_OK && now < v) {
        e = run(pg, m->path, m->data, -1, NULL, NULL, d);
        char num[16];
        snprintf(num, sizeof num, "%d", v);
        const char *rec[] = {num, m->path + strlen("sql/")};
        if (e == FR_ERR_OK)
            e = run(pg, "schema_version_record", qs->text[FRS_Q_schema_version_record], 2, rec,
                    NULL, d);
    }
    if (e == FR_ERR_OK) return run(pg, "commit", qs->text[FRS_Q_commit], 0, NULL, NULL, d);
    PGresult *r = PQexec(pg, qs->text[FRS_Q_rollback]);
    PQclear(r);
    return e;
}

fr_err frs_migrate(const char *conninfo, const frs_queryset *qs, int *out_version, fr_diag *d)
{
    int known = frs_migrations_known();
    for (int v = 1; v <= known; v++)
        if (!migration(v))
            return fr_diag_set(d, FR_ERR_INTERNAL, "sql/: migration %03d is missing", v);
    PGconn *pg;
    fr_err e = frs_db_connect_direct(conninfo, &pg, d);
    if (e != FR_ERR_OK) return e;
    int version = 0;
    e = current_version(pg, qs, &version, d);
    if (e == FR_ERR_OK && version > known)
        e = fr_diag_set(d, FR_ERR_VERSION,
                        "the database schema is version %d, newer than this fastrun-server "
                        "knows (%d): run a newer fastrun-server",
                        version, known);
    for (int v = version + 1; e == FR_ERR_OK && v <= known; v++)
        e = apply(pg, qs, v, d);
    if (e == FR_ERR_OK) e = current_version(pg, qs, &version, d);
    PQfinish(pg);
    if (e == FR_ERR_OK) *out_version = version;
    return e;
}
