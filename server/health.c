/*
 * health.c - probes and the API description.
 *   GET /healthz       the process answers (no database access: a liveness probe must not fail
 *                      because PostgreSQL is down, or the orchestrator restarts healthy servers);
 *   GET /readyz        PostgreSQL answers through the pool (503 db_unavailable otherwise);
 *   GET /openapi.yaml  docs/openapi.yaml as embedded at build time.
 */
#include "server.h"

fr_err frs_health_live(frs_req *r)
{
    frs_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
    return FR_ERR_OK;
}

fr_err frs_health_ready(frs_req *r)
{
    frs_conn *c;
    uint64_t t0 = frs_now_us();
    fr_err e = frs_db_borrow(r->srv->db, &c, &r->diag);
    if (e != FR_ERR_OK) return e;
    e = frs_db_exec(c, FRS_Q_ping, 0, NULL, NULL, &r->diag);
    frs_db_return(r->srv->db, c);
    if (e != FR_ERR_OK) return e;
    frs_reply_json(r, 200,
                   json_pack("{s:s,s:f}", "status", "ready", "database_ms",
                             (double)(frs_now_us() - t0) / 1000.0));
    return FR_ERR_OK;
}

fr_err frs_openapi_get(frs_req *r)
{
    const frs_embedded *f = frs_embedded_find("docs/openapi.yaml");
    if (!f) return fr_diag_set(&r->diag, FR_ERR_NOT_FOUND, "built without docs/openapi.yaml");
    frs_reply_data(r, 200, "application/yaml", (void *)f->data, f->len, NULL, NULL);
    return FR_ERR_OK;
}
