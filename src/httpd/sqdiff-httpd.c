/* SPDX-License-Identifier: MIT */
/*
 * sqdiff-httpd: wires the modules together and runs the loop. Nothing else
 * lives here: arguments and config (cli.c), logging (log.c), listening
 * sockets (systemd or --listen), the front end (frontend.c), the sandbox
 * (sandbox.c), readiness, the loop (loop.c).
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "cli.h"
#include "frontend.h"
#include "log.h"
#include "loop.h"
#include "reload.h"
#include "sandbox.h"
#include "transport.h"
#include "server.h"

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    Frontend *f = userdata;

    sd_notify(0, "STOPPING=1");
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_HTTPD_STOPPING },
              "Received %s, answering what is pending and stopping", strsignal((int)si->ssi_signo));
    frontend_shutdown(f);
    return 0;
}

static void close_listeners(ServerListener *ls, size_t n) {
    for (size_t i = 0; i < n; i++)
        close(ls[i].fd);
}

static void free_names(char **names) {
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* Whether the front end listens for HTTPS: set once its sockets are known, for the reloads' check. */
static bool https_listening;

static bool is_named(char **names, int i, const char *name) {
    return names && names[i] && strcmp(names[i], name) == 0;
}

/* Whether systemd passes a socket named name (the environment is left for collect_listeners()). */
static bool systemd_passes(const char *name) {
    char **names = NULL;
    int n = sd_listen_fds_with_names(0, &names);
    bool found = false;

    for (int i = 0; i < n && !found; i++)
        found = is_named(names, i, name);
    free_names(names);
    return found;
}

/*
 * The sockets from systemd (named by FileDescriptorName=: "metrics" serves /metrics, "https"
 * HTTPS, any other name is HTTP), or those of --listen and --listen-tls; plus those of
 * --metrics-listen.
 */
static int collect_listeners(const CliOptions *o, ServerListener **ret, size_t *ret_n) {
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names), r;
    size_t by_hand = n > 0 ? 0 : o->n_listen + o->n_listen_tls, total, k = 0;
    ServerListener *ls;

    if (n < 0)
        return log_error_errno(n, "Failed to get the sockets passed by systemd: %m");
    if (n == 0 && by_hand == 0) {
        free_names(names);
        return log_error_errno(EINVAL, "No sockets to listen on: start sqdiff-httpd.socket, or pass --listen "
                                       "ADDR:PORT or --listen-tls ADDR:PORT");
    }
    total = (n > 0 ? (size_t)n : by_hand) + o->n_metrics_listen;
    ls = calloc(total, sizeof(*ls));
    if (!ls) {
        free_names(names);
        return log_error_errno(ENOMEM, "Out of memory");
    }
    for (int i = 0; i < n; i++)
        ls[k++] = (ServerListener){ .fd = SD_LISTEN_FDS_START + i,
                                    .metrics = is_named(names, i, "metrics"),
                                    .tls = is_named(names, i, "https") };
    free_names(names);
    for (size_t i = 0; i < by_hand + o->n_metrics_listen; i++) {
        bool tls = i >= o->n_listen && i < by_hand, metrics = i >= by_hand;
        const char *address = metrics ? o->metrics_listen[i - by_hand]
                              : tls   ? o->listen_tls[i - o->n_listen]
                                      : o->listen[i];

        r = server_listen(address, &ls[k].fd);
        if (r < 0) {
            close_listeners(ls, k);
            free(ls);
            return log_error_errno(r, "Failed to listen on \"%s\": %m", address);
        }
        ls[k].tls = tls;
        ls[k++].metrics = metrics;
    }
    for (size_t i = 0; i < k; i++)
        https_listening = https_listening || ls[i].tls;
    *ret = ls;
    *ret_n = k;
    return 0;
}

/* Every client connection is a file descriptor: allow as many as the hard limit does. Returns the limit. */
static uint64_t raise_nofile_limit(void) {
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

/* The memory budget (config.h) against the cgroup's limit: said at start, a warning when it does not fit. */
static void log_memory_budget(const Config *c) {
    uint64_t needed = config_memory_needed(c, c->max_connections), mib = UINT64_C(1) << 20;
    bool over = needed > c->memory_limit;

    if (c->memory_limit == 0)
        return;
    log_event(over ? LOG_WARNING : LOG_INFO, &(LogFields){ .message_id = over ? SQ_MSG_MEMORY_BUDGET : NULL },
              "Memory budget: max-held-bytes %" PRIu64 " MiB + %" PRIu64 " connections x %" PRIu64 " KiB + %" PRIu64
              " MiB = %" PRIu64 " MiB, %s the cgroup's limit of %" PRIu64 " MiB",
              c->max_held_bytes / mib, c->max_connections, config_conn_bytes(c) / 1024, CONFIG_BASE_BYTES / mib,
              needed / mib, over ? "OVER" : "within", c->memory_limit / mib);
}

/* Whether any ZeroMQ endpoint of the front end needs network sockets (tcp://). */
static bool endpoints_need_inet(const Config *c) {
    char endpoint[CONFIG_ENDPOINT_MAX];

    if (c->mode != SQ_MODE_WORKERS)
        return false;
    for (int i = 0; i < _ENDPOINT_MAX; i++)
        for (const char *cursor = c->endpoint[i]; config_endpoint_next(&cursor, endpoint);)
            if (sandbox_endpoint_needs_inet(endpoint))
                return true;
    return false;
}

/* Binding an ipc:// endpoint replaces what is at its path: only ever our own socket. */
static int check_endpoints(const Config *c) {
    char endpoint[CONFIG_ENDPOINT_MAX];

    if (c->mode != SQ_MODE_WORKERS)
        return 0;
    for (int i = 0; i < _ENDPOINT_MAX; i++)
        for (const char *cursor = c->endpoint[i]; config_endpoint_next(&cursor, endpoint);) {
            int r = sandbox_check_endpoint_owner(endpoint);
            if (r < 0)
                return log_error_errno(r, "Refusing to bind \"%s\": something not ours is there: %m", endpoint);
        }
    return 0;
}

static int check(const CliOptions *o, char *err, size_t errlen);

static void apply_reload(const CliOptions *o, void *userdata) {
    frontend_reconfigure(userdata);
}

static void status_of(char *buf, size_t size, void *userdata) {
    frontend_status(userdata, buf, size);
}

static int run(CliOptions *o) {
    _cleanup_(loop_freep) Loop *loop = NULL;
    _cleanup_(frontend_freep) Frontend *frontend = NULL;
    _cleanup_free_ ServerListener *listeners = NULL;
    size_t n_listeners = 0;
    bool inet;
    sd_event *e;
    char status[FRONTEND_STATUS_MAX];
    ReloadHooks hooks;
    int r;

    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_HTTPD_STARTED }, "sqdiff-httpd %s starting in %s mode",
              SQDIFF_VERSION, sq_mode_to_string(o->config.mode));

    r = collect_listeners(o, &listeners, &n_listeners);
    if (r < 0)
        return r;

    o->config.nofile_limit = raise_nofile_limit();
    (void)cgroup_memory_limit(&o->config.memory_limit); /* 0 when none is known: then nothing to fit */
    o->config.max_connections = config_max_connections(&o->config, o->config.nofile_limit);
    log_memory_budget(&o->config);
    signal(SIGPIPE, SIG_IGN);

    r = loop_new(&loop);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the event loop: %m");
    e = loop_event(loop);

    r = check_endpoints(&o->config);
    if (r < 0)
        return r;
    inet = endpoints_need_inet(&o->config);
    /* Before ZeroMQ's sockets and threads exist: no peer is ever read unfiltered. */
    r = sandbox_apply(SANDBOX_HTTPD, SANDBOX_SETUP, inet);
    if (r < 0)
        return log_error_errno(r, "Failed to load the set-up seccomp filter: %m");
    if (r == SANDBOX_DISABLED)
        log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_SANDBOX_OFF },
                  "Running without seccomp filters: SQDIFF_SECCOMP=0 is set");

    r = frontend_new(loop, &o->config, listeners, n_listeners, &frontend);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the front end (endpoints %s, %s; CURVE key %s): %m%s",
                               o->config.endpoint[ENDPOINT_JOBS_SUM], o->config.endpoint[ENDPOINT_JOBS_SQUARE],
                               o->config.curve_secret_key ? o->config.curve_secret_key : "none",
                               r == -EAFNOSUPPORT ? " (bind tcp://*:PORT, or allow AF_NETLINK: libzmq looks up "
                                                    "interface names for any other host)"
                                                  : "");

    hooks = (ReloadHooks){ .prog = CLI_HTTPD,
                           .options = o,
                           .check = check,
                           .apply = apply_reload,
                           .status = status_of,
                           .userdata = frontend };
    if ((r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, frontend)) < 0 ||
        (r = sd_event_add_signal(e, NULL, SIGINT, on_signal, frontend)) < 0 || (r = reload_watch(e, &hooks)) < 0)
        return log_error_errno(r, "Failed to watch signals: %m");
    r = sd_event_set_watchdog(e, true);
    if (r < 0)
        return log_error_errno(r, "Failed to enable the watchdog: %m");

    r = sandbox_apply(SANDBOX_HTTPD, SANDBOX_RUNTIME, inet);
    if (r < 0)
        return log_error_errno(r, "Failed to load the seccomp filter: %m");

    /* Logged before READY=1, so the journal has it before systemd's "Started". */
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_HTTPD_READY }, "Ready: %zu listening socket(s), %s mode",
              n_listeners, sq_mode_to_string(o->config.mode));
    frontend_status(frontend, status, sizeof(status));
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);

    r = loop_run(loop);
    if (!frontend_idle(frontend))
        loop_keep_h2o(loop); /* idle keep-alive clients: the kernel closes them at exit */
    if (r < 0)
        return log_error_errno(r, "Event loop failed: %m");
    log_info("Stopped");
    return 0;
}

/* HTTPS: the certificate and key load, and match; listeners for HTTPS have them. */
static int check_tls(const CliOptions *o, char *err, size_t errlen) {
    bool https = https_listening || o->n_listen_tls > 0 || systemd_passes("https");
    _cleanup_(tls_freep) Tls *t = NULL;
    int r;

    if (!o->config.tls_certificate) {
        if (!https)
            return 0;
        snprintf(err, errlen, "HTTPS sockets (sqdiff-httpd-tls.socket, --listen-tls) need tls-certificate and tls-key");
        return -EINVAL;
    }
    r = tls_new(o->config.tls_certificate, o->config.tls_key, NULL, &t, err, errlen);
    if (r == -ENOKEY && !https) { /* --check by hand: the unit's credentials are not here */
        char why[CONFIG_ERROR_MAX];

        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "note: %s: not checked", why);
        return 1;
    }
    return r;
}

/* Before start, at a reload and with --check: the transport's key files and allow-list, and the
 * HTTPS certificate, as set-up will read them. */
static int check(const CliOptions *o, char *err, size_t errlen) {
    int r = check_tls(o, err, errlen), note = r;

    if (r < 0 || o->config.mode != SQ_MODE_WORKERS)
        return r;
    r = transport_check(&o->config, false, err, errlen);
    return r != 0 ? r : note;
}

int main(int argc, char **argv) {
    return cli_main(CLI_HTTPD, "sqdiff-httpd", argc, argv, run, check);
}
