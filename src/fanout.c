/* SPDX-License-Identifier: MIT */
/*
 * ZeroMQ signals readiness through ZMQ_FD, which is edge-like: it only says
 * that the socket's state may have changed, and is reset whenever the socket
 * processes its commands. So:
 *   - the reply socket is drained until EAGAIN on every wake-up;
 *   - a job socket's fd is watched only to learn when a worker connects
 *     (ZMQ_EVENTS gains ZMQ_POLLOUT); then its queue is flushed;
 *   - jobs are sent only by fanout_flush(), which sends until a kind's queue is
 *     empty or ZeroMQ refuses (EAGAIN); the next notification resumes it.
 * Jobs are sent with ZMQ_DONTWAIT, so the loop never blocks.
 *
 * Every kind's queue holds, in order, the jobs submitted since the last one
 * sent to that kind (minus cancelled ones), so two queues of the same length
 * hold the same jobs, and one message serves both kinds.
 */

#include "fanout.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zmq-util.h"

struct Fanout {
    void *ctx;
    void *jobs[_WIRE_KIND_MAX];
    void *results;
    sd_event_source *results_source, *jobs_source[_WIRE_KIND_MAX], *first_drain;
    sd_event_source *monitor_source[_WIRE_KIND_MAX];
    void *monitor[_WIRE_KIND_MAX]; /* ZMQ_PAIR: disconnect events of jobs[k] */
    struct {
        uint64_t id;
        size_t len;
    } big[_WIRE_KIND_MAX][FANOUT_BIG_INFLIGHT_MAX]; /* big jobs out, awaiting their replies */
    size_t n_big[_WIRE_KIND_MAX], big_bytes[_WIRE_KIND_MAX];
    uint64_t jobs_sent[_WIRE_KIND_MAX], batches_sent[_WIRE_KIND_MAX];
    FanoutJob *head[_WIRE_KIND_MAX], *tail[_WIRE_KIND_MAX];
    size_t queued[_WIRE_KIND_MAX], queued_bytes[_WIRE_KIND_MAX];
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

static void unlink_job(Fanout *f, FanoutJob *job, int k) {
    if (job->prev[k])
        job->prev[k]->next[k] = job->next[k];
    else
        f->head[k] = job->next[k];
    if (job->next[k])
        job->next[k]->prev[k] = job->prev[k];
    else
        f->tail[k] = job->prev[k];
    job->prev[k] = job->next[k] = NULL;
    job->unsent &= (uint8_t) ~(1u << k);
    f->queued[k]--;
    f->queued_bytes[k] -= job->len;
    if (job->unsent == 0 && job->taken) {
        free(job->taken);
        job->taken = NULL;
        job->data = NULL;
    }
}

static void link_job(Fanout *f, FanoutJob *job, int k) {
    job->next[k] = NULL;
    job->prev[k] = f->tail[k];
    if (f->tail[k])
        f->tail[k]->next[k] = job;
    else
        f->head[k] = job;
    f->tail[k] = job;
    job->unsent |= (uint8_t)(1u << k);
    f->queued[k]++;
    f->queued_bytes[k] += job->len;
}

/* How many jobs from the head of kind k's queue go into the next message, and its size. */
static size_t batch_extent(Fanout *f, int k, size_t *ret_size) {
    size_t n = 0, size = 1; /* '[' */

    for (FanoutJob *job = f->head[k]; job && n < WIRE_BATCH_MAX; job = job->next[k]) {
        if (n > 0 && size + job->len + 1 > WIRE_BATCH_BYTES)
            break;
        size += job->len + 1; /* the job, then ',' or ']' */
        n++;
    }
    *ret_size = size;
    return n;
}

static int build_batch(Fanout *f, int k, size_t n, size_t size, zmq_msg_t *ret) {
    FanoutJob *job = f->head[k];
    char *p;

    if (zmq_msg_init_size(ret, size) < 0)
        return negative_errno();
    p = zmq_msg_data(ret);
    *p++ = '[';
    for (size_t i = 0; i < n; i++, job = job->next[k]) {
        memcpy(p, job->data, job->len);
        p += job->len;
        *p++ = i + 1 < n ? ',' : ']';
    }
    return 0;
}

/* Whether kind k may take its next job now: big ones wait while too many are out. */
static bool big_allowed(Fanout *f, int k) {
    const FanoutJob *job = f->head[k];

    return job->len <= WIRE_BATCH_BYTES || f->n_big[k] == 0 ||
           (f->n_big[k] < FANOUT_BIG_INFLIGHT_MAX && f->big_bytes[k] + job->len <= FANOUT_BIG_INFLIGHT_BYTES);
}

static void big_sent(Fanout *f, int k, const FanoutJob *job) {
    if (job->len <= WIRE_BATCH_BYTES)
        return;
    f->big[k][f->n_big[k]].id = job->id;
    f->big[k][f->n_big[k]].len = job->len;
    f->n_big[k]++;
    f->big_bytes[k] += job->len;
}

void fanout_settle(Fanout *f, WireKind k, uint64_t id) {
    for (size_t i = 0; i < f->n_big[k]; i++)
        if (f->big[k][i].id == id) {
            f->big_bytes[k] -= f->big[k][i].len;
            f->big[k][i] = f->big[k][--f->n_big[k]];
            return;
        }
}

void fanout_flush(Fanout *f) {
    bool blocked[_WIRE_KIND_MAX] = { false };

    for (;;) {
        bool same[_WIRE_KIND_MAX] = { false };
        zmq_msg_t batch;
        size_t n, size;
        int k = 0;

        for (int i = 0; i < _WIRE_KIND_MAX; i++)
            if (!blocked[i] && f->head[i] && !big_allowed(f, i))
                blocked[i] = true;
        while (k < _WIRE_KIND_MAX && (blocked[k] || !f->head[k]))
            k++;
        if (k == _WIRE_KIND_MAX)
            return;
        n = batch_extent(f, k, &size);
        if (build_batch(f, k, n, size, &batch) < 0)
            return; /* out of memory: the jobs stay queued, their timeout bounds the wait */
        for (int i = k; i < _WIRE_KIND_MAX; i++)
            same[i] = !blocked[i] && f->head[i] == f->head[k] && f->queued[i] == f->queued[k];

        for (int i = k; i < _WIRE_KIND_MAX; i++) {
            zmq_msg_t copy;

            if (!same[i])
                continue;
            zmq_msg_init(&copy);
            zmq_msg_copy(&copy, &batch); /* shares the bytes */
            if (zmq_msg_send(&copy, f->jobs[i], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&copy);
                blocked[i] = true;
                continue;
            }
            if (n == 1)
                big_sent(f, i, f->head[i]);
            f->jobs_sent[i] += n;
            f->batches_sent[i]++;
            for (size_t j = 0; j < n; j++)
                unlink_job(f, f->head[i], i);
        }
        zmq_msg_close(&batch);
    }
}

static int on_results(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    drain(userdata);
    return 0;
}

static int on_first_drain(sd_event_source *s, void *userdata) {
    drain(userdata);
    return 0;
}

static int on_jobs_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Fanout *f = userdata;

    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        int events = 0;
        size_t len = sizeof(events);

        if (f->jobs_source[k] != s)
            continue;
        /* Reading ZMQ_EVENTS processes pending commands (a worker connecting) and re-arms the fd. */
        if (zmq_getsockopt(f->jobs[k], ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLOUT))
            fanout_flush(f);
    }
    return 0;
}

/* A worker of the kind left: whatever ZeroMQ held for it is gone, big jobs included. */
static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Fanout *f = userdata;

    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        if (f->monitor_source[k] != s)
            continue;
        for (;;) {
            zmq_msg_t msg;
            uint16_t event = 0;
            int more;

            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, f->monitor[k], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            more = zmq_msg_more(&msg);
            if (zmq_msg_size(&msg) >= sizeof(event))
                memcpy(&event, zmq_msg_data(&msg), sizeof(event));
            zmq_msg_close(&msg);
            if (more) { /* the second frame names the endpoint */
                zmq_msg_init(&msg);
                (void)zmq_msg_recv(&msg, f->monitor[k], ZMQ_DONTWAIT);
                zmq_msg_close(&msg);
            }
            if (event == ZMQ_EVENT_DISCONNECTED) {
                f->n_big[k] = 0;
                f->big_bytes[k] = 0;
            }
        }
    }
    return 0;
}

static int watch(sd_event *e, void *sock, sd_event_source **ret, sd_event_io_handler_t cb, void *userdata) {
    int fd, r;

    r = zmqutil_get_fd(sock, &fd);
    if (r < 0)
        return r;
    return sd_event_add_io(e, ret, fd, EPOLLIN, cb, userdata);
}

static int monitor(sd_event *e, Fanout *f, int k) {
    char address[64];
    int r;

    snprintf(address, sizeof(address), "inproc://sqdiff-jobs-monitor-%d", k);
    if (zmq_socket_monitor(f->jobs[k], address, ZMQ_EVENT_DISCONNECTED) < 0)
        return negative_errno();
    f->monitor[k] = zmq_socket(f->ctx, ZMQ_PAIR);
    if (!f->monitor[k])
        return negative_errno();
    r = zmqutil_set_int(f->monitor[k], ZMQ_LINGER, 0);
    if (r < 0)
        return r;
    if (zmq_connect(f->monitor[k], address) < 0)
        return negative_errno();
    r = watch(e, f->monitor[k], &f->monitor_source[k], on_monitor, f);
    if (r < 0)
        return r;
    (void)on_monitor(f->monitor_source[k], -1, 0, f); /* ZMQ_FD only signals changes: read once now */
    return 0;
}

int fanout_new(sd_event *e, const Config *c, fanout_reply_fn on_reply, void *userdata, Fanout **ret) {
    _cleanup_(fanout_freep) Fanout *f = calloc(1, sizeof(*f));
    static const ConfigEndpoint job_endpoint[_WIRE_KIND_MAX] = {
        [WIRE_SUM] = ENDPOINT_JOBS_SUM,
        [WIRE_SQUARE] = ENDPOINT_JOBS_SQUARE,
    };
    int64_t maxmsg = WIRE_REPLY_MESSAGE_MAX;
    int r;

    if (!f)
        return -ENOMEM;
    f->on_reply = on_reply;
    f->userdata = userdata;
    f->ctx = zmq_ctx_new();
    if (!f->ctx)
        return negative_errno();

    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        f->jobs[k] = zmq_socket(f->ctx, ZMQ_PUSH);
        if (!f->jobs[k])
            return negative_errno();
        /* Few messages per worker: what ZeroMQ holds cannot be cancelled when its request times
         * out. Jobs beyond wait in this module's queue, where a timeout does cancel them. */
        r = zmqutil_set_int(f->jobs[k], ZMQ_SNDHWM, FANOUT_SNDHWM);
        if (r < 0)
            return r;
        r = zmqutil_set_int(f->jobs[k], ZMQ_LINGER, 0);
        if (r < 0)
            return r;
        if (zmq_bind(f->jobs[k], c->endpoint[job_endpoint[k]]) < 0)
            return negative_errno();
        r = watch(e, f->jobs[k], &f->jobs_source[k], on_jobs_socket, f);
        if (r < 0)
            return r;
        r = monitor(e, f, k);
        if (r < 0)
            return r;
    }

    f->results = zmq_socket(f->ctx, ZMQ_PULL);
    if (!f->results)
        return negative_errno();
    if (zmq_setsockopt(f->results, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
        return negative_errno();
    r = zmqutil_set_int(f->results, ZMQ_LINGER, 0);
    if (r < 0)
        return r;
    /* Two replies per pending request may be in flight, and a burst must queue, not be lost. */
    r = zmqutil_set_int(f->results, ZMQ_RCVHWM,
                        c->max_pending > INT32_MAX / 4 ? INT32_MAX / 2 : (int)c->max_pending * 2 + 1000);
    if (r < 0)
        return r;
    if (zmq_bind(f->results, c->endpoint[ENDPOINT_RESULTS]) < 0)
        return negative_errno();
    r = watch(e, f->results, &f->results_source, on_results, f);
    if (r < 0)
        return r;
    /*
     * ZMQ_FD only signals changes: read once, so that ZeroMQ knows we wait for more. Not
     * now but from the loop, once the caller has loaded its seccomp filter: replies are
     * untrusted bytes.
     */
    r = sd_event_add_defer(e, &f->first_drain, on_first_drain, f);
    if (r < 0)
        return r;

    *ret = TAKE_PTR(f);
    return 0;
}

Fanout *fanout_free(Fanout *f) {
    if (!f)
        return NULL;
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        while (f->head[k])
            unlink_job(f, f->head[k], k);
    sd_event_source_disable_unref(f->first_drain);
    sd_event_source_disable_unref(f->results_source);
    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        sd_event_source_disable_unref(f->jobs_source[k]);
        sd_event_source_disable_unref(f->monitor_source[k]);
        /* Stopping a monitor sends a last event, blocking while its peer is gone: stop it
         * first, while the PAIR socket that reads it is still there. */
        if (f->jobs[k] && f->monitor[k])
            (void)zmq_socket_monitor(f->jobs[k], NULL, 0);
        if (f->monitor[k])
            zmq_close(f->monitor[k]);
        if (f->jobs[k])
            zmq_close(f->jobs[k]);
    }
    if (f->results)
        zmq_close(f->results);
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    free(f);
    return NULL;
}

void fanout_submit(Fanout *f, FanoutJob *job, uint64_t id, const char *data, size_t len, bool take) {
    *job = (FanoutJob){ .id = id, .data = data, .len = len, .taken = take ? (char *)data : NULL };
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        link_job(f, job, k);
}

void fanout_cancel(Fanout *f, FanoutJob *job) {
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        if (job->unsent & (1u << k))
            unlink_job(f, job, k);
}

size_t fanout_queued_bytes(Fanout *f) {
    size_t most = 0;

    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        if (f->queued_bytes[k] > most)
            most = f->queued_bytes[k];
    return most;
}

void fanout_stats(Fanout *f, FanoutStats *ret) {
    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        ret->jobs_sent[k] = f->jobs_sent[k];
        ret->batches_sent[k] = f->batches_sent[k];
        ret->queued_bytes[k] = f->queued_bytes[k];
        ret->big_bytes_out[k] = f->big_bytes[k];
    }
}
