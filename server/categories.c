/*
 * categories.c - GET /v1/categories: every category with its fingerprint, number of keys,
 * results and raw reports, last update and revision. The counts are kept on the category row by
 * the upload transaction (category_bump), so listing is one scan of a small table.
 */
#include "server.h"

#include <stdlib.h>

fr_err frs_categories_list(frs_req *r)
{
    static const char *const allowed[] = {NULL};
    fr_err e = frs_params_only(r, allowed);
    if (e != FR_ERR_OK) return e;
    frs_conn *c;
    PGresult *res;
    e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_categories_list, 0, NULL, &res, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;

    json_t *list = json_array();
    for (int i = 0; list && i < PQntuples(res); i++) {
        json_t *fp = json_loads(PQgetvalue(res, i, 1), 0, NULL);
        json_t *cat = json_pack("{s:s,s:o,s:I,s:I,s:I,s:I,s:s}", "id", PQgetvalue(res, i, 0),
                                "fingerprint", fp ? fp : json_null(), "keys",
                                (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10), "results",
                                (json_int_t)strtoll(PQgetvalue(res, i, 3), NULL, 10), "reports",
                                (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10), "revision",
                                (json_int_t)strtoll(PQgetvalue(res, i, 5), NULL, 10), "updated_at",
                                PQgetvalue(res, i, 6));
        if (!cat || json_array_append_new(list, cat) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    PQclear(res);
    json_t *body = list ? json_pack("{s:o}", "categories", list) : NULL;
    if (!body) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "building the category list");
    frs_reply_json(r, 200, body);
    return FR_ERR_OK;
}
