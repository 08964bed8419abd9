/*
 * revcheck.c - revision checks of the same categories, coalesced.
 *
 * Every download asks PostgreSQL for the current revisions of its categories before it trusts a
 * document kept in memory. When many clients poll the same categories, each request need not run
 * its own query: a query that starts after a request arrived reads a database state at least as
 * new as the request, so its answer is as good as the request's own. So for each set of
 * categories at most one check runs at a time; requests that arrive while it runs wait for it to
 * end and share the next check, run by the first of them. The database then sees at most one
 * revision query per set of categories per query latency, however many clients poll, and a
 * request waits for at most two queries. Nothing served is staler than without coalescing.
 *
 * The table has SLOTS sets; when all are busy with other sets a request queries on its own.
 */
#include "server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64
#define KEY_LEN (FRS_MAX_CATEGORIES_PER_REQUEST * 17 + 1)

typedef struct {
    bool done;
    fr_err err;
    fr_diag diag;
    int64_t revisions[FRS_MAX_CATEGORIES_PER_REQUEST];
    int refs; /* requests sharing it, the one running it included */
} check;

typedef struct {
    char key[KEY_LEN]; /* "" when free */
    check *running;    /* started, not yet done */
    check *pending;    /* not started: requests that arrive now join it */
} slot;

struct frs_revchecks {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    slot slots[SLOTS];
};

fr_err frs_revchecks_new(frs_revchecks **out)
{
    frs_revchecks *t = calloc(1, sizeof *t);
    if (!t) return FR_ERR_NOMEM;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->changed, NULL);
    *out = t;
    return FR_ERR_OK;
}

void frs_revchecks_free(frs_revchecks *t)
{
    if (!t) return;
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->changed);
    free(t);
}

/* The slot of key, or a free one (claimed), or NULL. Caller holds t->mu. */
static slot *slot_for(frs_revchecks *t, const char *key)
{
    slot *free_slot = NULL;
    for (size_t i = 0; i < SLOTS; i++) {
        slot *s = &t->slots[i];
        if (s->key[0] && !strcmp(s->key, key)) return s;
        if (!s->key[0] && !free_slot) free_slot = s;
    }
    if (free_slot) memcpy(free_slot->key, key, strlen(key) + 1);
    return free_slot;
}

/* Copies c's answer into q and d, and drops the caller's reference. Caller holds t->mu. */
static fr_err take_answer(check *c, frs_docreq *q, fr_diag *d)
{
    fr_err e = c->err;
    memcpy(q->revisions, c->revisions, sizeof q->revisions);
    if (e != FR_ERR_OK && d) *d = c->diag;
    if (--c->refs == 0) free(c);
    return e;
}

fr_err frs_revchecks_run(frs_revchecks *t, frs_docreq *q, frs_revision_query query, void *ctx,
                         fr_diag *d)
{
    char key[KEY_LEN] = "";
    for (size_t i = 0; i < q->n; i++)
        memcpy(key + 17 * i, q->ids[i], 16), key[17 * i + 16] = ',';
    key[q->n ? 17 * q->n - 1 : 0] = '\0';

    pthread_mutex_lock(&t->mu);
    slot *s = slot_for(t, key);
    check *c = s ? s->pending : NULL;
    if (c) { /* a check that has not started yet: share it */
        c->refs++;
        while (!c->done)
            pthread_cond_wait(&t->changed, &t->mu);
        fr_err e = take_answer(c, q, d);
        pthread_mutex_unlock(&t->mu);
        return e;
    }
    c = s ? calloc(1, sizeof *c) : NULL;
    if (!c) { /* no slot or no memory: query alone */
        if (s && !s->running) s->key[0] = '\0';
        pthread_mutex_unlock(&t->mu);
        return query(ctx, q, d);
    }
    c->refs = 1;
    if (s->running) { /* wait for the running check; whoever arrives meanwhile joins ours */
        s->pending = c;
        while (s->running)
            pthread_cond_wait(&t->changed, &t->mu);
        s->pending = NULL;
    }
    s->running = c;
    pthread_mutex_unlock(&t->mu);

    frs_docreq mine = *q;
    c->err = query(ctx, &mine, &c->diag);
    memcpy(c->revisions, mine.revisions, sizeof c->revisions);

    pthread_mutex_lock(&t->mu);
    c->done = true;
    s->running = NULL;
    if (!s->pending) s->key[0] = '\0';
    pthread_cond_broadcast(&t->changed);
    fr_err e = take_answer(c, q, d);
    pthread_mutex_unlock(&t->mu);
    return e;
}
