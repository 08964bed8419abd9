/*
 * tokens.c - token administration over HTTP (admin role only):
 *   POST /v1/tokens {"role": "reader|submitter|worker|admin", "name": "..."}
 *        -> 201 {"id", "name", "role", "created_at", "token"}: the token is shown this once;
 *   GET /v1/tokens -> {"tokens": [{"id", "name", "role", "created_at", "revoked_at"}]};
 *   DELETE /v1/tokens/{id} -> 204, or 404 when no such active token.
 * `fastrun-server token create` (main.c) creates the first admin token the same way.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* Checks a token name: 1..128 printable characters. */
static fr_err check_name(const char *name, fr_diag *d)
{
    size_t len = strlen(name);
    if (len == 0 || len > 128)
        return fr_diag_set(d, FR_ERR_BAD_REQUEST, "name: 1 to 128 characters");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return fr_diag_set(d, FR_ERR_BAD_REQUEST, "name: control character");
    return FR_ERR_OK;
}

fr_err frs_tokens_post(frs_req *r)
{
    json_t *body;
    const char *role_name = NULL, *name = NULL;
    unsigned role;
    fr_err e = frs_body_object(r, &body);
    if (e != FR_ERR_OK) return e;
    json_error_t jerr;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s,s:s}", "role", &role_name, "name", &name))
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "expected {\"role\", \"name\"}: %s",
                           jerr.text);
    if (frs_role_parse(role_name, &role) != FR_ERR_OK)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST,
                           "role: expected reader, submitter, worker or admin");
    e = check_name(name, &r->diag);
    if (e != FR_ERR_OK) return e;

    char token[80], created[40];
    int64_t id = 0;
    frs_conn *c;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_token_create(c, role, name, token, sizeof token, &id, created, sizeof created,
                         &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    json_t *out = json_pack("{s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)id, "name", name, "role",
                            frs_role_name(role), "created_at", created, "token", token);
    if (!out) return FR_ERR_NOMEM;
    frs_reply_json(r, 201, out);
    return FR_ERR_OK;
}

fr_err frs_tokens_list(frs_req *r)
{
    frs_conn *c;
    PGresult *res;
    fr_err e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_tokens_list, 0, NULL, &res, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    json_t *list = json_array();
    for (int i = 0; list && i < PQntuples(res); i++) {
        json_t *t = json_pack(
            "{s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
            "name", PQgetvalue(res, i, 1), "role", PQgetvalue(res, i, 2), "created_at",
            PQgetvalue(res, i, 3), "revoked_at",
            PQgetisnull(res, i, 4) ? json_null() : json_string(PQgetvalue(res, i, 4)));
        if (!t || json_array_append_new(list, t) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    PQclear(res);
    json_t *out = list ? json_pack("{s:o}", "tokens", list) : NULL;
    if (!out) return FR_ERR_NOMEM;
    frs_reply_json(r, 200, out);
    return FR_ERR_OK;
}

fr_err frs_tokens_revoke(frs_req *r)
{
    const char *id = r->path_params[0];
    char *end;
    long long n = strtoll(id, &end, 10);
    if (*end || n <= 0)
        return fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "token id: expected a positive integer");
    frs_conn *c;
    PGresult *res;
    const char *params[] = {id};
    fr_err e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_token_revoke, 1, params, &res, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    bool found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "no active token with id %lld", n);
    frs_reply_empty(r, 204);
    return FR_ERR_OK;
}
