/*
 * cmd_info.c - `fastrun info [--threads N] [--json]`: this machine's category (DESIGN.md): cache
 * format and kernel-set versions, CPU model, ISA level, threads, BLAS library and version, the
 * core OpenBLAS actually uses (and whether an inherited OPENBLAS_CORETYPE was dropped), and the
 * category id derived from all of it.
 */
#include <jansson.h>
#include <string.h>

#include "cli.h"

static void print_text(const frc_fingerprint *fp, const char *id, const char *text)
{
    const char *dropped = frw_blas_coretype_dropped();
    printf("cache format:  %s %d\n", FRC_FORMAT_NAME, fp->format_version);
    printf("kernel set:    %d\n", fp->kernel_set);
    printf("cpu:           %s\n", fp->cpu);
    printf("isa:           %s\n", fp->isa);
    printf("threads:       %d\n", fp->threads);
    printf("blas:          %s\n", fp->blas);
    printf("blas core:     %s\n", fp->blas_core);
    if (dropped)
        printf("               (inherited OPENBLAS_CORETYPE=%s was dropped; set "
               "FASTRUN_KEEP_OPENBLAS_CORETYPE=1 to keep it)\n",
               dropped);
    printf("category:      %s\n", id);
    printf("fingerprint:   %s\n", text);
}

static int print_json(const frc_fingerprint *fp, const char *id, const char *text)
{
    void *jfp = NULL;
    if (frc_fingerprint_to_json(fp, &jfp)) return frw_cli_fail("info", FR_ERR_NOMEM, NULL);
    const char *dropped = frw_blas_coretype_dropped();
    json_t *root = json_pack("{s:s, s:s, s:o, s:s, s:i, s:o}", "category", id, "fingerprint_text",
                             text, "fingerprint", (json_t *)jfp, "format", FRC_FORMAT_NAME,
                             "format_version", fp->format_version, "openblas_coretype_dropped",
                             dropped ? json_string(dropped) : json_null());
    if (!root) return frw_cli_fail("info", FR_ERR_NOMEM, NULL);
    frw_cli_print_json(root);
    json_decref(root);
    return FRW_EXIT_OK;
}

int frw_cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!frw_cli_threads("info", optarg)) return FRW_EXIT_USAGE;
            break;
        case 'j':
            json = true;
            break;
        default:
            return frw_cli_bad_option("info", argv, c);
        }
    }
    if (optind < argc) return frw_cli_usage("info", "unexpected argument '%s'", argv[optind]);
    frc_fingerprint fp = {0};
    if (frw_fingerprint(&fp)) return frw_cli_fail("info", FR_ERR_NOMEM, NULL);
    char id[17], text[1024];
    frc_category_id(&fp, id);
    frc_fingerprint_text(&fp, text, sizeof text);
    int rc = FRW_EXIT_OK;
    if (json)
        rc = print_json(&fp, id, text);
    else
        print_text(&fp, id, text);
    frc_fingerprint_cleanup(&fp);
    return rc;
}
