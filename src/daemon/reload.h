/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * systemctl reload (SIGHUP): the command line and the configuration file read again, as at
 * start, with the program's own check; the settings that can change while the daemon runs
 * (config_key_live()) are taken into the configuration in force, and the program applies them
 * (apply()); every other setting that changed is named in the log as waiting for a restart,
 * its old value kept. A file or check refused is logged, and the configuration in force stays
 * as it was. RELOADING=1 (with MONOTONIC_USEC=) and READY=1 go to systemd around it, as
 * sd_notify(3) says.
 *
 * Other signals an operator may send by mistake (SIGUSR1, SIGUSR2) are logged and ignored:
 * no signal ends a daemon silently. All of them must be blocked (cli_main() does).
 */

#include <systemd/sd-event.h>

#include "cli.h"

typedef struct ReloadHooks {
    CliProgram prog;
    CliOptions *options; /* the configuration in force: its live settings are updated */
    int (*check)(const CliOptions *o, char *err, size_t errlen);
    void (*apply)(const CliOptions *o, void *userdata);     /* after a reload changed live settings */
    void (*status)(char *buf, size_t size, void *userdata); /* the STATUS= to send with READY=1 */
    void *userdata;
} ReloadHooks;

/* Watches SIGHUP (and logs SIGUSR1, SIGUSR2) in e; hooks must outlive e's loop. */
int reload_watch(sd_event *e, ReloadHooks *hooks);
