/* SPDX-License-Identifier: MIT */
/*
 * ZeroMQ signals readiness through ZMQ_FD, which is edge-like: it only says
 * that something changed, and is reset whenever the socket processes its
 * commands. So the reply socket is drained until EAGAIN on every wake-up, and
 * nothing else ever touches it. The job sockets are never polled: a send that
 * cannot be queued fails at once (ZMQ_DONTWAIT).
 */

#include "fanout.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <zmq.h>

struct Fanout {
    void *ctx;
    void *jobs[_WIRE_KIND_MAX];
    void *results;
    sd_event_source *results_source;
    fanout_reply_fn on_reply;
    void *userdata;
};

static void drain(Fanout *f) {
    for (;;) {
        zmq_msg_t msg;

        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, f->results, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return; /* EAGAIN, or ETERM at shutdown */
        }
        f->on_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), f->userdata);
        zmq_msg_close(&msg);
    }
}

static int on_results(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    drain(userdata);
    return 0;
}

static int set_int(void *sock, int option, int value) {
    return zmq_setsockopt(sock, option, &value, sizeof(value)) < 0 ? -errno : 0;
}

int fanout_new(sd_event *e, const Config *c, fanout_reply_fn on_reply, void *userdata, Fanout **ret) {
    _cleanup_(fanout_freep) Fanout *f = calloc(1, sizeof(*f));
    static const ConfigEndpoint job_endpoint[_WIRE_KIND_MAX] = {
        [WIRE_SUM] = ENDPOINT_JOBS_SUM,
        [WIRE_SQUARE] = ENDPOINT_JOBS_SQUARE,
    };
    int64_t maxmsg = FANOUT_REPLY_MAX;
    size_t fdlen;
    int fd, r;

    if (!f)
        return -ENOMEM;
    f->on_reply = on_reply;
    f->userdata = userdata;
    f->ctx = zmq_ctx_new();
    if (!f->ctx)
        return -errno;

    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        f->jobs[k] = zmq_socket(f->ctx, ZMQ_PUSH);
        if (!f->jobs[k])
            return -errno;
        /* Queue as many jobs as may be pending; the pending cap is the real bound. */
        r = set_int(f->jobs[k], ZMQ_SNDHWM, c->max_pending > INT32_MAX ? INT32_MAX : (int)c->max_pending);
        if (r < 0)
            return r;
        r = set_int(f->jobs[k], ZMQ_LINGER, 0);
        if (r < 0)
            return r;
        if (zmq_bind(f->jobs[k], c->endpoint[job_endpoint[k]]) < 0)
            return -errno;
    }

    f->results = zmq_socket(f->ctx, ZMQ_PULL);
    if (!f->results)
        return -errno;
    if (zmq_setsockopt(f->results, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
        return -errno;
    r = set_int(f->results, ZMQ_LINGER, 0);
    if (r < 0)
        return r;
    if (zmq_bind(f->results, c->endpoint[ENDPOINT_RESULTS]) < 0)
        return -errno;

    fdlen = sizeof(fd);
    if (zmq_getsockopt(f->results, ZMQ_FD, &fd, &fdlen) < 0)
        return -errno;
    r = sd_event_add_io(e, &f->results_source, fd, EPOLLIN, on_results, f);
    if (r < 0)
        return r;

    *ret = TAKE_PTR(f);
    return 0;
}

Fanout *fanout_free(Fanout *f) {
    if (!f)
        return NULL;
    sd_event_source_disable_unref(f->results_source);
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        if (f->jobs[k])
            zmq_close(f->jobs[k]);
    if (f->results)
        zmq_close(f->results);
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    free(f);
    return NULL;
}

static void free_buf(void *data, void *hint) {
    free(data);
}

int fanout_send_job(Fanout *f, char *buf, size_t len, WireKind *ret_kind) {
    zmq_msg_t msg, copy;
    int r = 0;

    if (zmq_msg_init_data(&msg, buf, len, free_buf, NULL) < 0) {
        free(buf);
        return -errno;
    }
    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &msg); /* shares the buffer, no copy of the bytes */
        if (zmq_msg_send(&copy, f->jobs[k], ZMQ_DONTWAIT) < 0) {
            r = -errno;
            zmq_msg_close(&copy);
            *ret_kind = (WireKind)k;
            break;
        }
    }
    zmq_msg_close(&msg);
    return r;
}
