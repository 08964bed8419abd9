/*
 * test_registry.c - every algorithm of the registry, checked against the naive reference on the
 * operators of every model in shared/models and on generated edge shapes (MegDNN's checker, FFTW's
 * paranoid mode). The registry drives it: a new algorithm is tested by adding its table line.
 *
 * Each (operator, applicable algorithm) runs at 1 and 2 threads, at every ISA level up to the
 * CPU's (so the AVX-512, AVX2 and scalar paths all run), with and without its weight
 * preprocessing, and REPRODUCIBLE algorithms must repeat bit for bit (frk_verify_check).
 *
 * ResNet-50's shapes are large: the naive reference would take most of the time budget, so they
 * run the quick sweep (2 threads, detected ISA) against conv2d.im2col_gemm, which is itself
 * verified against the naive reference on every other shape here. The big-shape check is still
 * meaningful: im2col_gemm and the algorithm under test compute in different ways.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fr_common.h"
#include "kernels.h"
#include "sweep.h"

static void sweep_model(const char *file, sweep_mode mode, const frk_algo *conv_ref,
                        sweep_seen *seen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FR_MODELS_DIR, file);
    fr_model m;
    memset(&m, 0, sizeof m);
    fr_diag d = {{0}};
    fr_err e = fr_model_load_file(path, &m, &d);
    cr_assert(e == FR_ERR_OK, "loading %s: %s (%s)", path, fr_err_name(e), d.msg);
    cr_assert(m.nops > 0, "%s has no operators", path);
    for (size_t i = 0; i < m.nops; i++) {
        char label[256];
        snprintf(label, sizeof label, "%s:%s", file, m.ops[i].name);
        const frk_algo *ref = m.ops[i].op.kind == FR_OP_CONV2D ? conv_ref : NULL;
        sweep_op(&m.ops[i].op, label, mode, ref, seen);
    }
    fr_model_cleanup(&m);
}

Test(registry, tiny_model)
{
    sweep_seen seen = {0};
    sweep_model("tiny.json", SWEEP_FULL, NULL, &seen);
    cr_expect(seen.checks > 0);
}

Test(registry, transformer_model, .timeout = 120)
{
    sweep_seen seen = {0};
    sweep_model("transformer-small.json", SWEEP_QUICK, NULL, &seen);
}

Test(registry, resnet50_model, .timeout = 120)
{
    sweep_seen seen = {0};
    sweep_model("resnet50-b1.json", SWEEP_QUICK, frk_algo_find("conv2d.im2col_gemm"), &seen);
    /* Its 3x3, 1x1 and strided layers reach every fast conv2d family except depthwise. */
    const char *must[] = {"conv2d.winograd_f43", "conv2d.gemm_1x1", "conv2d.direct_simd",
                          "conv2d.gemm_1x1_packed" /* AVX2 and up: last */};
    size_t nmust = sizeof must / sizeof must[0] - (frk_isa_detect() < FRK_ISA_AVX2);
    for (size_t i = 0; i < nmust; i++) {
        bool found = false;
        for (size_t j = 0; j < seen.count; j++)
            found |= strcmp(seen.names[j], must[i]) == 0;
        cr_expect(found, "%s was not applicable to any ResNet-50 layer", must[i]);
    }
}

/* Shapes chosen for the corners of each algorithm; comments say which. */
Test(registry, edge_conv2d, .timeout = 120)
{
    const struct {
        const char *label;
        fr_op op;
    } ops[] = {
        {"1x1 image, 1x1 kernel", conv_op(1, 8, 1, 1, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1)},
        {"1x1 image, 3x3 pad 1", conv_op(1, 5, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"odd sizes 3x3", conv_op(1, 7, 13, 11, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"large padding", conv_op(1, 3, 5, 6, 4, 3, 3, 1, 1, 4, 5, 1, 1, 1)},
        {"dilation 3x2", conv_op(1, 6, 17, 19, 5, 3, 3, 1, 1, 2, 1, 3, 2, 1)},
        {"groups 2", conv_op(1, 8, 10, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2)},
        {"groups 4, 3 in / 2 out per group", conv_op(2, 12, 9, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4)},
        {"depthwise 3x3", conv_op(1, 16, 15, 17, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16)},
        {"depthwise 5x5 s2 d2", conv_op(2, 6, 19, 23, 6, 5, 5, 2, 2, 3, 4, 2, 2, 6)},
        {"depthwise wide rows", conv_op(1, 3, 6, 150, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3)},
        /* depthwise_blocked: channel tails (c = 21, 40), maps narrower than a 16-pixel block,
         * stride 2 with odd sizes, blocks that do not divide among threads (row split). */
        {"depthwise 21 ch 7x7", conv_op(1, 21, 7, 7, 21, 3, 3, 1, 1, 1, 1, 1, 1, 21)},
        {"depthwise 40 ch s2 odd", conv_op(2, 40, 15, 13, 40, 3, 3, 2, 2, 1, 1, 1, 1, 40)},
        {"depthwise 5x5 s2 p2 48 ch", conv_op(1, 48, 14, 14, 48, 5, 5, 2, 2, 2, 2, 1, 1, 48)},
        {"depthwise 3x3 pad 0 width 37", conv_op(1, 17, 5, 37, 17, 3, 3, 1, 1, 0, 0, 1, 1, 17)},
        {"depthwise 1x7 stride 3x1", conv_op(1, 16, 9, 20, 16, 1, 7, 3, 1, 0, 3, 1, 1, 16)},
        {"batch 3", conv_op(3, 4, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"stride 2x3", conv_op(1, 4, 15, 16, 6, 3, 3, 2, 3, 1, 1, 1, 1, 1)},
        {"stride 3, 7x7", conv_op(1, 3, 23, 29, 8, 7, 7, 3, 3, 3, 3, 1, 1, 1)},
        {"stem-like 3->20 7x7 s2 p3", conv_op(1, 3, 21, 37, 20, 7, 7, 2, 2, 3, 3, 1, 1, 1)},
        {"rectangular 1x7", conv_op(1, 5, 9, 20, 7, 1, 7, 1, 1, 0, 3, 1, 1, 1)},
        {"rectangular 5x2", conv_op(1, 4, 12, 9, 3, 5, 2, 1, 1, 2, 0, 1, 1, 1)},
        {"1x1 stride 2 (subsampled GEMM)", conv_op(2, 16, 14, 13, 20, 1, 1, 2, 2, 0, 0, 1, 1, 1)},
        {"1x1 padded", conv_op(1, 6, 7, 7, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1)},
        /* gemm_1x1_packed: plain orientation (>= 512 pixels, stride 1) with ragged channel and
         * pixel panels and two images; transposed orientation with c over one 256 block, odd
         * k, a partial last pixel micro-panel and strides 2x3; 7-pixel micro-panels (49). */
        {"1x1 575 pixels, k=37", conv_op(2, 20, 23, 25, 37, 1, 1, 1, 1, 0, 0, 1, 1, 1)},
        {"1x1 c=300 stride 2x3", conv_op(2, 300, 9, 11, 45, 1, 1, 2, 3, 0, 0, 1, 1, 1)},
        {"1x1 7x7 k=70", conv_op(1, 40, 7, 7, 70, 1, 1, 1, 1, 0, 0, 1, 1, 1)},
        /* gemm_1x1_packed in place: 7-row (5x5) and 6-row (6x11) pixel panels, c past KC. */
        {"1x1 5x5 c=300 k=33", conv_op(1, 300, 5, 5, 33, 1, 1, 1, 1, 0, 0, 1, 1, 1)},
        {"1x1 6x11 c=300 k=45, batch 2", conv_op(2, 300, 6, 11, 45, 1, 1, 1, 1, 0, 0, 1, 1, 1)},
        {"1x1 stride 2 to 7x7", conv_op(1, 24, 14, 13, 33, 1, 1, 2, 2, 0, 0, 1, 1, 1)},
        {"1x1 grouped", conv_op(1, 8, 6, 6, 12, 1, 1, 1, 1, 0, 0, 1, 1, 2)},
        {"3x3 pad 0, ragged tiles", conv_op(1, 8, 11, 10, 17, 3, 3, 1, 1, 0, 0, 1, 1, 1)},
        {"3x3 pad 2", conv_op(1, 16, 9, 14, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1)},
        /* direct_simd: k not a multiple of its 16-channel block, rows wider than 48 columns. */
        {"3x3 k=35 wide rows", conv_op(1, 33, 7, 70, 35, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"3x3 q in 17..32", conv_op(1, 9, 8, 25, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"3x3 k=3 narrow", conv_op(1, 4, 6, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        /* Winograd: more tiles than one chunk, so several chunks run. */
        {"3x3 many tiles", conv_op(2, 8, 128, 128, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        /* split_reduce's case: a long reduction into a tiny output. */
        {"long reduction, 2x2 map", conv_op(1, 2048, 2, 2, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1)},
        {"long reduction 3x3", conv_op(1, 300, 3, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"3x3 chunked reduction, rows split", conv_op(1, 160, 8, 8, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        /* direct_blocked: channel-block and output-block tails, tile tails, strides, chunks. */
        {"blocked: 19->37 ch, 3x3 s2, q=23", conv_op(1, 19, 23, 45, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1)},
        {"blocked: 5x5 d2, k=70", conv_op(1, 8, 15, 16, 70, 5, 5, 1, 1, 4, 4, 2, 2, 1)},
        {"blocked: 1x7 g2, batch 2", conv_op(2, 48, 9, 17, 40, 1, 7, 1, 1, 0, 3, 1, 1, 2)},
        {"blocked: chunked reduction", conv_op(1, 300, 5, 5, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
        {"blocked: stem-like 7x7 s2", conv_op(1, 3, 30, 30, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1)},
        {"blocked: s3, d2x3, 3x2", conv_op(1, 5, 20, 31, 9, 3, 2, 3, 3, 2, 1, 2, 3, 1)},
    };
    sweep_seen seen = {0};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        cr_assert(fr_op_validate(&ops[i].op, NULL) == FR_ERR_OK, "bad test shape %s", ops[i].label);
        sweep_op(&ops[i].op, ops[i].label, SWEEP_FULL, NULL, &seen);
    }
    sweep_expect_all_seen(FR_OP_CONV2D, &seen);
}

Test(registry, edge_matmul, .timeout = 120)
{
    const struct {
        const char *label;
        fr_op op;
    } ops[] = {
        {"1x1x1", mm_op(1, 1, 1, 1)},
        {"m=1", mm_op(1, 1, 37, 64)},
        /* gemv_packed: a partial last panel, odd k, several panels, batch. */
        {"m=1 k odd n=130", mm_op(1, 1, 130, 77)},
        {"m=1 batch 2 n=64", mm_op(2, 1, 64, 33)},
        {"n=1", mm_op(1, 33, 1, 17)},
        {"k=1", mm_op(1, 9, 11, 1)},
        {"odd 17x19x23", mm_op(1, 17, 19, 23)},
        {"batch 3", mm_op(3, 5, 7, 9)},
        {"batch 2, 65x130x257", mm_op(2, 65, 130, 257)},
        {"tall 300x8x40", mm_op(1, 300, 8, 40)},
        {"wide 4x300x33", mm_op(1, 4, 300, 33)},
    };
    sweep_seen seen = {0};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        sweep_op(&ops[i].op, ops[i].label, SWEEP_FULL, NULL, &seen);
    sweep_expect_all_seen(FR_OP_MATMUL, &seen);
}
