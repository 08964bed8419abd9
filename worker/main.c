/*
 * main.c - the `fastrun` command: one table of commands (name, handler, one-line help) and the
 * dispatcher. The first thing it does is the OpenBLAS core decision (blas_env.c), which may
 * re-execute the program before anything is measured.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *args;
    const char *help;
} command;

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"run", frw_cmd_run, "MODEL.json [options]",
     "run a model, choosing each operator's algorithm by heuristic, cache or profiling"},
    {"info", frw_cmd_info, "[--threads N] [--json]",
     "this machine's category: versions, CPU, ISA, threads, BLAS and its core, category id"},
    {"algos", frw_cmd_algos, "[--json]",
     "the algorithm registry: names, attributes, weight preprocessing, what each is for"},
    {"verify", frw_cmd_verify, "MODEL.json... [--threads N]",
     "check every applicable algorithm of every operator against the naive reference"},
    {"bench", frw_cmd_bench, "MODEL.json [--threads N] [--weight-preprocess] [--json]",
     "time every applicable algorithm of every operator, with GFLOP/s and speed-ups"},
    {"cache", frw_cmd_cache,
     "show FILE | merge OUT IN... | diff A B | push FILE --server URL | pull --server URL -o FILE",
     "inspect, merge and compare cache files"},
    {"help", cmd_help, "", "this list; 'fastrun COMMAND --help' for one command"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *f)
{
    fprintf(f, "usage: fastrun COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-7s %s\n          %s\n", commands[i].name, commands[i].args,
                commands[i].help);
    fprintf(f, "\nexit status: 0 ok, 1 failure, 2 usage error\n");
}

static int cmd_help(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) return frw_cli_usage("help", "unexpected argument '%s'", argv[1]);
    print_help(stdout);
    return FRW_EXIT_OK;
}

int main(int argc, char **argv)
{
    frw_blas_env_apply(argv);
    if (argc < 2) {
        print_help(stderr);
        return FRW_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) name = "help";
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) != 0) continue;
        /* `fastrun CMD --help`: run prints its own option list; the others have one line. */
        bool help = argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0);
        if (help && strcmp(name, "run") != 0) {
            printf("usage: fastrun %s %s\n  %s\n", commands[i].name, commands[i].args,
                   commands[i].help);
            return FRW_EXIT_OK;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "fastrun: unknown command '%s'\n", argv[1]);
    print_help(stderr);
    return FRW_EXIT_USAGE;
}
