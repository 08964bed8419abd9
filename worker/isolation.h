/*
 * isolation.h - internal to worker/: running a piece of measurement in a forked child under a
 * time limit (isolation.c), and the message the child sends back.
 */
#ifndef FRW_ISOLATION_H
#define FRW_ISOLATION_H

#include <fcntl.h>

#include "worker.h"

/* What a child reports: fixed size, written with one write(). */
typedef struct {
    int32_t status; /* fr_err of the child's work; FR_ERR_OK when measured */
    double median_ms, min_ms;
    double first_ms;         /* duration of the first (checked) run */
    frk_verify_result check; /* what the check against the reference found */
    int64_t samples;
    double wall_s;     /* set by the parent: how long the child lived */
    char failure[256]; /* why it failed, when status != OK */
} frw__child_msg;

typedef void (*frw__child_fn)(void *arg, frw__child_msg *msg);

/* Forks; the child calls fn(arg, msg) and sends msg back. The parent waits up to limit_s
 * seconds, then SIGKILLs the child. Returns FR_ERR_OK with the child's message (whose own
 * status may be a failure), FR_ERR_TIMEOUT or FR_ERR_CRASHED with msg->failure saying what
 * happened ("timed out after 2.0 s", "crashed: SIGSEGV"), or FR_ERR_IO if fork/pipe failed.
 * Calls frk_before_fork() first. */
FR_WUR fr_err frw__isolate(frw__child_fn fn, void *arg, double limit_s, frw__child_msg *msg);

#endif
