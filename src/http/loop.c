/* SPDX-License-Identifier: MIT */
/* h2o evloop outside, sd-event inside. */

#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>

struct Loop {
    h2o_evloop_t *h2o;
    sd_event *event;
    h2o_socket_t *event_sock;
    bool keep_h2o;
    loop_pass_fn on_pass;
    void *pass_userdata;
};

static void dispatch_sd_event(Loop *l) {
    /* Each sd_event_run() dispatches one source; the last call (0) re-arms timers. */
    while (sd_event_get_state(l->event) != SD_EVENT_FINISHED && sd_event_run(l->event, 0) > 0)
        ;
}

static void on_event_fd(h2o_socket_t *sock, const char *err) {
    dispatch_sd_event(sock->data);
}

int loop_new(Loop **ret) {
    _cleanup_(loop_freep) Loop *l = calloc(1, sizeof(*l));
    int r, fd;

    if (!l)
        return -ENOMEM;
    r = sd_event_new(&l->event);
    if (r < 0)
        return r;
    l->h2o = h2o_evloop_create();
    if (!l->h2o)
        return -ENOMEM;

    /* h2o closes the fds of its sockets: give it a duplicate of sd-event's epoll fd. */
    fd = fcntl(sd_event_get_fd(l->event), F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return negative_errno();
    l->event_sock = h2o_evloop_socket_create(l->h2o, fd, H2O_SOCKET_FLAG_DONT_READ);
    l->event_sock->data = l;
    h2o_socket_read_start(l->event_sock, on_event_fd);

    *ret = TAKE_PTR(l);
    return 0;
}

Loop *loop_free(Loop *l) {
    if (!l)
        return NULL;
    if (l->event_sock)
        h2o_socket_close(l->event_sock);
    if (l->h2o && !l->keep_h2o) {
        /* Let the closed socket be reclaimed, then the loop. */
        h2o_evloop_run(l->h2o, 0);
        h2o_evloop_destroy(l->h2o);
    }
    sd_event_unref(l->event);
    free(l);
    return NULL;
}

void loop_on_pass(Loop *l, loop_pass_fn fn, void *userdata) {
    l->on_pass = fn;
    l->pass_userdata = userdata;
}

void loop_keep_h2o(Loop *l) {
    l->keep_h2o = true;
}

h2o_evloop_t *loop_h2o(Loop *l) {
    return l->h2o;
}

sd_event *loop_event(Loop *l) {
    return l->event;
}

int loop_run(Loop *l) {
    bool busy = false;
    int code = 0;

    /* Arm sd-event's timers before the first wait. */
    dispatch_sd_event(l);
    for (;;) {
        int state = sd_event_get_state(l->event);

        if (state == SD_EVENT_FINISHED)
            break;
        if (state == SD_EVENT_EXITING) {
            dispatch_sd_event(l);
            continue;
        }
        if (h2o_evloop_run(l->h2o, busy ? 0 : INT32_MAX) != 0 && errno != EINTR)
            return negative_errno();
        busy = l->on_pass && l->on_pass(l->pass_userdata);
    }
    (void)sd_event_get_exit_code(l->event, &code);
    return code;
}
