/*
 * error.c - the expansions of FR_ERRORS (name, JSON code, message, HTTP status) and the
 * diagnostic helpers. The list in fr_common.h is the only place an error is defined.
 */
#include "fr_common.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const err_names[] = {
#define X(name, msg, status) #name,
    FR_ERRORS(X)
#undef X
};

static const char *const err_messages[] = {
#define X(name, msg, status) msg,
    FR_ERRORS(X)
#undef X
};

static const int err_status[] = {
#define X(name, msg, status) status,
    FR_ERRORS(X)
#undef X
};

/* Lower-case copies of the names, built once at first use of fr_err_code. */
static char err_codes[FR_ERR__COUNT][32];

static int in_range(fr_err e)
{
    return (int)e >= 0 && e < FR_ERR__COUNT;
}

const char *fr_err_name(fr_err e)
{
    return in_range(e) ? err_names[e] : "INTERNAL";
}

const char *fr_err_code(fr_err e)
{
    if (!in_range(e)) e = FR_ERR_INTERNAL;
    char *code = err_codes[e];
    if (!code[0]) {
        /* Idempotent: two threads racing here write the same bytes. */
        const char *name = err_names[e];
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof err_codes[e]; i++)
            code[i] = (char)tolower((unsigned char)name[i]);
        code[i] = '\0';
    }
    return code;
}

const char *fr_err_message(fr_err e)
{
    return in_range(e) ? err_messages[e] : "internal error";
}

int fr_err_http_status(fr_err e)
{
    return in_range(e) ? err_status[e] : 500;
}

fr_err fr_diag_set(fr_diag *d, fr_err e, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return e;
}

void fr_diag_prefix(fr_diag *d, const char *fmt, ...)
{
    if (!d) return;
    char prefix[sizeof d->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof d->msg];
    memcpy(old, d->msg, sizeof old);
    snprintf(d->msg, sizeof d->msg, "%s: %s", prefix, old);
}
