/* SPDX-License-Identifier: MIT */
/*
 * Jobs are bounded before they are read: ZMQ_MAXMSGSIZE makes ZeroMQ refuse
 * (and disconnect) a peer whose message exceeds what max-numbers allows, and
 * at most WORKER_JOBS_HWM jobs queue here, so a worker holds at most that many
 * messages of that size. Replies that cannot be
 * queued (the front end is gone and the queue is full) are dropped: the front
 * end answers those requests through its reaper.
 *
 * Replies are batched: the replies to all the jobs read in one wake-up go back
 * as one message (or a few, each within WIRE_REPLY_MESSAGE_MAX). A job message
 * counts only as a whole: if any of it is invalid, none of its replies is sent.
 */

#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "number.h"
#include "sqmath.h"
#include "zmq-util.h"

#define MONITOR_ENDPOINT "inproc://sqdiff-worker-jobs-monitor"
#define WORKER_JOBS_HWM 64
#define WORKER_REPLIES_HWM 100000
/* Room for the replies to one whole job message, and the batch's '[' and ']'. */
#define REPLIES_OF_ONE_MESSAGE_MAX (WIRE_BATCH_MAX * (WIRE_REPLY_MAX + 1) + 2)
_Static_assert(REPLIES_OF_ONE_MESSAGE_MAX <= WIRE_REPLY_MESSAGE_MAX, "a job message's replies fit in one batch");

struct Worker {
    const Config *config;
    WireKind kind;
    void *ctx, *jobs, *results, *monitor;
    const char *jobs_endpoint;
    sd_event_source *source, *monitor_source, *first_read;
    uint64_t done, rejected, unsent;
    RateLimit rl_rejected, rl_unsent;
    char out[WIRE_REPLY_MESSAGE_MAX]; /* the batch of replies being built */
    size_t out_len, out_count;
};

static void send_replies(Worker *w) {
    if (w->out_count == 0)
        return;
    w->out[w->out_len++] = ']';
    if (zmq_send(w->results, w->out, w->out_len, ZMQ_DONTWAIT) < 0) {
        w->unsent += w->out_count;
        log_warning_ratelimited(
            &w->rl_unsent,
            &(LogFields){ .message_id = SQ_MSG_REPLY_DROPPED, .kind = wire_kind_to_string(w->kind), .error = errno },
            "Could not queue the replies to %zu jobs: %m", w->out_count);
    } else
        w->done += w->out_count;
    w->out_len = w->out_count = 0;
}

/*
 * A batch holds at most WIRE_BATCH_MAX replies, and one job message brings at most as many
 * jobs, but the replies to several messages share a batch. When it fills in the middle of a
 * message (which began at *mark), the replies to the earlier messages go now, and those to
 * this one move to the front of a new batch, where they can still be taken back.
 */
static void send_earlier_replies(Worker *w, size_t *mark_len, size_t *mark_count) {
    size_t tail_len = w->out_len - *mark_len, tail_count = w->out_count - *mark_count;

    w->out_len = *mark_len;
    w->out_count = *mark_count;
    send_replies(w); /* its ']' overwrites the ',' before this message's first reply */
    if (tail_count > 0) {
        w->out[0] = '[';
        memmove(w->out + 1, w->out + *mark_len + 1, tail_len - 1);
        w->out_len = tail_len;
        w->out_count = tail_count;
    }
    *mark_len = *mark_count = 0;
}

static void handle_message(Worker *w, const char *msg, size_t len) {
    char err[WIRE_ERROR_MAX], value[SQMATH_DECIMAL_MAX];
    size_t mark_len, mark_count, n;
    uint64_t id;
    WireReader reader;
    SqAcc acc;
    int r;

    if (sizeof(w->out) - w->out_len < REPLIES_OF_ONE_MESSAGE_MAX)
        send_replies(w);
    mark_len = w->out_len;
    mark_count = w->out_count;

    wire_reader_init(&reader, msg, len);
    while ((r = wire_read_job(&reader, w->config->max_numbers, &id, &acc, err, sizeof(err))) > 0) {
        /* mark_count is not 0 then: the reader refuses a message's job past WIRE_BATCH_MAX */
        if (w->out_count == WIRE_BATCH_MAX && mark_count > 0)
            send_earlier_replies(w, &mark_len, &mark_count);
        n = w->kind == WIRE_SUM ? sqmath_sumsq_decimal(&acc, value) : sqmath_square_decimal(&acc, value);
        w->out[w->out_len++] = w->out_count++ ? ',' : '[';
        w->out_len += wire_encode_reply(id, w->kind, value, n, w->out + w->out_len);
    }
    if (r < 0) {
        w->out_len = mark_len;
        w->out_count = mark_count;
        w->rejected++;
        log_warning_ratelimited(
            &w->rl_rejected,
            &(LogFields){ .message_id = SQ_MSG_JOB_REJECTED, .kind = wire_kind_to_string(w->kind), .reason = err },
            "Rejected a job message of %zu bytes: %s", len, err);
    }
}

static int on_jobs(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Worker *w = userdata;

    /* ZMQ_FD is edge-like: take everything there is, then answer it in one go. */
    for (;;) {
        zmq_msg_t msg;

        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, w->jobs, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        handle_message(w, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
    send_replies(w);
    return 0;
}

/*
 * ZeroMQ ends a connection that carried a message over ZMQ_MAXMSGSIZE as a protocol
 * error, and after a protocol error it does not reconnect on its own. So the jobs
 * socket is monitored, and on every disconnection it is connected anew (harmless
 * when ZeroMQ would have reconnected anyway: the front end restarting, say).
 */
static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Worker *w = userdata;

    for (;;) {
        zmq_msg_t event, endpoint;
        uint16_t id = 0;

        zmq_msg_init(&event);
        if (zmq_msg_recv(&event, w->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&event);
            return 0;
        }
        if (zmq_msg_size(&event) >= sizeof(id))
            memcpy(&id, zmq_msg_data(&event), sizeof(id));
        zmq_msg_close(&event);
        zmq_msg_init(&endpoint);
        (void)zmq_msg_recv(&endpoint, w->monitor, 0); /* the second frame comes with the first */
        zmq_msg_close(&endpoint);

        if (id == ZMQ_EVENT_DISCONNECTED) {
            (void)zmq_disconnect(w->jobs, w->jobs_endpoint);
            if (zmq_connect(w->jobs, w->jobs_endpoint) < 0)
                log_error_errno(errno, "Could not reconnect to %s: %m", w->jobs_endpoint);
        }
    }
}

static int on_first_read(sd_event_source *s, void *userdata) {
    (void)on_monitor(NULL, -1, 0, userdata);
    return on_jobs(NULL, -1, 0, userdata);
}

int worker_new(sd_event *e, const Config *c, WireKind kind, Worker **ret) {
    _cleanup_(worker_freep) Worker *w = calloc(1, sizeof(*w));
    int64_t maxmsg = (int64_t)wire_job_message_max(c->max_numbers);
    int fd, r;

    if (!w)
        return -ENOMEM;
    w->config = c;
    w->kind = kind;
    w->rl_rejected = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    w->rl_unsent = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);

    w->ctx = zmq_ctx_new();
    if (!w->ctx)
        return negative_errno();
    w->jobs = zmq_socket(w->ctx, ZMQ_PULL);
    w->results = zmq_socket(w->ctx, ZMQ_PUSH);
    if (!w->jobs || !w->results)
        return negative_errno();
    if (zmq_setsockopt(w->jobs, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
        return negative_errno();
    if ((r = zmqutil_set_int(w->jobs, ZMQ_LINGER, 0)) < 0 || (r = zmqutil_set_int(w->results, ZMQ_LINGER, 0)) < 0)
        return r;
    /* Few jobs wait here (each may be as large as the message limit): the front end queues the rest. */
    if ((r = zmqutil_set_int(w->jobs, ZMQ_RCVHWM, WORKER_JOBS_HWM)) < 0)
        return r;
    /* Replies are small and every one matters: a burst of them must queue, not be dropped. */
    if ((r = zmqutil_set_int(w->results, ZMQ_SNDHWM, WORKER_REPLIES_HWM)) < 0)
        return r;
    /* Find a (re)started front end quickly, backing off to a few attempts a second while it is away. */
    for (int i = 0; i < 2; i++) {
        void *sock = i ? w->results : w->jobs;
        if ((r = zmqutil_set_int(sock, ZMQ_RECONNECT_IVL, 10)) < 0 ||
            (r = zmqutil_set_int(sock, ZMQ_RECONNECT_IVL_MAX, 250)) < 0)
            return r;
    }
    w->jobs_endpoint = c->endpoint[kind == WIRE_SUM ? ENDPOINT_JOBS_SUM : ENDPOINT_JOBS_SQUARE];
    if (zmq_socket_monitor(w->jobs, MONITOR_ENDPOINT, ZMQ_EVENT_DISCONNECTED) < 0)
        return negative_errno();
    w->monitor = zmq_socket(w->ctx, ZMQ_PAIR);
    if (!w->monitor || zmq_connect(w->monitor, MONITOR_ENDPOINT) < 0)
        return negative_errno();
    if ((r = zmqutil_get_fd(w->monitor, &fd)) < 0)
        return r;
    r = sd_event_add_io(e, &w->monitor_source, fd, EPOLLIN, on_monitor, w);
    if (r < 0)
        return r;
    if (zmq_connect(w->jobs, w->jobs_endpoint) < 0)
        return negative_errno();
    if (zmq_connect(w->results, c->endpoint[ENDPOINT_RESULTS]) < 0)
        return negative_errno();

    if ((r = zmqutil_get_fd(w->jobs, &fd)) < 0)
        return r;
    r = sd_event_add_io(e, &w->source, fd, EPOLLIN, on_jobs, w);
    if (r < 0)
        return r;
    /*
     * ZMQ_FD only signals changes: read once, so that ZeroMQ knows we wait for more. Not
     * now but from the loop, once the caller has loaded its seccomp filter: jobs are
     * untrusted bytes.
     */
    r = sd_event_add_defer(e, &w->first_read, on_first_read, w);
    if (r < 0)
        return r;

    *ret = TAKE_PTR(w);
    return 0;
}

Worker *worker_free(Worker *w) {
    if (!w)
        return NULL;
    sd_event_source_disable_unref(w->first_read);
    sd_event_source_disable_unref(w->source);
    sd_event_source_disable_unref(w->monitor_source);
    if (w->jobs) {
        (void)zmq_socket_monitor(w->jobs, NULL, 0);
        zmq_close(w->jobs);
    }
    if (w->monitor)
        zmq_close(w->monitor);
    if (w->results)
        zmq_close(w->results);
    if (w->ctx)
        zmq_ctx_term(w->ctx);
    free(w);
    return NULL;
}

void worker_status(Worker *w, char *buf, size_t size) {
    snprintf(buf, size,
             "%s worker: %" PRIu64 " jobs done, %" PRIu64 " job messages rejected, %" PRIu64 " replies unsent",
             wire_kind_to_string(w->kind), w->done, w->rejected, w->unsent);
}
