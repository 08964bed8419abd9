/*
 * cmd_algos.c - `fastrun algos [--json]`: the algorithm registry as it is in this build, in
 * table order: name, operator kind, attributes, whether it has a weight-preprocess step, and
 * its one-line doc.
 */
#include <jansson.h>

#include "cli.h"

static json_t *algo_json(const frk_algo *a)
{
    return json_pack("{s:s, s:s, s:o, s:b, s:s}", "name", a->name, "kind", fr_op_kind_name(a->kind),
                     "attributes", (json_t *)frw_attrs_json(a->attrs), "weight_preprocess",
                     a->preprocess != NULL, "doc", a->doc ? a->doc : "");
}

int frw_cmd_algos(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else
            return frw_cli_bad_option("algos", argv, c);
    }
    if (optind < argc) return frw_cli_usage("algos", "unexpected argument '%s'", argv[optind]);
    size_t n;
    const frk_algo *const *all = frk_all_algos(&n);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, algo_json(all[i]));
        if (!arr) return frw_cli_fail("algos", FR_ERR_NOMEM, NULL);
        frw_cli_print_json(arr);
        json_decref(arr);
        return FRW_EXIT_OK;
    }
    printf("%-26s %-7s %-30s %-10s %s\n", "algorithm", "kind", "attributes", "preprocess", "doc");
    for (size_t i = 0; i < n; i++) {
        char attrs[96];
        fr_attrs_format(all[i]->attrs, attrs, sizeof attrs);
        printf("%-26s %-7s %-30s %-10s %s\n", all[i]->name, fr_op_kind_name(all[i]->kind), attrs,
               all[i]->preprocess ? "yes" : "no", all[i]->doc ? all[i]->doc : "");
    }
    return FRW_EXIT_OK;
}
