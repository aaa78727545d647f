/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Command line of both daemons: --config FILE, --check, --runtime-dir DIR,
 * --help, --version, --KEY=VALUE for every setting, plus per-program options
 * (sqdiff-httpd: --listen, --listen-tls and --metrics-listen ADDR:PORT; sqdiff-worker: --kind sum|square).
 * Reads the config file, applies the overrides and finishes the Config.
 * Errors are printed to stderr here, since nothing else can report them yet.
 */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "wire.h"

typedef enum CliProgram { CLI_HTTPD, CLI_WORKER } CliProgram;

/* The exit status of a configuration error (sysexits.h's EX_CONFIG): the units do not restart on it. */
#define CLI_EXIT_CONFIG 78

typedef struct CliOptions {
    Config config;
    bool check;
    const char *config_path;            /* with --check: the file read (or that would have been) */
    char error[CONFIG_ERROR_MAX + 256]; /* why cli_parse() or the check refused, for the log */
    char **listen;                      /* httpd: --listen values */
    size_t n_listen;
    char **metrics_listen; /* httpd: --metrics-listen values */
    size_t n_metrics_listen;
    char **listen_tls; /* httpd: --listen-tls values */
    size_t n_listen_tls;
    WireKind kind; /* worker: _WIRE_KIND_INVALID if not given */
    int argc;      /* the command line, for a reload (reload.h) */
    char **argv;
} CliOptions;

/*
 * Fills *o from the command line and the config file. Returns 0 to go on, 1 when the program
 * should exit successfully now (--help, --version, --check), <0 on error with o->error saying
 * why (empty for out of memory). *o is written whatever the result: call cli_done() on it in
 * every case.
 */
int cli_parse(CliProgram prog, int argc, char **argv, CliOptions *o);
void cli_done(CliOptions *o);

/*
 * The whole main() of a daemon: blocks SIGTERM and SIGINT first thing (the event loop
 * takes them through signalfd), sets up logging as ident, parses the command line, calls
 * check() (the program's own checks beyond the file, key files say: <0 refused, >0 a note,
 * each in err) and then run(); returns the process's exit status. With --check it stops
 * after check(), saying "configuration OK". A command line or configuration refused is
 * logged at err (SQ_MSG_CONFIG_REFUSED) and exits CLI_EXIT_CONFIG; run() failing exits 1.
 */
int cli_main(CliProgram prog, const char *ident, int argc, char **argv, int (*run)(CliOptions *o),
             int (*check)(const CliOptions *o, char *err, size_t errlen));
