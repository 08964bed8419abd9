/*
 * cli.h - internal to the `fastrun` executable: the command handlers main.c's table lists, the
 * exit codes, and the argument helpers every command uses (so every usage error reads alike
 * and names the bad argument).
 */
#ifndef FRW_CLI_H
#define FRW_CLI_H

#include <getopt.h>

#include "worker.h"

/* Exit codes of every fastrun command. */
enum { FRW_EXIT_OK = 0, FRW_EXIT_FAIL = 1, FRW_EXIT_USAGE = 2 };

/* Handlers: argv[0] is the command name; return an exit code. */
int frw_cmd_algos(int argc, char **argv);
int frw_cmd_verify(int argc, char **argv);
int frw_cmd_bench(int argc, char **argv);
int frw_cmd_info(int argc, char **argv);
int frw_cmd_run(int argc, char **argv);
int frw_cmd_cache(int argc, char **argv);
/* cmd_cache_net.c: `fastrun cache push` and `fastrun cache pull` (argv[0] is the subcommand). */
int frw_cmd_cache_push(int argc, char **argv);
int frw_cmd_cache_pull(int argc, char **argv);

/* Prints "fastrun CMD: <message>" and a pointer to the help on stderr; returns FRW_EXIT_USAGE. */
int frw_cli_usage(const char *cmd, const char *fmt, ...) FR_PRINTF(2, 3);
/* Prints "fastrun CMD: <diag or error message>" on stderr; returns FRW_EXIT_FAIL. */
int frw_cli_fail(const char *cmd, fr_err e, const fr_diag *d);
/* For getopt_long's '?' and ':' results (optstring must start with ':'): names the option. */
int frw_cli_bad_option(const char *cmd, char **argv, int c);
/* Parses a whole decimal integer in [min, max] with strtoll; false (after a usage message
 * naming opt and text) otherwise. */
bool frw_cli_int(const char *cmd, const char *opt, const char *text, long long min, long long max,
                 long long *out);
/* --threads N: parses and applies (frk_set_threads). */
bool frw_cli_threads(const char *cmd, const char *text);

/* Prints a JSON value (borrowed) to stdout, indented, with a final newline. */
void frw_cli_print_json(const void *json);

#endif
