/*
 * blas_env.c - the OPENBLAS_CORETYPE decision.
 *
 * Why: the environment of these machines sets OPENBLAS_CORETYPE=Haswell, which forces OpenBLAS
 * onto its AVX2 kernels at about half the speed it reaches with the core it detects by itself
 * (Cooperlake on our AVX-512 CPUs). Profiling under a forced, slower core would tune against a
 * BLAS nobody wants to run. So every fastrun program drops an inherited OPENBLAS_CORETYPE.
 *
 * How: OpenBLAS reads the variable once, in its load-time constructor, before main() runs, so
 * unsetting it in main() is too late: we re-execute ourselves (/proc/self/exe, same argv) with
 * the variable removed and FASTRUN_OPENBLAS_CORETYPE_DROPPED=<old value> set, so `fastrun info`
 * can say what was dropped. FASTRUN_KEEP_OPENBLAS_CORETYPE=1 keeps the inherited value (to
 * measure under it on purpose). Either way the core OpenBLAS actually uses is part of the
 * category, so measurements under different cores never mix.
 */
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CORETYPE "OPENBLAS_CORETYPE"
#define DROPPED "FASTRUN_OPENBLAS_CORETYPE_DROPPED"
#define KEEP "FASTRUN_KEEP_OPENBLAS_CORETYPE"

void frw_blas_env_apply(char **argv)
{
    const char *inherited = getenv(CORETYPE);
    const char *keep = getenv(KEEP);
    if (!inherited || (keep && strcmp(keep, "1") == 0)) return;
    char core[128];
    snprintf(core, sizeof core, "%s", inherited);
    if (setenv(DROPPED, core, 1) != 0 || unsetenv(CORETYPE) != 0) {
        fprintf(stderr, "fastrun: warning: cannot drop %s=%s: %s\n", CORETYPE, core,
                strerror(errno));
        return;
    }
    execv("/proc/self/exe", argv);
    /* Still here: OpenBLAS keeps the inherited core (the category records it); put the
     * environment back so it tells the truth. */
    fprintf(stderr, "fastrun: warning: re-exec to drop %s failed: %s\n", CORETYPE, strerror(errno));
    setenv(CORETYPE, core, 1);
    unsetenv(DROPPED);
}

const char *frw_blas_coretype_dropped(void)
{
    const char *v = getenv(DROPPED);
    return v && *v ? v : NULL;
}
