/*
 * fuzz.h - what the libFuzzer targets share: the entry point's prototype and FZ_REQUIRE, which
 * turns a broken invariant (a round trip that changes bytes, a 5xx for bad input) into an abort
 * that libFuzzer records as a finding, with the reason printed first.
 *
 * The targets are built only with -DFASTRUN_FUZZ=ON (clang); see fuzz/CMakeLists.txt and
 * scripts/fuzz.sh.
 */
#ifndef FZ_FUZZ_H
#define FZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_REQUIRE(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
