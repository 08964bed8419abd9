/*
 * hooks.c - the PostgreSQL cluster shared by the tests of one hardening binary: Criterion's
 * PRE_ALL hook runs in the runner process before any test process starts, so the tests inherit
 * the cluster's address (harness.h); POST_ALL removes it.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (frt_pg_shared_start() != 0) {
        fprintf(stderr, "hardening: cannot start PostgreSQL\n");
        exit(1);
    }
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    frt_pg_shared_stop();
}
