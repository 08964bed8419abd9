/*
 * timing.c - the sampling loop every implementation is timed with, the same rule as fastrun's
 * profiler (worker/profiler.c): one warm-up run, then timed runs until both a minimum time and
 * a minimum count are reached (or a cap), the median reported. Only the clock reads surround
 * run(); the samples array is the caller's, so nothing is allocated in the timed region.
 *
 * Also here: how busy the rest of the machine is (/proc/stat), so that the benchmark can wait
 * for a quiet moment on a machine it shares with builds and tests.
 */
#include "kbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

static bool cpu_jiffies(unsigned long long *busy, unsigned long long *total);

static double process_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* CPUs (cores) used by other processes between the two readings, -1 if unknown or if the
 * window is too short for /proc/stat's resolution. */
static double others_cores(unsigned long long b0, unsigned long long b1, double cpu_ms,
                           double wall_ms)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0 || wall_ms < 100 || b1 < b0) return -1;
    double busy_ms = (double)(b1 - b0) * 1000.0 / (double)hz;
    double others = (busy_ms - cpu_ms) / wall_ms;
    return others > 0 ? others : 0;
}

void kb_time_loop(const kb_timing *t, void (*run)(void *arg), void *arg, double *samples,
                  kb_time *out)
{
    run(arg); /* warm-up: caches, page faults of the output, the thread pool */
    unsigned long long b0 = 0, b1 = 0, tot;
    bool stat0 = cpu_jiffies(&b0, &tot);
    double c0 = process_cpu_ms(), w0 = kb_now_ms();
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
    double c1 = process_cpu_ms(), w1 = kb_now_ms();
    bool stat1 = cpu_jiffies(&b1, &tot);
    out->others = stat0 && stat1 ? others_cores(b0, b1, c1 - c0, w1 - w0) : -1;
    double free_cpus = (double)sysconf(_SC_NPROCESSORS_ONLN) - frk_get_threads();
    qsort(samples, (size_t)n, sizeof *samples, cmp_double);
    out->samples = n;
    out->min_ms = samples[0];
    out->median_ms = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
    out->disturbed = out->median_ms > KB_DISTURBED * out->min_ms ||
                     out->others > (free_cpus > 0 ? free_cpus : 0) + KB_OTHERS_SLACK;
}

/* Busy and total jiffies of all CPUs (the first line of /proc/stat). */
static bool cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4) return false;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *busy = *total - v[3] - v[4]; /* minus idle and iowait */
    return true;
}

double kb_machine_busy(int window_ms)
{
    unsigned long long b0, t0, b1, t1;
    if (!cpu_jiffies(&b0, &t0)) return -1;
    struct timespec ts = {window_ms / 1000, (long)(window_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (!cpu_jiffies(&b1, &t1) || t1 <= t0) return -1;
    return (double)(b1 - b0) / (double)(t1 - t0);
}

double kb_wait_quiet(double threshold, double max_s, double *waited_s)
{
    double t0 = kb_now_ms(), busy;
    do {
        busy = kb_machine_busy(250);
    } while (busy >= threshold && kb_now_ms() - t0 < max_s * 1000.0);
    *waited_s = (kb_now_ms() - t0) / 1000.0;
    return busy;
}
