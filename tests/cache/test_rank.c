/*
 * test_rank.c - ranking as a user of `--verbose` sees it: the fastest wins unless another is
 * within FRC_TIE_TOLERANCE, in which case REPRODUCIBLE, then the smaller workspace, then the
 * name decide; failures come last by name; the input order never matters.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define R FR_ATTR_REPRODUCIBLE

static void assert_order(frc_result *rs, size_t n, const char *const *names)
{
    frc_rank(rs, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(rs[i].algorithm, names[i], "position %zu", i);
}

Test(rank, reproducible_first_within_tolerance)
{
    frc_result rs[] = {fx_ok("a.fast", 0, 0, 1.00), fx_ok("b.repro", R, 0, 1.029)};
    assert_order(rs, 2, (const char *const[]){"b.repro", "a.fast"});
}

Test(rank, smaller_workspace_next)
{
    frc_result rs[] = {fx_ok("a.big", R, 1000, 1.00), fx_ok("b.small", R, 0, 1.025)};
    assert_order(rs, 2, (const char *const[]){"b.small", "a.big"});
}

Test(rank, then_name)
{
    frc_result rs[] = {fx_ok("b", 0, 64, 1.00), fx_ok("a", 0, 64, 1.01)};
    assert_order(rs, 2, (const char *const[]){"a", "b"});
}

Test(rank, speed_wins_outside_tolerance)
{
    frc_result rs[] = {fx_ok("z.repro", R, 0, 1.035), fx_ok("a.fast", 0, 1 << 20, 1.00)};
    assert_order(rs, 2, (const char *const[]){"a.fast", "z.repro"});
}

Test(rank, tolerance_is_relative_to_the_fastest_remaining)
{
    /* c is within 3% of b but not of a: b (repro, ties with a) goes first, then a, then c. */
    frc_result rs[] = {fx_ok("c", R, 0, 1.04), fx_ok("a", 0, 0, 1.00), fx_ok("b", R, 0, 1.02)};
    assert_order(rs, 3, (const char *const[]){"b", "a", "c"});
    /* The tolerance is relative: the same 2.9% gap ties at 100 ms too. */
    frc_result slow[] = {fx_ok("a", 0, 0, 100.0), fx_ok("b", R, 0, 102.9)};
    assert_order(slow, 2, (const char *const[]){"b", "a"});
    frc_result apart[] = {fx_ok("a", 0, 0, 100.0), fx_ok("b", R, 0, 103.5)};
    assert_order(apart, 2, (const char *const[]){"a", "b"});
}

Test(rank, failures_last_by_name)
{
    frc_result rs[] = {fx_fail("z.crash", "crashed: SIGSEGV"), fx_ok("m.slow", 0, 0, 500.0),
                       fx_fail("c.wrong", "wrong result"), fx_ok("a.fast", 0, 0, 0.001)};
    assert_order(rs, 4, (const char *const[]){"a.fast", "m.slow", "c.wrong", "z.crash"});
}

Test(rank, order_of_input_does_not_matter)
{
    const frc_result base[] = {
        fx_ok("p", 0, 0, 1.000), fx_ok("q", R, 4096, 1.010), fx_ok("r", R, 0, 1.020),
        fx_ok("s", 0, 0, 1.500), fx_fail("t", "timed out"),  fx_ok("u", R, 0, 1.540),
        fx_fail("e", "crashed"), fx_ok("v", 0, 128, 0.999),
    };
    const size_t n = sizeof base / sizeof base[0];
    frc_result ref[sizeof base / sizeof base[0]];
    memcpy(ref, base, sizeof base);
    frc_rank(ref, n);
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        frc_result rs[sizeof base / sizeof base[0]];
        memcpy(rs, base, sizeof base);
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rand() % (i + 1);
            frc_result t = rs[i];
            rs[i] = rs[j];
            rs[j] = t;
        }
        frc_rank(rs, n);
        for (size_t i = 0; i < n; i++)
            cr_assert_str_eq(rs[i].algorithm, ref[i].algorithm, "trial %d position %zu", trial, i);
    }
    /* Worked by hand: v (0.999) is fastest and ties with p, q, r; of those r and q are
     * REPRODUCIBLE and r has no workspace. Then q. Then p before the faster v (workspace 0 <
     * 128). Then u (REPRODUCIBLE) ties with the faster s. Failures by name. */
    const char *want[] = {"r", "q", "p", "v", "u", "s", "e", "t"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(ref[i].algorithm, want[i], "position %zu", i);
}
