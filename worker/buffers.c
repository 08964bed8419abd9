/*
 * buffers.c - the buffers of one operator run (output, workspace, preprocessed weights around
 * borrowed inputs), allocated before any timing so nothing is allocated in a timed region, and
 * the seeded random data the inputs are filled with.
 */
#include "worker.h"

#include <string.h>

/* splitmix64: tiny, good enough for test data, and the same on every machine. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void frw_fill_random(float *buf, size_t n, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        /* 24 random bits -> [0, 1) exactly representable, then to [-1, 1). */
        float u = (float)(splitmix64(&st) >> 40) * (1.0f / 16777216.0f);
        buf[i] = 2.0f * u - 1.0f;
    }
}

uint64_t frw_seed_of(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

fr_err frw_buffers_alloc(const fr_op *op, const frk_algo *algo, const frk_ctx *ctx,
                         const float *src, const float *wei, frw_buffers *out, fr_diag *d)
{
    frw_buffers b;
    memset(&b, 0, sizeof b);
    b.src = src;
    b.wei = wei;
    b.dst = frk_alloc((size_t)fr_op_sizes_of(op).dst * sizeof(float));
    b.ws_bytes = algo->workspace(op, ctx);
    b.ws = b.ws_bytes ? frk_alloc(b.ws_bytes) : NULL;
    if (!b.dst || (b.ws_bytes && !b.ws)) {
        frw_buffers_free(&b);
        return fr_diag_set(d, FR_ERR_NOMEM,
                           "%s: cannot allocate the output and %zu bytes of workspace", algo->name,
                           b.ws_bytes);
    }
    *out = b;
    return FR_ERR_OK;
}

fr_err frw_buffers_preprocess(const fr_op *op, const frk_algo *algo, const frk_ctx *ctx,
                              frw_buffers *b, fr_diag *d)
{
    if (!algo->preprocess || !algo->preprocessed_size || b->pwei) return FR_ERR_OK;
    b->pwei_bytes = algo->preprocessed_size(op, ctx);
    if (b->pwei_bytes == 0) return FR_ERR_OK;
    b->pwei = frk_alloc(b->pwei_bytes);
    if (!b->pwei)
        return fr_diag_set(d, FR_ERR_NOMEM,
                           "%s: cannot allocate %zu bytes of preprocessed "
                           "weights",
                           algo->name, b->pwei_bytes);
    algo->preprocess(op, ctx, b->wei, b->pwei);
    return FR_ERR_OK;
}

frk_exec frw_buffers_exec(const frw_buffers *b)
{
    frk_exec x = {b->src, b->wei, b->pwei, b->dst, b->ws};
    return x;
}

void frw_buffers_free(frw_buffers *b)
{
    frk_free(b->dst);
    frk_free(b->ws);
    frk_free(b->pwei);
    memset(b, 0, sizeof *b);
}
