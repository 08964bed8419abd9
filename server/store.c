/*
 * store.c - one upload, one transaction: record the upload with its provenance, keep every raw
 * report, re-merge each (category, key, algorithm) that gained a report, and bump the revision of
 * each category that changed.
 *
 * Idempotency, at two levels. The upload key (the client's upload_id, else a SHA-256 of the
 * provenance and the canonical document) is unique: the same upload again finds its row and
 * changes nothing. Each report's content hash (category, key, algorithm, figures, provenance) is
 * unique too, so a report that arrives again inside another upload is stored once.
 *
 * Concurrency: categories are locked (SELECT ... FOR UPDATE) in id order, the order of the
 * document, so two servers merging into the same categories serialise without deadlock.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text identifying the provenance inside report hashes. */
static void provenance_text(const frs_provenance *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s\n%s\n%s\n%s", p->source, p->host, p->time, p->upload_id);
}

static fr_err upload_key(const frs_provenance *p, const frc_doc *doc, char *key, size_t len)
{
    if (p->upload_id[0]) {
        snprintf(key, len, "id:%s", p->upload_id);
        return FR_ERR_OK;
    }
    char prov[512], hex[65], *text;
    size_t tlen;
    fr_err e = frc_doc_dump(doc, &text, &tlen);
    if (e != FR_ERR_OK) return e;
    provenance_text(p, prov, sizeof prov);
    size_t plen = strlen(prov);
    char *all = malloc(plen + 1 + tlen);
    if (!all) {
        free(text);
        return FR_ERR_NOMEM;
    }
    memcpy(all, prov, plen);
    all[plen] = '\n';
    memcpy(all + plen + 1, text, tlen);
    frc_sha256_hex(all, plen + 1 + tlen, hex);
    free(all);
    free(text);
    snprintf(key, len, "sha256:%s", hex);
    return FR_ERR_OK;
}

/* Canonical compact JSON of one result (caller frees). */
static fr_err result_text(const frc_result *r, char **out)
{
    void *j;
    fr_err e = frc_result_to_json(r, &j);
    if (e != FR_ERR_OK) return e;
    *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    json_decref(j);
    return *out ? FR_ERR_OK : FR_ERR_NOMEM;
}

/* Re-merges every stored report of (cat, key, algorithm) into its profile row. */
static fr_err remerge(frs_conn *c, const char *cat, const char *key, const char *algorithm,
                      fr_diag *d)
{
    const char *sel[] = {cat, key, algorithm};
    PGresult *res;
    fr_err e = frs_db_exec(c, FRS_Q_reports_of_profile, 3, sel, &res, d);
    if (e != FR_ERR_OK) return e;
    size_t n = (size_t)PQntuples(res);
    frc_result *in = calloc(n, sizeof *in);
    const frc_result **ptrs = calloc(n, sizeof *ptrs);
    frc_result merged = {0};
    if (!in || !ptrs) e = FR_ERR_NOMEM;
    for (size_t i = 0; e == FR_ERR_OK && i < n; i++) {
        json_t *j = json_loads(PQgetvalue(res, (int)i, 0), 0, NULL);
        e = j ? frc_result_from_json(j, "stored report", &in[i], d) : FR_ERR_CORRUPT;
        json_decref(j);
        /* One stored upload is one vote, whatever `reports` it claims: the server cannot check
         * the claim, and a claim of 2^31 reports would outvote the whole fleet (README "Merge
         * rule"). The claim stays in the stored report for provenance. */
        in[i].reports = 1;
        ptrs[i] = &in[i];
    }
    PQclear(res);
    if (e == FR_ERR_OK) e = frc_merge_results(ptrs, n, &merged);
    char *text = NULL, median[32] = "", reports[24];
    if (e == FR_ERR_OK) e = result_text(&merged, &text);
    if (e == FR_ERR_OK) {
        if (!merged.failure) snprintf(median, sizeof median, "%.9g", merged.median_ms);
        /* profiles.reports is an integer column: saturate rather than fail every later upload. */
        snprintf(reports, sizeof reports, "%lld",
                 (long long)(merged.reports > INT32_MAX ? INT32_MAX : merged.reports));
        const char *up[] = {cat, key, algorithm, text, merged.failure ? NULL : median, reports};
        e = frs_db_exec(c, FRS_Q_profile_upsert, 6, up, NULL, d);
    }
    free(text);
    frc_result_cleanup(&merged);
    for (size_t i = 0; in && i < n; i++) frc_result_cleanup(&in[i]);
    free(in);
    free(ptrs);
    return e;
}

/* Stores the reports of one category and re-merges what they touched. */
static fr_err store_category(frs_conn *c, const char *upload_id, const char *prov,
                             const frc_category *cat, frs_store_result *out, fr_diag *d)
{
    void *fpj;
    fr_err e = frc_fingerprint_to_json(&cat->fp, &fpj);
    if (e != FR_ERR_OK) return e;
    char *fp = json_dumps(fpj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(fpj);
    if (!fp) return FR_ERR_NOMEM;
    const char *ensure[] = {cat->id, fp};
    e = frs_db_exec(c, FRS_Q_category_ensure, 2, ensure, NULL, d);
    free(fp);
    const char *lock[] = {cat->id};
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_category_lock, 1, lock, NULL, d);

    size_t added = 0, changed = 0; /* new reports; new or changed heuristic picks */
    for (size_t k = 0; e == FR_ERR_OK && k < cat->nentries; k++) {
        const frc_entry *en = &cat->entries[k];
        for (size_t i = 0; e == FR_ERR_OK && i < en->nresults; i++) {
            const frc_result *r = &en->results[i];
            char *text, hex[65];
            e = result_text(r, &text);
            if (e != FR_ERR_OK) break;
            size_t hlen = strlen(cat->id) + strlen(en->key) + strlen(r->algorithm) +
                          strlen(text) + strlen(prov) + 5;
            char *h = malloc(hlen);
            if (h) {
                snprintf(h, hlen, "%s\n%s\n%s\n%s\n%s", cat->id, en->key, r->algorithm, text, prov);
                frc_sha256_hex(h, strlen(h), hex);
                free(h);
                PGresult *res;
                const char *ins[] = {upload_id, cat->id, en->key, r->algorithm, text, hex};
                e = frs_db_exec(c, FRS_Q_report_insert, 6, ins, &res, d);
                bool fresh = e == FR_ERR_OK && PQntuples(res) == 1;
                PQclear(res);
                if (fresh) {
                    added++;
                    e = remerge(c, cat->id, en->key, r->algorithm, d);
                }
            } else {
                e = FR_ERR_NOMEM;
            }
            free(text);
            out->received++;
        }
        if (e == FR_ERR_OK && en->heuristic) {
            const char *hp[] = {cat->id, en->key, en->heuristic};
            PGresult *hres;
            e = frs_db_exec(c, FRS_Q_heuristic_upsert, 3, hp, &hres, d);
            if (e == FR_ERR_OK) changed += PQntuples(hres) == 1;
            PQclear(hres);
        }
    }
    if (e != FR_ERR_OK || (added == 0 && changed == 0)) return e;

    char nadded[24];
    snprintf(nadded, sizeof nadded, "%zu", added);
    const char *bump[] = {cat->id, nadded};
    PGresult *res;
    e = frs_db_exec(c, FRS_Q_category_bump, 2, bump, &res, d);
    if (e != FR_ERR_OK) return e;
    json_t *j = json_pack("{s:s,s:I,s:I}", "id", cat->id, "revision",
                          (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "reports_added",
                          (json_int_t)added);
    PQclear(res);
    if (!j || json_array_append_new(out->categories, j) != 0) return FR_ERR_NOMEM;
    out->added += added;
    return FR_ERR_OK;
}

/* Finds the id of an upload stored before (the duplicate case). */
static fr_err find_upload(frs_conn *c, const char *key, frs_store_result *out, fr_diag *d)
{
    const char *params[] = {key};
    PGresult *res;
    fr_err e = frs_db_exec(c, FRS_Q_upload_find, 1, params, &res, d);
    if (e != FR_ERR_OK) return e;
    if (PQntuples(res) == 1) out->upload_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    out->duplicate = true;
    return FR_ERR_OK;
}

fr_err frs_store_upload_in(frs_conn *c, const frs_principal *who, const frs_provenance *p,
                           const frc_doc *doc, frs_store_result *out, fr_diag *d)
{
    char key[200], token[24], prov[512], id[24];
    memset(out, 0, sizeof *out);
    if (!(out->categories = json_array())) return FR_ERR_NOMEM;
    fr_err e = upload_key(p, doc, key, sizeof key);
    if (e != FR_ERR_OK) return fr_diag_set(d, e, "hashing the upload");
    provenance_text(p, prov, sizeof prov);
    snprintf(token, sizeof token, "%lld", (long long)who->token_id);
    const char *ins[] = {key, p->source, p->host, p->time, who->token_id ? token : NULL};

    PGresult *res = NULL;
    e = frs_db_exec(c, FRS_Q_upload_insert, 5, ins, &res, d);
    if (e == FR_ERR_OK && PQntuples(res) == 0) {
        PQclear(res);
        e = find_upload(c, key, out, d);
        for (size_t i = 0; i < doc->ncats; i++)
            for (size_t k = 0; k < doc->cats[i].nentries; k++)
                out->received += doc->cats[i].entries[k].nresults;
        return e; /* nothing was written */
    }
    if (e == FR_ERR_OK) {
        out->upload_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(id, sizeof id, "%lld", (long long)out->upload_id);
    }
    PQclear(res);
    for (size_t i = 0; e == FR_ERR_OK && i < doc->ncats; i++)
        e = store_category(c, id, prov, &doc->cats[i], out, d);
    char nadded[24];
    snprintf(nadded, sizeof nadded, "%zu", out->added);
    const char *count[] = {id, nadded};
    if (e == FR_ERR_OK) e = frs_db_exec(c, FRS_Q_upload_count, 2, count, NULL, d);
    return e;
}

fr_err frs_store_upload(frs_server *s, const frs_principal *who, const frs_provenance *p,
                        const frc_doc *doc, frs_store_result *out, fr_diag *d)
{
    frs_conn *c;
    memset(out, 0, sizeof *out);
    fr_err e = frs_db_borrow(s->db, &c, d);
    if (e != FR_ERR_OK) return e;
    e = frs_db_begin(c, false, d);
    if (e == FR_ERR_OK) e = frs_store_upload_in(c, who, p, doc, out, d);
    if (e == FR_ERR_OK && !out->duplicate) e = frs_db_commit(c, d);
    frs_db_return(s->db, c); /* rolls back if anything failed, or after a duplicate */
    return e;
}
