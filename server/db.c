/*
 * db.c - the pool of PostgreSQL connections, prepared statements, and the one mapping from
 * SQLSTATE to fr_err.
 *
 * A handler borrows a connection for the statements it runs and returns it at once. When every
 * connection is busy, borrowing waits up to db_wait_ms and then fails with "database busy" (503)
 * rather than queueing without bound. A connection found broken (PostgreSQL restarted, network
 * cut) is re-opened on its next use and its statements prepared again; attempts are spaced by
 * RECONNECT_GAP_MS per connection so that a database that is down costs each request one failed
 * connect at most, and a server comes back by itself when PostgreSQL does.
 *
 * Closing is safe against late borrowers: frs_db_close first marks the pool closing (a borrow
 * from then on, or one waiting for a free connection, fails with "server shutting down", which
 * the dispatcher answers 503), then waits for every borrowed connection to come back, and only
 * then frees anything. A pool whose connections do not come back within CLOSE_WAIT_S is left
 * allocated (a leak at exit, not a use after free).
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECONNECT_GAP_MS 200
#define CONNECT_TIMEOUT_S "3"
#define CLOSE_WAIT_S 30

struct frs_conn {
    PGconn *pg;
    bool busy;
    bool in_txn;
    uint64_t last_attempt_us;
    frs_db *db;
};

struct frs_db {
    const frs_config *cfg;
    const frs_queryset *qs;
    frs_metrics *metrics;
    pthread_mutex_t mu;
    pthread_cond_t freed; /* a connection came back (borrowers wait; so does close) */
    frs_conn *conns;
    size_t n;
    size_t borrowed; /* connections out; close waits for 0 */
    bool closing;    /* set by frs_db_close: no new borrow */
};

fr_err frs_db_sqlstate_err(const char *sqlstate)
{
    if (!sqlstate || !sqlstate[0]) return FR_ERR_DB_UNAVAILABLE;
    /* Class 08: connection exception; 57P01-03: shutdown, crash, cannot connect now. */
    if (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
        strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0)
        return FR_ERR_DB_UNAVAILABLE;
    if (strcmp(sqlstate, "57014") == 0) return FR_ERR_TIMEOUT;      /* statement timeout */
    if (strncmp(sqlstate, "53", 2) == 0) return FR_ERR_UNAVAILABLE; /* out of resources */
    if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
        return FR_ERR_CONFLICT;                                     /* serialization */
    if (strncmp(sqlstate, "23", 2) == 0) return FR_ERR_CONFLICT;    /* constraint */
    if (strncmp(sqlstate, "22", 2) == 0) return FR_ERR_BAD_REQUEST; /* bad data value */
    return FR_ERR_DB;
}

/* First line of a libpq message, for a detail. */
static void first_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg && msg[0] ? msg : "connection lost");
    buf[strcspn(buf, "\r\n")] = '\0';
}

fr_err frs_db_connect_direct(const char *conninfo, PGconn **out, fr_diag *d)
{
    /* Our defaults come before dbname so that the user's conninfo overrides them. */
    const char *keys[] = {
        "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "options",          "dbname",          NULL};
    const char *vals[] = {CONNECT_TIMEOUT_S,
                          "fastrun-server",
                          "10",
                          "5",
                          "3",
                          "-c client_min_messages=warning",
                          conninfo ? conninfo : "",
                          NULL};
    *out = NULL;
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) return fr_diag_set(d, FR_ERR_NOMEM, "libpq could not allocate a connection");
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[512];
        first_line(PQerrorMessage(pg), msg, sizeof msg);
        PQfinish(pg);
        return fr_diag_set(d, FR_ERR_DB_UNAVAILABLE, "cannot connect to PostgreSQL: %s", msg);
    }
    *out = pg;
    return FR_ERR_OK;
}

/* Opens c->pg and prepares every named query. */
static fr_err conn_open(frs_conn *c, fr_diag *d)
{
    frs_db *db = c->db;
    if (c->pg) PQfinish(c->pg);
    c->pg = NULL;
    c->in_txn = false;
    c->last_attempt_us = frs_now_us();
    frs_count(db->metrics, db_connects);
    fr_err e = frs_db_connect_direct(db->cfg->database, &c->pg, d);
    if (e != FR_ERR_OK) return e;
    for (int q = 0; q < FRS_Q__COUNT; q++) {
        PGresult *r = PQprepare(c->pg, frs_query_name((frs_query)q), db->qs->text[q], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char msg[512];
            first_line(PQresultErrorMessage(r), msg, sizeof msg);
            e = frs_db_sqlstate_err(PQresultErrorField(r, PG_DIAG_SQLSTATE));
            if (e != FR_ERR_DB_UNAVAILABLE) e = FR_ERR_DB;
            PQclear(r);
            PQfinish(c->pg);
            c->pg = NULL;
            return fr_diag_set(d, e, "preparing query '%s': %s", frs_query_name((frs_query)q), msg);
        }
        PQclear(r);
    }
    /* Run directly, not through frs_db_exec, whose retry would re-enter this function. */
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%u", db->cfg->statement_timeout_ms);
    const char *params[] = {timeout};
    PGresult *r =
        PQexecPrepared(c->pg, frs_query_name(FRS_Q_session_setup), 1, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (ok) return FR_ERR_OK;
    PQfinish(c->pg);
    c->pg = NULL;
    return fr_diag_set(d, FR_ERR_DB_UNAVAILABLE, "setting up a new connection failed");
}

fr_err frs_db_open(const frs_config *cfg, const frs_queryset *qs, frs_metrics *metrics,
                   frs_db **out, fr_diag *d)
{
    frs_db *db = calloc(1, sizeof *db);
    if (!db) return FR_ERR_NOMEM;
    db->n = cfg->db_pool_size ? cfg->db_pool_size : 1;
    db->conns = calloc(db->n, sizeof *db->conns);
    if (!db->conns) {
        free(db);
        return fr_diag_set(d, FR_ERR_NOMEM, "no memory for the connection pool");
    }
    db->cfg = cfg;
    db->qs = qs;
    db->metrics = metrics;
    for (size_t i = 0; i < db->n; i++)
        db->conns[i].db = db;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&db->freed, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&db->mu, NULL);
    *out = db;
    return FR_ERR_OK;
}

/* Deadline in s seconds (plus ms milliseconds) on the pool's monotonic clock. */
static struct timespec deadline_in(unsigned s, unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += s + ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    return t;
}

void frs_db_close(frs_db *db)
{
    if (!db) return;
    struct timespec deadline = deadline_in(CLOSE_WAIT_S, 0);
    pthread_mutex_lock(&db->mu);
    db->closing = true;
    pthread_cond_broadcast(&db->freed); /* borrowers waiting for a connection give up */
    while (db->borrowed > 0)
        if (pthread_cond_timedwait(&db->freed, &db->mu, &deadline) == ETIMEDOUT) break;
    size_t out = db->borrowed;
    pthread_mutex_unlock(&db->mu);
    if (out > 0) {
        /* Someone still holds a connection: freeing now would pull it from under them. */
        fprintf(stderr,
                "fastrun-server: %zu database connection%s still borrowed after %d s; "
                "leaving the pool open\n",
                out, out == 1 ? "" : "s", CLOSE_WAIT_S);
        return;
    }
    for (size_t i = 0; i < db->n; i++)
        if (db->conns[i].pg) PQfinish(db->conns[i].pg);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->freed);
    free(db->conns);
    free(db);
}

/* Takes a free connection, preferring one that is open. Caller holds db->mu. */
static frs_conn *take_free(frs_db *db)
{
    frs_conn *closed = NULL;
    for (size_t i = 0; i < db->n; i++) {
        frs_conn *c = &db->conns[i];
        if (c->busy) continue;
        if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
            c->busy = true;
            return c;
        }
        if (!closed) closed = c;
    }
    if (closed) closed->busy = true;
    return closed;
}

static fr_err closed_err(fr_diag *d)
{
    return fr_diag_set(d, FR_ERR_UNAVAILABLE, "server shutting down: the database pool is closed");
}

fr_err frs_db_borrow(frs_db *db, frs_conn **out, fr_diag *d)
{
    *out = NULL;
    if (!db) return closed_err(d);
    struct timespec deadline = deadline_in(0, db->cfg->db_wait_ms);
    pthread_mutex_lock(&db->mu);
    frs_conn *c = NULL;
    while (!db->closing && !(c = take_free(db))) {
        if (pthread_cond_timedwait(&db->freed, &db->mu, &deadline) == ETIMEDOUT) {
            if (!db->closing) c = take_free(db);
            break;
        }
    }
    bool closing = db->closing;
    if (c) db->borrowed++;
    pthread_mutex_unlock(&db->mu);
    if (closing && !c) return closed_err(d);
    if (!c) {
        frs_count(db->metrics, db_busy);
        return fr_diag_set(d, FR_ERR_UNAVAILABLE,
                           "database busy: all %zu connections in use for %u ms", db->n,
                           db->cfg->db_wait_ms);
    }
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        fr_err e;
        if (frs_now_us() - c->last_attempt_us < RECONNECT_GAP_MS * 1000ull)
            e = fr_diag_set(d, FR_ERR_DB_UNAVAILABLE,
                            "PostgreSQL unreachable (last connection attempt failed)");
        else
            e = conn_open(c, d);
        if (e != FR_ERR_OK) {
            frs_count(db->metrics, db_unavailable);
            frs_db_return(db, c);
            return e;
        }
    }
    *out = c;
    return FR_ERR_OK;
}

void frs_db_return(frs_db *db, frs_conn *c)
{
    if (!c) return;
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        frs_db_rollback(c);
    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    pthread_mutex_lock(&db->mu);
    c->busy = false;
    db->borrowed--;
    /* Broadcast, not signal: frs_db_close may be waiting beside the borrowers. */
    pthread_cond_broadcast(&db->freed);
    pthread_mutex_unlock(&db->mu);
}

fr_err frs_db_exec(frs_conn *c, frs_query q, int nparams, const char *const *params, PGresult **out,
                   fr_diag *d)
{
    if (out) *out = NULL;
    for (int attempt = 0;; attempt++) {
        PGresult *r = PQexecPrepared(c->pg, frs_query_name(q), nparams, params, NULL, NULL, 0);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (out)
                *out = r;
            else
                PQclear(r);
            return FR_ERR_OK;
        }
        char msg[512];
        first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg), msg, sizeof msg);
        const char *field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        char state[8];
        snprintf(state, sizeof state, "%s", field && field[0] ? field : "none");
        fr_err e =
            PQstatus(c->pg) == CONNECTION_OK ? frs_db_sqlstate_err(field) : FR_ERR_DB_UNAVAILABLE;
        PQclear(r);
        if (e == FR_ERR_DB_UNAVAILABLE && attempt == 0 && !c->in_txn) {
            fr_diag ignored;
            if (conn_open(c, &ignored) == FR_ERR_OK) continue;
        }
        if (e == FR_ERR_DB_UNAVAILABLE)
            frs_count(c->db->metrics, db_unavailable);
        else
            frs_count(c->db->metrics, db_errors);
        if (e == FR_ERR_DB_UNAVAILABLE) return fr_diag_set(d, e, "%s: %s", frs_query_name(q), msg);
        /* PostgreSQL's own text names tables, columns and values: the server log keeps it, the
         * client gets the query and the SQLSTATE, mapped to the error list above. */
        fprintf(stderr, "fastrun-server: query %s failed (SQLSTATE %s): %s\n", frs_query_name(q),
                state, msg);
        return fr_diag_set(d, e, "query '%s' failed (SQLSTATE %s; the server log has the detail)",
                           frs_query_name(q), state);
    }
}

fr_err frs_db_begin(frs_conn *c, bool snapshot, fr_diag *d)
{
    fr_err e = frs_db_exec(c, snapshot ? FRS_Q_begin_snapshot : FRS_Q_begin, 0, NULL, NULL, d);
    if (e == FR_ERR_OK) c->in_txn = true;
    return e;
}

fr_err frs_db_commit(frs_conn *c, fr_diag *d)
{
    fr_err e = frs_db_exec(c, FRS_Q_commit, 0, NULL, NULL, d);
    c->in_txn = false;
    return e;
}

void frs_db_rollback(frs_conn *c)
{
    fr_diag ignored;
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
        /* A failed ROLLBACK leaves the connection broken, and frs_db_return then drops it. */
        fr_err e = frs_db_exec(c, FRS_Q_rollback, 0, NULL, NULL, &ignored);
        (void)e;
    }
    c->in_txn = false;
}
