/* SPDX-License-Identifier: MIT */
/*
 * sqdiff-httpd: wires the modules together and runs the loop. Nothing else
 * lives here: arguments and config (cli.c), logging (log.c), listening
 * sockets (systemd or --listen), the front end (frontend.c), the sandbox
 * (sandbox.c), readiness, the loop (loop.c).
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "cli.h"
#include "frontend.h"
#include "log.h"
#include "loop.h"
#include "sandbox.h"
#include "server.h"

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    Frontend *f = userdata;

    sd_notify(0, "STOPPING=1");
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_HTTPD_STOPPING }, "Received %s, answering what is pending and stopping",
              strsignal((int)si->ssi_signo));
    frontend_shutdown(f);
    return 0;
}

static void close_fds(int *fds, size_t n) {
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

static int collect_listeners(const CliOptions *o, int **ret_fds, size_t *ret_n) {
    int n = sd_listen_fds(1), r;
    int *fds;

    if (n < 0)
        return log_error_errno(n, "Failed to get the sockets passed by systemd: %m");
    if (n == 0 && o->n_listen == 0)
        return log_error_errno(EINVAL, "No sockets to listen on: start sqdiff-httpd.socket, or pass --listen ADDR:PORT");

    fds = calloc(n > 0 ? (size_t)n : o->n_listen, sizeof(int));
    if (!fds)
        return log_error_errno(ENOMEM, "Out of memory");
    if (n > 0) {
        for (int i = 0; i < n; i++)
            fds[i] = SD_LISTEN_FDS_START + i;
        *ret_n = (size_t)n;
    } else {
        for (size_t i = 0; i < o->n_listen; i++) {
            r = server_listen(o->listen[i], &fds[i]);
            if (r < 0) {
                close_fds(fds, i);
                free(fds);
                return log_error_errno(r, "Failed to listen on \"%s\": %m", o->listen[i]);
            }
        }
        *ret_n = o->n_listen;
    }
    *ret_fds = fds;
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

static int run(CliOptions *o) {
    _cleanup_(loop_freep) Loop *loop = NULL;
    _cleanup_(frontend_freep) Frontend *frontend = NULL;
    _cleanup_free_ int *fds = NULL;
    size_t n_fds = 0;
    sd_event *e;
    char status[256];
    int r;

    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_HTTPD_STARTED }, "sqdiff-httpd %s starting in %s mode",
              SQDIFF_VERSION, sq_mode_to_string(o->config.mode));

    r = collect_listeners(o, &fds, &n_fds);
    if (r < 0)
        return r;

    o->config.max_connections = config_max_connections(&o->config, raise_nofile_limit());
    signal(SIGPIPE, SIG_IGN);

    r = loop_new(&loop);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the event loop: %m");
    e = loop_event(loop);

    r = frontend_new(loop, &o->config, fds, n_fds, &frontend);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the front end (endpoints %s, %s; CURVE key %s): %m%s",
                               o->config.endpoint[ENDPOINT_JOBS_SUM], o->config.endpoint[ENDPOINT_JOBS_SQUARE],
                               o->config.curve_secret_key ? o->config.curve_secret_key : "none",
                               r == -EAFNOSUPPORT ? " (bind tcp://*:PORT, or allow AF_NETLINK: libzmq looks up "
                                                    "interface names for any other host)" : "");

    if ((r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, frontend)) < 0 ||
        (r = sd_event_add_signal(e, NULL, SIGINT, on_signal, frontend)) < 0)
        return log_error_errno(r, "Failed to watch signals: %m");
    r = sd_event_set_watchdog(e, true);
    if (r < 0)
        return log_error_errno(r, "Failed to enable the watchdog: %m");

    r = sandbox_apply(SANDBOX_HTTPD);
    if (r < 0)
        return log_error_errno(r, "Failed to load the seccomp filter: %m");

    /* Logged before READY=1, so the journal has it before systemd's "Started". */
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_HTTPD_READY }, "Ready: %zu listening socket(s), %s mode",
              n_fds, sq_mode_to_string(o->config.mode));
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

int main(int argc, char **argv) {
    return cli_main(CLI_HTTPD, "sqdiff-httpd", argc, argv, run);
}
