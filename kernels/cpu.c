/*
 * cpu.c - what the kernels need to know about the machine and the process: the ISA level (cpuid
 * plus xgetbv, so an OS that does not save the wide registers lowers the level), the CPU model
 * string, the BLAS identity, the one thread-count setting shared by our OpenMP loops and the
 * OpenMP build of OpenBLAS, the pre-fork release of the thread pool, and aligned allocation.
 *
 * No state of its own: the thread count lives in OpenMP's and OpenBLAS's settings, and the ISA is
 * recomputed on each call (cheap; callers keep it in a frk_ctx).
 */
#include "kernels.h"

#include <cpuid.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

/* XCR0 bits: x87|SSE|AVX state, then opmask|ZMM_Hi256|Hi16_ZMM for AVX-512. */
#define XCR0_AVX 0x6u
#define XCR0_AVX512 0xe0u

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static frk_isa hardware_isa(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FRK_ISA_SCALAR;
    bool osxsave = c & bit_OSXSAVE, avx = c & bit_AVX, fma = c & bit_FMA;
    if (!osxsave || !avx || !fma) return FRK_ISA_SCALAR;
    uint64_t xcr0 = read_xcr0();
    if ((xcr0 & XCR0_AVX) != XCR0_AVX) return FRK_ISA_SCALAR;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return FRK_ISA_SCALAR;
    if (!(b & bit_AVX2)) return FRK_ISA_SCALAR;
    unsigned need512 = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    if ((b & need512) == need512 && (xcr0 & XCR0_AVX512) == XCR0_AVX512) return FRK_ISA_AVX512;
    return FRK_ISA_AVX2;
}

frk_isa frk_isa_detect(void)
{
    frk_isa isa = hardware_isa();
    /* FASTRUN_ISA only lowers the level: asking for more than the CPU has would crash. An
     * unknown value is ignored (this library prints nothing; `fastrun info` shows the result). */
    const char *env = getenv("FASTRUN_ISA");
    if (env) {
        frk_isa want = isa;
        if (strcmp(env, "scalar") == 0)
            want = FRK_ISA_SCALAR;
        else if (strcmp(env, "avx2") == 0)
            want = FRK_ISA_AVX2;
        else if (strcmp(env, "avx512") == 0)
            want = FRK_ISA_AVX512;
        if (want < isa) isa = want;
    }
    return isa;
}

const char *frk_isa_name(frk_isa isa)
{
    switch (isa) {
    case FRK_ISA_SCALAR:
        return "scalar";
    case FRK_ISA_AVX2:
        return "avx2";
    case FRK_ISA_AVX512:
        return "avx512";
    }
    return "unknown";
}

/* Copies src[0..n) into buf without leading/trailing blanks and with runs of blanks squeezed. */
static void trim_copy(char *buf, size_t len, const char *src, size_t n)
{
    size_t o = 0;
    bool blank = true; /* drops leading blanks */
    for (size_t i = 0; i < n && src[i] && o + 1 < len; i++) {
        bool is_blank = src[i] == ' ' || src[i] == '\t';
        if (is_blank && blank) continue;
        blank = is_blank;
        buf[o++] = is_blank ? ' ' : src[i];
    }
    while (o > 0 && buf[o - 1] == ' ')
        o--;
    buf[o] = '\0';
}

void frk_cpu_model(char *buf, size_t len)
{
    if (len == 0) return;
    unsigned a, b, c, d;
    char brand[49] = {0};
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            unsigned r[4];
            __get_cpuid(0x80000002u + leaf, &r[0], &r[1], &r[2], &r[3]);
            memcpy(brand + 16 * leaf, r, 16);
        }
    }
    trim_copy(buf, len, brand, 48);
    if (buf[0] == '\0') trim_copy(buf, len, "unknown", 7);
}

void frk_set_threads(int n)
{
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int frk_get_threads(void)
{
    return omp_get_max_threads();
}

void frk_before_fork(void)
{
    omp_pause_resource_all(omp_pause_hard);
}

void frk_blas_info(char *lib, size_t liblen, char *core, size_t corelen)
{
    /* openblas_get_config(): "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."; the library and
     * version are its first two words. */
    const char *cfg = openblas_get_config();
    if (!cfg) cfg = "OpenBLAS unknown";
    size_t end = 0;
    for (int words = 0; cfg[end] && words < 2; words++) {
        while (cfg[end] == ' ')
            end++;
        while (cfg[end] && cfg[end] != ' ')
            end++;
    }
    if (liblen) trim_copy(lib, liblen, cfg, end);
    const char *name = openblas_get_corename();
    if (corelen) trim_copy(core, corelen, name ? name : "unknown", name ? strlen(name) : 7);
}

void frk_ctx_default(frk_ctx *ctx)
{
    ctx->nthreads = frk_get_threads();
    ctx->isa = frk_isa_detect();
}

void *frk_alloc(size_t bytes)
{
    if (bytes == 0) return NULL;
    if (bytes > SIZE_MAX - 63) return NULL;
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

void frk_free(void *p)
{
    free(p);
}
