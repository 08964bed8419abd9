/*
 * coverage.c - POST /v1/coverage: which operators of a model the merged cache covers.
 *
 *   POST /v1/coverage?category=ID[&reproducible=1][&exclude=naive][&max_workspace=N]
 *                    [&weight_preprocess=1]
 *   body: a model file exactly as `fastrun run` reads it (../shared/models/README.md)
 *
 * For every operator: its key, whether the cache covers it under the policy and by which
 * algorithm ("hit"), or why not ("miss": no entry; "none_accepted": an entry, but no result the
 * policy accepts). The summary's "complete" is true when every operator is covered, so a CI job
 * gates on `curl -sf ... | jq -e .summary.complete`. Keys are computed by fr_op_key, the
 * worker's own function, so the server needs no kernels to answer.
 */
#include "server.h"

#include <string.h>

static const char *status_name(frc_lookup_status st)
{
    switch (st) {
    case FRC_HIT:
        return "hit";
    case FRC_NONE_ACCEPTED:
        return "none_accepted";
    default:
        return "miss";
    }
}

/* One operator's line of the answer (new reference, NULL on ENOMEM). */
static json_t *operator_json(const fr_model_op *op, const frs_catdoc *cd, const frc_policy *pol,
                             bool wp, size_t counts[3])
{
    char key[FR_MAX_KEY_LEN];
    const frc_result *best = NULL;
    fr_op_key(&op->op, wp, key, sizeof key);
    frc_lookup_status st =
        cd->doc.ncats == 1 ? frc_lookup(&cd->doc.cats[0], key, pol, &best) : FRC_MISS;
    counts[st]++;
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:b,s:s}", "name", op->name, "op", fr_op_kind_name(op->op.kind),
                  "key", key, "covered", st == FRC_HIT, "status", status_name(st));
    if (j && st == FRC_HIT) {
        char attrs[128];
        fr_attrs_format(best->attrs, attrs, sizeof attrs);
        json_object_set_new(j, "algorithm", json_string(best->algorithm));
        json_object_set_new(j, "median_ms", json_real(best->median_ms));
        json_object_set_new(j, "attributes", json_string(attrs));
        json_object_set_new(j, "workspace", json_integer((json_int_t)best->workspace));
    }
    return j;
}

fr_err frs_coverage_post(frs_req *r)
{
    static const char *const allowed[] = {"category",      "reproducible",      "exclude",
                                          "max_workspace", "weight_preprocess", NULL};
    frs_docreq q;
    fr_model model = {0};
    frs_catdoc *cd = NULL;
    const char *wps = frs_param(r, "weight_preprocess");
    bool wp = wps && (!strcmp(wps, "1") || !strcmp(wps, "true"));
    fr_err e = frs_params_only(r, allowed);
    if (e == FR_ERR_OK && wps && !wp && strcmp(wps, "0") && strcmp(wps, "false"))
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "weight_preprocess: expected 1 or 0");
    if (e == FR_ERR_OK) e = frs_docreq_from_params(r, &q, &r->diag);
    if (e == FR_ERR_OK && q.n != 1)
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "coverage takes exactly one category");
    if (e == FR_ERR_OK && !r->json)
        e = fr_diag_set(&r->diag, FR_ERR_BAD_REQUEST, "request body: expected a model file");
    if (e == FR_ERR_OK) e = fr_model_from_json(r->json, "request body", &model, &r->diag);
    if (e == FR_ERR_OK) e = frs_docs_revisions(r->srv, &q, &r->diag);
    if (e == FR_ERR_OK) e = frs_docs_category(r->srv, q.ids[0], q.revisions[0], &cd, &r->diag);
    if (e != FR_ERR_OK) {
        fr_model_cleanup(&model);
        return e;
    }

    size_t counts[3] = {0, 0, 0};
    json_t *ops = json_array();
    for (size_t i = 0; ops && i < model.nops; i++) {
        json_t *j = operator_json(&model.ops[i], cd, &q.policy, wp, counts);
        if (!j || json_array_append_new(ops, j) != 0) {
            json_decref(ops);
            ops = NULL;
        }
    }
    size_t n = model.nops;
    json_t *summary =
        json_pack("{s:I,s:I,s:I,s:I,s:f,s:b}", "operators", (json_int_t)n, "covered",
                  (json_int_t)counts[FRC_HIT], "missing", (json_int_t)counts[FRC_MISS],
                  "none_accepted", (json_int_t)counts[FRC_NONE_ACCEPTED], "coverage",
                  n ? (double)counts[FRC_HIT] / (double)n : 1.0, "complete", counts[FRC_HIT] == n);
    json_t *body = NULL;
    if (ops && summary) /* "o" steals the references, also when packing fails */
        body = json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "model", model.name, "category", q.ids[0],
                         "revision", (json_int_t)cd->revision, "policy", frs_policy_json(&q.policy),
                         "operators", ops, "summary", summary);
    else {
        json_decref(ops);
        json_decref(summary);
    }
    frs_catdoc_release(cd);
    fr_model_cleanup(&model);
    if (!body) return fr_diag_set(&r->diag, FR_ERR_NOMEM, "building the coverage report");
    frs_reply_json(r, 200, body);
    return FR_ERR_OK;
}
