/*
 * daemon.h - internal to the fastrun-worker program (daemon.c: options, signals, registration,
 * the claim loop; daemon_job.c: one claimed job, with its heartbeat thread).
 */
#ifndef FRW_DAEMON_H
#define FRW_DAEMON_H

#include <stdatomic.h>

#include "jobs_client.h"

typedef struct {
    const char *server, *pool; /* borrowed from argv */
    char token[160];           /* --token or $FASTRUN_TOKEN */
    char name[129], host[256];
    int claim_wait_s;
    atomic_bool stop; /* SIGTERM or SIGINT arrived */
    int64_t id;       /* from the registration */
    char category[17];
    frw_api api; /* the main thread's connection */
} frw_daemon;

/* "fastrun-worker[NAME]: ..." on stderr, one line. */
void frw_daemon_log(const frw_daemon *dm, const char *fmt, ...) FR_PRINTF(2, 3);

/* Runs one claimed job to its end: profiles each pending operator (the same profiler as
 * `fastrun run`, which holds the machine-wide measurement lock while it measures) and reports
 * it at once, heartbeating from a second thread meanwhile; then completes the job, or hands it
 * back when dm->stop was set (after finishing the operator in progress), or reports the
 * attempt failed, or abandons it when the server says the lease was lost (fenced). Returns
 * FR_ERR_UNAUTHORIZED when the token stopped working (the daemon exits), else FR_ERR_OK. */
FR_WUR fr_err frw_daemon_run_job(frw_daemon *dm, frw_job *job);

#endif
