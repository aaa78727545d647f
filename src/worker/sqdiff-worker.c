/* SPDX-License-Identifier: MIT */
/* sqdiff-worker: wires arguments, logging, the worker, the sandbox, readiness and the loop. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cli.h"
#include "log.h"
#include "reload.h"
#include "sandbox.h"
#include "transport.h"
#include "worker.h"

#define STATUS_INTERVAL_USEC (1000 * 1000)

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    Worker *w = userdata;
    char status[256];

    sd_notify(0, "STOPPING=1");
    worker_status(w, status, sizeof(status));
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_WORKER_STOPPING, .kind = worker_kind_name(w) },
              "Received %s, stopping (%s)", strsignal((int)si->ssi_signo), status);
    return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_status(sd_event_source *s, uint64_t usec, void *userdata) {
    char status[256];

    worker_status(userdata, status, sizeof(status));
    sd_notifyf(0, "STATUS=%s", status);
    return sd_event_source_set_time(s, usec + STATUS_INTERVAL_USEC);
}

static int check(const CliOptions *o, char *err, size_t errlen);

static void status_of(char *buf, size_t size, void *userdata) {
    worker_status(userdata, buf, size);
}

static int run(CliOptions *o) {
    _cleanup_(sd_event_unrefp) sd_event *e = NULL;
    _cleanup_(worker_freep) Worker *w = NULL;
    _cleanup_(sd_event_source_disable_unrefp) sd_event_source *status_timer = NULL;
    const char *kind = wire_kind_to_string(o->kind);
    const char *jobs = o->config.endpoint[o->kind == WIRE_SUM ? ENDPOINT_JOBS_SUM : ENDPOINT_JOBS_SQUARE];
    char endpoint[CONFIG_ENDPOINT_MAX];
    bool inet = false;
    char status[256];
    ReloadHooks hooks;
    int r;

    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_WORKER_STARTED, .kind = kind },
              "sqdiff-worker %s (%s) starting", SQDIFF_VERSION, kind);

    for (const char *cursor = jobs; config_endpoint_next(&cursor, endpoint);)
        inet = inet || sandbox_endpoint_needs_inet(endpoint);

    r = sd_event_new(&e);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the event loop: %m");
    /* Before ZeroMQ's sockets and threads exist: no peer is ever read unfiltered. */
    r = sandbox_apply(SANDBOX_WORKER, SANDBOX_SETUP, inet);
    if (r < 0)
        return log_error_errno(r, "Failed to load the set-up seccomp filter: %m");
    if (r == SANDBOX_DISABLED)
        log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_SANDBOX_OFF },
                  "Running without seccomp filters: SQDIFF_SECCOMP=0 is set");
    r = worker_new(e, &o->config, o->kind, &w);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the %s worker (endpoints %s; CURVE keys %s, %s): %m", kind,
                               o->config.endpoint[o->kind == WIRE_SUM ? ENDPOINT_JOBS_SUM : ENDPOINT_JOBS_SQUARE],
                               o->config.curve_secret_key ? o->config.curve_secret_key : "none",
                               o->config.curve_server_public_key ? o->config.curve_server_public_key : "none");

    /* A reload can change nothing a worker uses without a restart, but it says what changed. */
    hooks = (ReloadHooks){ .prog = CLI_WORKER, .options = o, .check = check, .status = status_of, .userdata = w };
    if ((r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, w)) < 0 ||
        (r = sd_event_add_signal(e, NULL, SIGINT, on_signal, w)) < 0 || (r = reload_watch(e, &hooks)) < 0)
        return log_error_errno(r, "Failed to watch signals: %m");
    r = sd_event_add_time_relative(e, &status_timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC, 0, on_status, w);
    if (r >= 0)
        r = sd_event_source_set_enabled(status_timer, SD_EVENT_ON);
    if (r < 0)
        return log_error_errno(r, "Failed to add the status timer: %m");
    r = sd_event_set_watchdog(e, true);
    if (r < 0)
        return log_error_errno(r, "Failed to enable the watchdog: %m");

    r = sandbox_apply(SANDBOX_WORKER, SANDBOX_RUNTIME, inet);
    if (r < 0)
        return log_error_errno(r, "Failed to load the seccomp filter: %m");

    /* Logged before READY=1, so the journal has it before systemd's "Started". */
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_WORKER_READY, .kind = kind },
              "Ready: %s worker taking jobs from %s", kind, jobs);
    worker_status(w, status, sizeof(status));
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);

    r = sd_event_loop(e);
    if (r < 0)
        return log_error_errno(r, "Event loop failed: %m");
    return 0;
}

/* Before start and with --check: the transport's key files and allow-list, as set-up will read them. */
static int check(const CliOptions *o, char *err, size_t errlen) {
    return transport_check(&o->config, true, err, errlen);
}

int main(int argc, char **argv) {
    return cli_main(CLI_WORKER, "sqdiff-worker", argc, argv, run, check);
}
