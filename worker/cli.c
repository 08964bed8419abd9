/*
 * cli.c - argument helpers shared by the fastrun commands: usage and failure messages in one
 * form, strict integer parsing (strtoll with every check; atoi is banned), and JSON printing.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int frw_cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fastrun %s: %s\n(see 'fastrun help')\n", cmd, msg);
    return FRW_EXIT_USAGE;
}

int frw_cli_fail(const char *cmd, fr_err e, const fr_diag *d)
{
    fprintf(stderr, "fastrun %s: %s\n", cmd, d && d->msg[0] ? d->msg : fr_err_message(e));
    return FRW_EXIT_FAIL;
}

int frw_cli_bad_option(const char *cmd, char **argv, int c)
{
    const char *text = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':') return frw_cli_usage(cmd, "option '%s' needs a value", text);
    if (optopt && optopt < 256 && text[0] == '-' && text[1] != '-')
        return frw_cli_usage(cmd, "unknown option '-%c'", optopt);
    return frw_cli_usage(cmd, "unknown option '%s'", text);
}

bool frw_cli_int(const char *cmd, const char *opt, const char *text, long long min, long long max,
                 long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) || *end != '\0' ||
        errno == ERANGE || v < min || v > max) {
        frw_cli_usage(cmd, "%s: '%s' is not an integer in [%lld, %lld]", opt, text, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool frw_cli_threads(const char *cmd, const char *text)
{
    long long n;
    if (!frw_cli_int(cmd, "--threads", text, 1, 1024, &n)) return false;
    frk_set_threads((int)n);
    return true;
}

void frw_cli_print_json(const void *json)
{
    char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
    }
    free(text);
}
