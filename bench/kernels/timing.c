/*
 * timing.c - the sampling loop every implementation is timed with, the same rule as fastrun's
 * profiler (worker/profiler.c): one warm-up run, then timed runs until both a minimum time and
 * a minimum count are reached (or a cap), the median reported. Only the clock reads surround
 * run(); the samples array is the caller's, so nothing is allocated in the timed region.
 */
#include "kbench.h"

#include <stdlib.h>
#include <time.h>

double kb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void kb_time_loop(const kb_timing *t, void (*run)(void *arg), void *arg, double *samples,
                  kb_time *out)
{
    run(arg); /* warm-up: caches, page faults of the output, the thread pool */
    double total = 0;
    int n = 0;
    while (n < t->max_samples) {
        double t0 = kb_now_ms();
        run(arg);
        samples[n] = kb_now_ms() - t0;
        total += samples[n++];
        if (total >= t->min_ms && n >= t->min_samples) break;
        if (total >= t->max_ms) break;
    }
    qsort(samples, (size_t)n, sizeof *samples, cmp_double);
    out->samples = n;
    out->min_ms = samples[0];
    out->median_ms = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
}
