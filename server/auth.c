/*
 * auth.c - bearer tokens: generation, hashing, and the check the dispatcher runs for routes
 * that need a token.
 *
 * A token is "frt_" followed by 64 hex digits of 32 random bytes (getrandom). The database keeps
 * only its SHA-256, so a copy of the database grants nothing. The lookup is by hash through a
 * unique index; the hash that comes back is compared again in constant time. Tokens are never
 * logged: details name the token's database id and name, never its text.
 */
#include "server.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static void hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

fr_err frs_token_generate(char *buf, size_t len)
{
    unsigned char bytes[32];
    size_t got = 0;
    if (len < strlen(FRS_TOKEN_PREFIX) + 2 * sizeof bytes + 1) return FR_ERR_INVALID_ARGUMENT;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n <= 0) return FR_ERR_IO;
        got += (size_t)n;
    }
    memcpy(buf, FRS_TOKEN_PREFIX, strlen(FRS_TOKEN_PREFIX));
    hex(bytes, sizeof bytes, buf + strlen(FRS_TOKEN_PREFIX));
    return FR_ERR_OK;
}

void frs_token_hash(const char *token, char out[65])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), digest);
    hex(digest, sizeof digest, out);
}

fr_err frs_token_create(frs_conn *c, unsigned role, const char *name, char *token, size_t token_len,
                        int64_t *out_id, char *created, size_t clen, fr_diag *d)
{
    char hash[65];
    fr_err e = frs_token_generate(token, token_len);
    if (e != FR_ERR_OK) return fr_diag_set(d, e, "cannot read random bytes for a token");
    frs_token_hash(token, hash);
    const char *params[] = {name, frs_role_name(role), hash};
    PGresult *res;
    e = frs_db_exec(c, FRS_Q_token_insert, 3, params, &res, d);
    if (e != FR_ERR_OK) return e;
    *out_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(created, clen, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return FR_ERR_OK;
}

/* The token of an "Authorization: Bearer <token>" header, or NULL. */
static const char *bearer(const char *header)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0) return NULL;
    header += 7;
    while (*header == ' ')
        header++;
    return *header ? header : NULL;
}

fr_err frs_auth_check(frs_req *req)
{
    const frs_route *rt = req->route;
    const char *token = bearer(req->authorization);
    if (!token)
        return fr_diag_set(&req->diag, FR_ERR_UNAUTHORIZED,
                           "%s %s needs 'Authorization: Bearer <token>'", rt->method, rt->pattern);
    if (strlen(token) > FRS_MAX_TOKEN_LEN || strncmp(token, FRS_TOKEN_PREFIX, 4) != 0)
        return fr_diag_set(&req->diag, FR_ERR_UNAUTHORIZED, "malformed token");
    char hash[65];
    frs_token_hash(token, hash);

    frs_conn *c;
    PGresult *res = NULL;
    const char *params[] = {hash};
    fr_err e = frs_db_borrow(req->srv->db, &c, &req->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_token_lookup, 1, params, &res, &req->diag);
    frs_db_return(req->srv->db, c);
    if (e != FR_ERR_OK) return e;
    bool found = PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 3)) == 64 &&
                 CRYPTO_memcmp(PQgetvalue(res, 0, 3), hash, 64) == 0;
    unsigned role = 0;
    if (found) {
        req->who.token_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(req->who.name, sizeof req->who.name, "%s", PQgetvalue(res, 0, 2));
        found = frs_role_parse(PQgetvalue(res, 0, 1), &role) == FR_ERR_OK;
    }
    PQclear(res);
    if (!found) return fr_diag_set(&req->diag, FR_ERR_UNAUTHORIZED, "unknown or revoked token");
    req->who.role = role;
    if (!(rt->roles & role)) {
        char allowed[64] = "";
        size_t used = 0;
        for (unsigned bit = 0; bit < 4; bit++) {
            if (!(rt->roles & (1u << bit))) continue;
            int n = snprintf(allowed + used, sizeof allowed - used, "%s%s", used ? "|" : "",
                             frs_role_name(1u << bit));
            if (n > 0 && (size_t)n < sizeof allowed - used) used += (size_t)n;
        }
        return fr_diag_set(&req->diag, FR_ERR_FORBIDDEN,
                           "token '%s' has role %s; %s %s needs role %s", req->who.name,
                           frs_role_name(role), rt->method, rt->pattern, allowed);
    }
    return FR_ERR_OK;
}
