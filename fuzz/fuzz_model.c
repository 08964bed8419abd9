/*
 * fuzz_model.c - libFuzzer target for the model-file reader (common/model.c), which reads the
 * files `fastrun run` is given and the bodies of POST /v1/coverage and job submissions.
 *
 * Whatever the reader accepts must keep the promises of fr_common.h:
 *   - every operator passes fr_op_validate (the reader validates; nothing invalid slips by);
 *   - its key fits FR_MAX_KEY_LEN and parses back (fr_op_parse_key) to the same operator, for
 *     both weight-preprocess flags, so the server and the worker agree on keys;
 *   - operator names are unique, non-empty and within FR_MODEL_MAX_NAME.
 * A refusal must come with a detail. A broken promise aborts (FZ_REQUIRE).
 */
#include "fr_common.h"
#include "fuzz.h"

#include <string.h>

static void check_op(const fr_model_op *mop)
{
    fr_diag d = {{0}};
    FZ_REQUIRE(fr_op_validate(&mop->op, &d) == FR_ERR_OK, "operator '%s' accepted but invalid: %s",
               mop->name, d.msg);
    for (int wp = 0; wp < 2; wp++) {
        char key[FR_MAX_KEY_LEN], desc[256];
        fr_op back;
        bool back_wp = !wp;
        fr_op_key(&mop->op, wp, key, sizeof key);
        FZ_REQUIRE(strlen(key) < FR_MAX_KEY_LEN - 1, "key of '%s' may be cut short", mop->name);
        fr_err e = fr_op_parse_key(key, &back, &back_wp, &d);
        FZ_REQUIRE(e == FR_ERR_OK, "key '%s' does not parse back: %s", key, d.msg);
        FZ_REQUIRE(back_wp == (bool)wp, "key '%s': weight-preprocess flag lost", key);
        char key2[FR_MAX_KEY_LEN];
        fr_op_key(&back, wp, key2, sizeof key2);
        FZ_REQUIRE(strcmp(key, key2) == 0, "key '%s' parses to an operator keyed '%s'", key, key2);
        fr_op_describe(&mop->op, desc, sizeof desc);
        FZ_REQUIRE(fr_op_flops(&mop->op) > 0, "operator '%s' has no FLOPs", mop->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_model m = {0};
    fr_diag d = {{0}};
    fr_err e = fr_model_parse((const char *)data, size, "fuzz.json", &m, &d);
    if (e != FR_ERR_OK) {
        FZ_REQUIRE(d.msg[0] != '\0', "refused (%s) without a detail", fr_err_name(e));
        FZ_REQUIRE(m.nops == 0 && m.ops == NULL && m.name == NULL, "refused model not empty");
        return 0;
    }
    FZ_REQUIRE(m.name && strlen(m.name) <= FR_MODEL_MAX_NAME, "model name missing or too long");
    FZ_REQUIRE(m.nops <= FR_MODEL_MAX_OPS, "%zu operators accepted", m.nops);
    for (size_t i = 0; i < m.nops; i++) {
        FZ_REQUIRE(m.ops[i].name && m.ops[i].name[0], "operator #%zu has no name", i);
        FZ_REQUIRE(strlen(m.ops[i].name) <= FR_MODEL_MAX_NAME, "operator #%zu name too long", i);
        for (size_t j = 0; j < i; j++)
            FZ_REQUIRE(strcmp(m.ops[i].name, m.ops[j].name) != 0, "name '%s' accepted twice",
                       m.ops[i].name);
        check_op(&m.ops[i]);
    }
    fr_model_cleanup(&m);
    fr_model_cleanup(&m); /* documented safe on an already cleaned model */
    return 0;
}
