/*
 * fuzz_cache_doc.c - libFuzzer target for the cache document reader (cache/doc_parse.c), the code
 * that reads every local cache file and every upload the server receives.
 *
 * Each input is read twice: as file bytes (frc_doc_parse, digest required), and, when it is a
 * JSON object, as an upload without its digest (frc_doc_from_json with require_digest false, as
 * the server reads hand-written uploads), so that mutations deep inside "categories" are not all
 * stopped by the digest check. Whatever is accepted must then keep the codec's promises:
 *   - it dumps, the dump parses back, and dumping again gives the same bytes (canonical form);
 *   - merging a document with itself changes nothing (cache.h, merge rule);
 *   - a policy-filtered copy dumps and parses back.
 * A broken promise aborts (FZ_REQUIRE), which libFuzzer reports as a finding.
 */
#include "cache.h"
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

/* Dumps doc; the dump must parse back and re-dump to the same bytes. Returns the dump (owned). */
static char *dump_stable(const frc_doc *doc, size_t *len)
{
    char *text = NULL, *again = NULL;
    size_t n = 0, n2 = 0;
    fr_diag d = {{0}};
    frc_doc back;
    fr_err e = frc_doc_dump(doc, &text, &n);
    if (e == FR_ERR_NOMEM) return NULL;
    FZ_REQUIRE(e == FR_ERR_OK, "an accepted document does not dump: %s", fr_err_name(e));
    e = frc_doc_parse(text, n, "dump", &back, &d);
    FZ_REQUIRE(e == FR_ERR_OK, "the dump of an accepted document is refused: %s: %s",
               fr_err_name(e), d.msg);
    e = frc_doc_dump(&back, &again, &n2);
    FZ_REQUIRE(e == FR_ERR_OK, "a re-read dump does not dump again");
    FZ_REQUIRE(n == n2 && memcmp(text, again, n) == 0, "dump -> parse -> dump changed the bytes");
    free(again);
    frc_doc_cleanup(&back);
    *len = n;
    return text;
}

/* The promises every accepted document keeps (see the file comment). */
static void check_accepted(const frc_doc *doc, uint8_t policy_bits)
{
    size_t len = 0, len2 = 0;
    char *text = dump_stable(doc, &len);
    if (!text) return;

    frc_doc self;
    if (frc_doc_copy(doc, &self) == FR_ERR_OK) {
        fr_err e = frc_doc_merge(&self, doc);
        FZ_REQUIRE(e == FR_ERR_OK, "merging a document with itself failed: %s", fr_err_name(e));
        char *merged = dump_stable(&self, &len2);
        FZ_REQUIRE(!merged || (len == len2 && memcmp(text, merged, len) == 0),
                   "merging a document with itself changed it");
        free(merged);
        frc_doc_cleanup(&self);
    }

    frc_policy pol = {.required = policy_bits & 1 ? FR_ATTR_REPRODUCIBLE : 0,
                      .forbidden = policy_bits & 2 ? FR_ATTR_NAIVE : 0,
                      .max_workspace = policy_bits & 4 ? 4096 : 0};
    frc_doc filtered;
    if (frc_doc_filter(doc, &pol, &filtered) == FR_ERR_OK) {
        free(dump_stable(&filtered, &len2));
        frc_doc_cleanup(&filtered);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_diag d = {{0}};
    frc_doc doc;
    uint8_t policy_bits = size ? data[size - 1] : 0;

    /* 1. The file reader, exactly as `fastrun` loads a cache file. */
    if (frc_doc_parse((const char *)data, size, "fuzz.json", &doc, &d) == FR_ERR_OK)
        check_accepted(&doc, policy_bits);
    else
        FZ_REQUIRE(d.msg[0] != '\0', "an error without a detail");
    frc_doc_cleanup(&doc);

    /* 2. The upload reader, digest optional, as the server reads {"document": ...}. */
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (json_is_object(root)) {
        json_object_del(root, "digest");
        d.msg[0] = '\0';
        if (frc_doc_from_json(root, "upload", false, &doc, &d) == FR_ERR_OK)
            check_accepted(&doc, policy_bits);
        else
            FZ_REQUIRE(d.msg[0] != '\0', "an error without a detail");
        frc_doc_cleanup(&doc);
    }
    json_decref(root);
    return 0;
}
