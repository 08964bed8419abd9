/*
 * cmd_run.c - `fastrun run MODEL.json [options]`: option handling and the cache file around the
 * runner (run.c), exactly as DESIGN.md's table says:
 *   no flag                         heuristic for every operator
 *   --fast-run | --full-run         profile every operator in memory (full also profiles NAIVE)
 *   either + --fast-run-algo-policy FILE
 *                                   FILE loaded (missing = empty) under its lock for the whole
 *                                   run; only operators missing for this category are profiled
 *                                   (resume); FILE saved after every newly profiled operator
 *   --fast-run-algo-policy FILE     FILE must exist; hits use the cached ranking, misses the
 *                                   heuristic (reported); never profiles; FILE never rewritten
 *   --fast-run --full-run           usage error
 * A corrupt cache file is an error naming the file and the position; it is left untouched.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

typedef struct {
    bool fast, full;
    const char *policy_file; /* --fast-run-algo-policy */
    const char *report_file; /* --report */
    bool verbose;
    const char *model;
    frw_run_opts run;
    frw_client remote; /* --cache-url, --token, --upload (worker/client.c) */
} run_args;

static void print_run_help(void)
{
    printf("usage: fastrun run MODEL.json [options]\n"
           "  --fast-run                      profile operators (skipping NAIVE algorithms)\n"
           "  --full-run                      profile operators, NAIVE algorithms included\n"
           "  --fast-run-algo-policy FILE     cache file: with a profiling flag, load it (missing "
           "= empty),\n"
           "                                  profile only what is missing and save as it goes;\n"
           "                                  alone, read it (must exist) and never profile\n"
           "  --reproducible                  choose only REPRODUCIBLE algorithms\n"
           "  --weight-preprocess             transform weights once before running (part of "
           "the key)\n"
           "  --verbose                       explain every operator's choice and candidates\n"
           "  --threads N                     threads for every algorithm (part of the "
           "category)\n"
           "  --iterations N                  timed runs of the whole model (default 10)\n"
           "  --workspace-limit BYTES         refuse algorithms needing more workspace\n"
           "  --report FILE                   write a JSON report of the run\n"
           "  --cache-url URL                 first download this category's cache from\n"
           "                                  fastrun-server URL (kept beside the cache file)\n"
           "  --token T                       bearer token for the server; prefer setting\n"
           "                                  $FASTRUN_TOKEN: a command line is visible to\n"
           "                                  every user of this machine (ps)\n"
           "  --upload                        send what this run profiled to the server\n");
}

/* Returns -1 to go on, or an exit code. */
static int parse(int argc, char **argv, run_args *a)
{
    enum {
        FAST = 256,
        FULL,
        POLICY,
        REPRO,
        WP,
        VERBOSE,
        THREADS,
        ITERS,
        WSLIMIT,
        REPORT,
        HELP,
        CACHE_URL,
        TOKEN,
        UPLOAD
    };
    static const struct option opts[] = {
        {"fast-run", no_argument, NULL, FAST},
        {"full-run", no_argument, NULL, FULL},
        {"fast-run-algo-policy", required_argument, NULL, POLICY},
        {"reproducible", no_argument, NULL, REPRO},
        {"weight-preprocess", no_argument, NULL, WP},
        {"verbose", no_argument, NULL, VERBOSE},
        {"threads", required_argument, NULL, THREADS},
        {"iterations", required_argument, NULL, ITERS},
        {"workspace-limit", required_argument, NULL, WSLIMIT},
        {"report", required_argument, NULL, REPORT},
        {"help", no_argument, NULL, HELP},
        {"cache-url", required_argument, NULL, CACHE_URL},
        {"token", required_argument, NULL, TOKEN},
        {"upload", no_argument, NULL, UPLOAD},
        {NULL, 0, NULL, 0},
    };
    long long v;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case FAST:
            a->fast = true;
            break;
        case FULL:
            a->full = true;
            break;
        case POLICY:
            a->policy_file = optarg;
            break;
        case REPRO:
            a->run.reproducible = true;
            break;
        case WP:
            a->run.weight_preprocess = true;
            break;
        case VERBOSE:
            a->verbose = true;
            break;
        case THREADS:
            if (!frw_cli_threads("run", optarg)) return FRW_EXIT_USAGE;
            break;
        case ITERS:
            if (!frw_cli_int("run", "--iterations", optarg, 1, 1000000, &v)) return FRW_EXIT_USAGE;
            a->run.iterations = (int)v;
            break;
        case WSLIMIT:
            if (!frw_cli_int("run", "--workspace-limit", optarg, 0, (long long)1 << 50, &v))
                return FRW_EXIT_USAGE;
            a->run.workspace_limit = (uint64_t)v;
            break;
        case REPORT:
            a->report_file = optarg;
            break;
        case HELP:
            print_run_help();
            return FRW_EXIT_OK;
        case CACHE_URL:
            a->remote.url = optarg;
            break;
        case TOKEN:
            a->remote.token = optarg;
            fprintf(stderr, "fastrun run: warning: --token is visible to other users of this "
                            "machine (ps); prefer $FASTRUN_TOKEN\n");
            break;
        case UPLOAD:
            a->remote.upload = true;
            break;
        default:
            return frw_cli_bad_option("run", argv, c);
        }
    }
    if (a->fast && a->full)
        return frw_cli_usage("run", "--fast-run and --full-run exclude each other: choose one");
    if (a->remote.upload && !a->remote.url)
        return frw_cli_usage("run", "--upload needs --cache-url URL");
    if (!a->remote.token) a->remote.token = getenv("FASTRUN_TOKEN");
    if (optind >= argc) return frw_cli_usage("run", "expects a MODEL.json");
    if (optind + 1 < argc)
        return frw_cli_usage("run", "unexpected argument '%s' (one model per run)",
                             argv[optind + 1]);
    a->model = argv[optind];
    a->run.profile = a->fast || a->full;
    a->run.prof.full = a->full;
    return -1;
}

/* The sink of a run with a cache file: save the whole document after each profiled operator,
 * so a run killed half-way resumes where it stopped. */
typedef struct {
    const char *path;
    const frc_doc *doc;
} file_sink;

static fr_err save_to_file(void *ctx, const frc_category *cat, const char *key,
                           const frw_profile_log *log, fr_diag *d)
{
    (void)cat, (void)key, (void)log;
    const file_sink *s = ctx;
    return frc_file_save(s->path, s->doc, d);
}

/* Loads the cache as the mode requires and finds (or, when profiling, adds) this machine's
 * category. */
static fr_err open_cache(const run_args *a, frc_doc *doc, frc_lock *lock, frc_category **cat,
                         fr_diag *d)
{
    frc_fingerprint fp = {0};
    if (frw_fingerprint(&fp)) return fr_diag_set(d, FR_ERR_NOMEM, "out of memory");
    fr_err e = FR_ERR_OK;
    if (a->policy_file && a->run.profile) e = frc_lock_acquire(a->policy_file, lock, d);
    if (!e && a->policy_file) {
        e = frc_file_load(a->policy_file, doc, d);
        if (e == FR_ERR_NOT_FOUND && a->run.profile)
            e = FR_ERR_OK; /* missing = empty */
        else if (e == FR_ERR_NOT_FOUND)
            fr_diag_set(d, e,
                        "%s: no such cache file (without --fast-run or --full-run the cache is "
                        "only read, so it must exist)",
                        a->policy_file);
    }
    if (!e && a->run.profile) {
        e = frc_doc_category(doc, &fp, cat);
    } else if (!e && a->policy_file) {
        char id[17];
        frc_category_id(&fp, id);
        *cat = frc_doc_find_category(doc, id);
    }
    frc_fingerprint_cleanup(&fp);
    return e;
}

int frw_cmd_run(int argc, char **argv)
{
    run_args a;
    memset(&a, 0, sizeof a);
    frw_run_opts_default(&a.run);
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    fr_diag d = {{0}};
    fr_model model = {0};
    frc_doc doc;
    frc_doc_init(&doc);
    frc_lock lock = {0};
    frw_run_report rep = {0};
    file_sink sink = {a.policy_file, &doc};
    fr_err e = fr_model_load_file(a.model, &model, &d);
    if (!e) e = open_cache(&a, &doc, &lock, &a.run.cat, &d);
    a.remote.local_path = a.policy_file;
    if (!e && a.remote.url) e = frw_client_fetch(&a.remote, a.run.profile, &doc, &a.run.cat, &d);
    if (!e) {
        a.run.cache_name = a.policy_file;
        a.run.progress = isatty(STDERR_FILENO);
        if (a.policy_file && a.run.profile) {
            a.run.sink = save_to_file;
            a.run.sink_ctx = &sink;
        }
        if (a.remote.upload) frw_client_wrap_sink(&a.remote, &a.run);
        e = frw_run_model(&model, &a.run, &rep, &d);
    }
    frc_unlock(&lock);
    if (!e) {
        if (a.verbose) frw_report_print_verbose(&model, &rep, stdout);
        frw_report_print_table(&model, &rep, stdout);
        if (a.report_file) e = frw_report_write_json(&rep, a.report_file, &d);
        if (!e && a.remote.upload) e = frw_client_upload(&a.remote, a.run.cat, &d);
    }
    rc = e ? frw_cli_fail("run", e, &d) : FRW_EXIT_OK;
    frw_run_report_cleanup(&rep);
    frw_client_cleanup(&a.remote);
    frc_doc_cleanup(&doc);
    fr_model_cleanup(&model);
    return rc;
}
