/*
 * hooks.c - the PostgreSQL cluster shared by every test of the test_jobs binary (harness.h):
 * started by Criterion's PRE_ALL hook in the runner process, so the tests inherit its address;
 * removed by POST_ALL. Each test makes its own database, server and workers.
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
        fprintf(stderr, "test_jobs: cannot start PostgreSQL\n");
        exit(1);
    }
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    frt_pg_shared_stop();
}
