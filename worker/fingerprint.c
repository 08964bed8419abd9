/*
 * fingerprint.c - this machine's category fingerprint (DESIGN.md "category"): cache format and
 * kernel-set versions, CPU model, ISA level, thread count, BLAS library and the core it uses.
 * A value that cannot be determined is "unknown", which never matches a real one.
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_unknown(const char *s)
{
    return strdup(s && *s ? s : "unknown");
}

fr_err frw_fingerprint(frc_fingerprint *out)
{
    char cpu[128], blas[128], core[64];
    frk_cpu_model(cpu, sizeof cpu);
    frk_blas_info(blas, sizeof blas, core, sizeof core);
    frc_fingerprint fp = {
        .format_version = FRC_FORMAT_VERSION,
        .kernel_set = FRK_KERNEL_SET_VERSION,
        .cpu = dup_or_unknown(cpu),
        .isa = dup_or_unknown(frk_isa_name(frk_isa_detect())),
        .threads = frk_get_threads(),
        .blas = dup_or_unknown(blas),
        .blas_core = dup_or_unknown(core),
    };
    if (!fp.cpu || !fp.isa || !fp.blas || !fp.blas_core) {
        frc_fingerprint_cleanup(&fp);
        return FR_ERR_NOMEM;
    }
    *out = fp;
    return FR_ERR_OK;
}
