/* SPDX-License-Identifier: MIT */
/*
 * A reload reads into a fresh CliOptions exactly as start-up did (cli_parse(), then the
 * program's check), so a file that would not start does not reload either. Only then is the
 * configuration in force touched, key by key: a live key is copied over, any other key that
 * differs is only named. Values derived at start (max-connections from the descriptor limit)
 * are derived again the same way before comparing.
 */

#include "reload.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "time-util.h"

#define NAMES_MAX 512

/* Appends name to a ", "-separated list in buf. */
static void add_name(char *buf, size_t size, const char *name) {
    size_t len = strlen(buf);

    snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
}

static void reload(ReloadHooks *h) {
    CliOptions *o = h->options, fresh;
    char live[NAMES_MAX] = "", later[NAMES_MAX] = "", status[512];
    int r;

    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading the configuration",
               (uint64_t)now_usec(CLOCK_MONOTONIC));
    r = cli_parse(h->prog, o->argc, o->argv, &fresh);
    if (r == 0 && h->check)
        r = h->check(&fresh, fresh.error, sizeof(fresh.error)) < 0 ? -EINVAL : 0;
    if (r != 0) {
        log_event(LOG_ERR, &(LogFields){ .message_id = SQ_MSG_CONFIG_REFUSED, .error = r < 0 ? r : 0 },
                  "Reload refused: %s; the configuration in force stays",
                  fresh.error[0] ? fresh.error : "the command line asks for no run");
        goto done;
    }
    fresh.config.nofile_limit = o->config.nofile_limit;
    fresh.config.memory_limit = o->config.memory_limit;
    if (o->config.nofile_limit)
        fresh.config.max_connections = config_max_connections(&fresh.config, o->config.nofile_limit);
    for (size_t i = 0; i < config_n_keys(); i++) {
        if (!config_key_differs(&o->config, &fresh.config, i))
            continue;
        if (!config_key_live(i)) {
            add_name(later, sizeof(later), config_key_name(i));
            continue;
        }
        if (config_key_copy(&o->config, &fresh.config, i) < 0) {
            log_event(LOG_ERR, &(LogFields){ .message_id = SQ_MSG_CONFIG_REFUSED, .error = -ENOMEM },
                      "Reload stopped at %s: %m; the settings before it are in force", config_key_name(i));
            break;
        }
        add_name(live, sizeof(live), config_key_name(i));
    }
    if (h->apply)
        h->apply(o, h->userdata);
    if (later[0])
        log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_RELOADED, .reason = later },
                  "Changed in the configuration but not taken at a reload: %s; the values in force stay until "
                  "the next restart",
                  later);
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_RELOADED }, "Reloaded the configuration: %s%s",
              live[0] ? "now in force: " : "no setting changed that a reload takes", live);
done:
    cli_done(&fresh);
    status[0] = '\0';
    if (h->status)
        h->status(status, sizeof(status), h->userdata);
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    if (si->ssi_signo == SIGHUP)
        reload(userdata);
    else
        log_event(LOG_NOTICE, &(LogFields){ 0 }, "Received %s from pid %u, ignoring: SIGHUP reloads, SIGTERM stops",
                  strsignal((int)si->ssi_signo), si->ssi_pid);
    return 0;
}

int reload_watch(sd_event *e, ReloadHooks *hooks) {
    static const int signals[] = { SIGHUP, SIGUSR1, SIGUSR2 };

    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        int r = sd_event_add_signal(e, NULL, signals[i], on_signal, hooks);
        if (r < 0)
            return r;
    }
    return 0;
}
