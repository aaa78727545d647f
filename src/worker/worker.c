/* SPDX-License-Identifier: MIT */
/*
 * One DEALER socket per front end (a "link"), so a reply always leaves on the
 * connection its job came on. Each link says hello on every new connection
 * (ZMQ_PROBE_ROUTER), and answers the front end's hello with WORKER_CREDIT;
 * after each wake-up it grants one credit per job message it took, once the
 * replies are sent (docs/protocol.md, "Credit"). ZMQ_IMMEDIATE keeps replies and
 * grants from queueing for a front end that is not connected: they would be
 * meaningless to the one that comes next.
 *
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
 *
 * Each link counts what it did (jobs done, job messages rejected, replies unsent)
 * and reports it to its front end in grants (docs/protocol.md, "Counters"): in the
 * grant that answers a hello, then at most once a WORKER_REPORT_USEC, from a timer
 * armed when a count changes. The timer grants early what is owed; when nothing is
 * (the last grant went out before the last change), it sends the counters in a
 * grant of 0, so a worker that went idle still reports its last counts. Credit is
 * never granted ahead: a stalled worker holds WORKER_CREDIT job messages at most.
 * The path of a job costs an addition, a store and a test more; no clock is read.
 */

#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "log.h"
#include "number.h"
#include "sqmath.h"
#include "time-util.h"
#include "transport.h"

#define MONITOR_ENDPOINT "inproc://sqdiff-worker-jobs-monitor-%zu"
/* Job messages a link asks for at a time: what a stalled worker holds up at most, per front end. */
#define WORKER_CREDIT 4
/* Credit is given back once this much is owed: half the messages of grants, while the front end
 * still holds WORKER_CREDIT - WORKER_GRANT_MIN + 1 or more, so it never waits for a grant. */
#define WORKER_GRANT_MIN 2
/* Reports of a link's counters are at least this far apart (the timer may fire up to 250 ms late). */
#define WORKER_REPORT_USEC USEC_PER_SEC
/* A connection turned away (its handshake failed: key not admitted, wrong server key) is tried
 * again after this, doubling up to the maximum: a handful of handshakes a minute, not hundreds a
 * second. A connection that had passed its handshake is tried again at once. */
#define WORKER_RECONNECT_MIN_USEC (100 * USEC_PER_MSEC)
#define WORKER_RECONNECT_MAX_USEC (5 * USEC_PER_SEC)
#define WORKER_JOBS_HWM 64
#define WORKER_REPLIES_HWM 100000
/* Blocks this large get a mapping of their own, unmapped when freed (see worker_new). */
#define WORKER_MMAP_THRESHOLD (1024 * 1024)
/* Room for the replies to one whole job message, and the batch's '[' and ']'. */
#define REPLIES_OF_ONE_MESSAGE_MAX (WIRE_BATCH_MAX * (WIRE_REPLY_MAX + 1) + 2)
_Static_assert(REPLIES_OF_ONE_MESSAGE_MAX <= WIRE_REPLY_MESSAGE_MAX, "a job message's replies fit in one batch");

typedef struct Link {
    struct Worker *worker;
    void *sock, *monitor;
    char endpoint[CONFIG_ENDPOINT_MAX];
    sd_event_source *source, *monitor_source, *report_timer, *reconnect_timer;
    bool handshaken;        /* the current connection passed its handshake */
    usec_t reconnect_delay; /* before the next connection, after one that failed its handshake */
    uint64_t owed;          /* credit to grant */
    WireCounters counted;
    bool greeted;                  /* the front end said hello: the next grant reports, to start its count */
    bool unreported, report_armed; /* counted changed since the last report; the timer is set */
    bool report_due;               /* the timer fired: the next grant reports, owed or not */
    usec_t reported_usec;          /* when the last report was tried */
} Link;

struct Worker {
    const Config *config;
    WireKind kind;
    void *ctx;
    Link link[CONFIG_ENDPOINTS_MAX];
    size_t n_links;
    Link *current; /* where the batch being built goes */
    sd_event_source *first_read;
    RateLimit rl_rejected, rl_unsent;
    char out[WIRE_REPLY_MESSAGE_MAX]; /* the batch of replies being built */
    size_t out_len, out_count;
};

/* Sends msg on the current link; counts n replies done, or logs them unsent. */
static void send_message(Worker *w, const char *msg, size_t len, size_t n) {
    uint64_t suppressed;

    w->current->unreported = true;
    if (zmq_send(w->current->sock, msg, len, ZMQ_DONTWAIT) < 0) {
        w->current->counted.unsent += n;
        if (ratelimit_allow(&w->rl_unsent, now_usec(CLOCK_MONOTONIC), &suppressed))
            log_event(LOG_WARNING,
                      &(LogFields){
                          .message_id = SQ_MSG_REPLY_DROPPED, .kind = wire_kind_to_string(w->kind), .error = errno },
                      "Could not queue the replies to %zu jobs: %m (%" PRIu64 " similar suppressed)", n, suppressed);
    } else
        w->current->counted.done += n;
}

static void send_replies(Worker *w) {
    if (w->out_count == 0)
        return;
    w->out[w->out_len++] = ']';
    send_message(w, w->out, w->out_len, w->out_count);
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
    uint64_t id, suppressed;
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
    if (r == 0 && !reader.batch && w->out_count == mark_count + 1) {
        /* A lone job gets a lone reply: the one object, past its '[' or ','. */
        send_message(w, w->out + mark_len + 1, w->out_len - mark_len - 1, 1);
        w->out_len = mark_len;
        w->out_count = mark_count;
    }
    if (r < 0) {
        w->out_len = mark_len;
        w->out_count = mark_count;
        w->current->counted.rejected++;
        w->current->unreported = true;
        if (ratelimit_allow(&w->rl_rejected, now_usec(CLOCK_MONOTONIC), &suppressed))
            log_event(
                LOG_WARNING,
                &(LogFields){ .message_id = SQ_MSG_JOB_REJECTED, .kind = wire_kind_to_string(w->kind), .reason = err },
                "Rejected a job message of %zu bytes: %s (%" PRIu64 " similar suppressed)", len, err, suppressed);
    }
}

/*
 * Grants n credits, with the link's counters if report is set (n may be 0 then); if it cannot,
 * they are owed still. A report that cannot leave (no front end) is tried again a
 * WORKER_REPORT_USEC later at the soonest, or with the next hello.
 */
static void send_grant(Link *l, uint64_t n, bool report) {
    char msg[WIRE_GRANT_MAX];

    if (report)
        l->reported_usec = now_usec(CLOCK_MONOTONIC);
    if (zmq_send(l->sock, msg, wire_encode_grant(n, report ? &l->counted : NULL, msg), ZMQ_DONTWAIT) < 0)
        return;
    l->owed -= n;
    if (report)
        l->greeted = l->unreported = false;
}

/*
 * After a wake-up: the credit owed, once WORKER_GRANT_MIN is (else it stays owed: a new
 * connection's hello resets it anyway), or whatever is owed when a report is due; then the
 * report timer, if the counts changed since the last report.
 */
static void grant(Link *l) {
    bool report = l->greeted || (l->report_due && l->unreported);

    l->report_due = false;
    if (l->owed >= WORKER_GRANT_MIN || report)
        send_grant(l, l->owed, report);
    if (l->unreported && !l->report_armed &&
        sd_event_source_set_time(l->report_timer, l->reported_usec + WORKER_REPORT_USEC) >= 0 &&
        sd_event_source_set_enabled(l->report_timer, SD_EVENT_ONESHOT) >= 0)
        l->report_armed = true;
}

static bool readable(void *sock) {
    int events = 0;
    size_t len = sizeof(events);

    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

/* Every wake-up of a link's socket, and of its report timer (on_report_due). */
static int on_jobs(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Link *l = userdata;
    Worker *w = l->worker;

    /* ZMQ_FD is edge-like, and sending resets it: take everything there is, answer it in one go,
     * and look again. */
    do {
        w->current = l;
        for (;;) {
            zmq_msg_t msg;

            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, l->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            if (zmq_msg_size(&msg) == 0) {
                /* The front end's hello: it knows of no credit of ours, nor of our counts. */
                l->owed = WORKER_CREDIT;
                l->greeted = true;
            } else {
                handle_message(w, zmq_msg_data(&msg), zmq_msg_size(&msg));
                l->owed++;
            }
            zmq_msg_close(&msg);
        }
        send_replies(w);
        grant(l);
    } while (readable(l->sock));
    return 0;
}

/*
 * A WORKER_REPORT_USEC after the last report, and the counts changed since: the next grant
 * carries them. It is sent through on_jobs(), never alone: a send processes the socket's
 * commands, which resets ZMQ_FD, so job messages that came meanwhile (to a worker stopped
 * and continued, say) would never wake the link; on_jobs() reads until none is left.
 */
static int on_report_due(sd_event_source *s, uint64_t usec, void *userdata) {
    Link *l = userdata;

    l->report_armed = false;
    l->report_due = true;
    return on_jobs(NULL, -1, 0, l);
}

/* Connects the link anew (after zmq_disconnect, so ZeroMQ's own attempts are stopped). */
static void reconnect(Link *l) {
    if (zmq_connect(l->sock, l->endpoint) < 0)
        log_error_errno(errno, "Could not reconnect to %s: %m", l->endpoint);
    /* Both process the socket's commands, which may use up the edge of ZMQ_FD that
     * would have said jobs are waiting: read now whatever is there. */
    (void)on_jobs(NULL, -1, 0, l);
}

static int on_reconnect_due(sd_event_source *s, uint64_t usec, void *userdata) {
    reconnect(userdata);
    return 0;
}

/*
 * ZeroMQ ends a connection that carried a message over ZMQ_MAXMSGSIZE, or whose handshake
 * failed, as a protocol error, and after a protocol error it does not reconnect on its own.
 * So each link is monitored, and on every disconnection it is connected anew: at once when
 * the connection had passed its handshake (the front end restarting, a heartbeat lost; ZeroMQ
 * then retries every RECONNECT_IVL_MAX until the front end is back), otherwise after
 * reconnect_delay, which doubles each time up to WORKER_RECONNECT_MAX_USEC, so a worker turned
 * away costs the front end a few handshakes a minute.
 */
static void on_link_event(Link *l, uint16_t id) {
    usec_t now;

    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        l->handshaken = true;
        l->reconnect_delay = WORKER_RECONNECT_MIN_USEC;
        return;
    }
    if (id != ZMQ_EVENT_DISCONNECTED)
        return;
    (void)zmq_disconnect(l->sock, l->endpoint);
    if (l->handshaken) {
        l->handshaken = false;
        reconnect(l);
        return;
    }
    now = now_usec(CLOCK_MONOTONIC);
    if (sd_event_source_set_time(l->reconnect_timer, now + l->reconnect_delay) < 0 ||
        sd_event_source_set_enabled(l->reconnect_timer, SD_EVENT_ONESHOT) < 0)
        reconnect(l); /* without a timer, at once rather than never */
    l->reconnect_delay =
        l->reconnect_delay * 2 < WORKER_RECONNECT_MAX_USEC ? l->reconnect_delay * 2 : WORKER_RECONNECT_MAX_USEC;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Link *l = userdata;

    for (;;) {
        zmq_msg_t event, endpoint;
        uint16_t id = 0;

        zmq_msg_init(&event);
        if (zmq_msg_recv(&event, l->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&event);
            return 0;
        }
        if (zmq_msg_size(&event) >= sizeof(id))
            memcpy(&id, zmq_msg_data(&event), sizeof(id));
        zmq_msg_close(&event);
        zmq_msg_init(&endpoint);
        (void)zmq_msg_recv(&endpoint, l->monitor, 0); /* the second frame comes with the first */
        zmq_msg_close(&endpoint);
        on_link_event(l, id);
    }
}

static int open_link(sd_event *e, Worker *w, const TransportKeys *keys, const char *endpoint) {
    Link *l = &w->link[w->n_links];
    int64_t maxmsg = (int64_t)wire_job_message_max(w->config->max_numbers);
    char monitor_endpoint[64];
    size_t fdlen = sizeof(int);
    int fd, r;

    l->worker = w;
    snprintf(l->endpoint, sizeof(l->endpoint), "%s", endpoint);
    l->sock = zmq_socket(w->ctx, ZMQ_DEALER);
    if (!l->sock)
        return -errno;
    w->n_links++; /* from here worker_free() closes it */
    if (zmq_setsockopt(l->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
        return -errno;
    if ((r = transport_set_int(l->sock, ZMQ_LINGER, 0)) < 0 ||
        /* Few jobs wait here (each may be as large as the message limit): the front end queues the rest. */
        (r = transport_set_int(l->sock, ZMQ_RCVHWM, WORKER_JOBS_HWM)) < 0 ||
        /* Replies are small and every one matters: a burst of them must queue, not be dropped. */
        (r = transport_set_int(l->sock, ZMQ_SNDHWM, WORKER_REPLIES_HWM)) < 0 ||
        (r = transport_set_int(l->sock, ZMQ_IMMEDIATE, 1)) < 0 ||
        (r = transport_set_int(l->sock, ZMQ_PROBE_ROUTER, 1)) < 0 ||
        /* Find a (re)started front end quickly, backing off to a few attempts a second while it is away. */
        (r = transport_set_int(l->sock, ZMQ_RECONNECT_IVL, 10)) < 0 ||
        (r = transport_set_int(l->sock, ZMQ_RECONNECT_IVL_MAX, 250)) < 0)
        return r;
    r = transport_setup(l->sock, keys, false);
    if (r < 0)
        return r;
    snprintf(monitor_endpoint, sizeof(monitor_endpoint), MONITOR_ENDPOINT, w->n_links);
    if (zmq_socket_monitor(l->sock, monitor_endpoint, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0)
        return -errno;
    l->monitor = zmq_socket(w->ctx, ZMQ_PAIR);
    if (!l->monitor || zmq_connect(l->monitor, monitor_endpoint) < 0)
        return -errno;
    if (zmq_getsockopt(l->monitor, ZMQ_FD, &fd, &fdlen) < 0)
        return -errno;
    r = sd_event_add_io(e, &l->monitor_source, fd, EPOLLIN, on_monitor, l);
    if (r < 0)
        return r;
    if (zmq_connect(l->sock, endpoint) < 0)
        return -errno;
    if (zmq_getsockopt(l->sock, ZMQ_FD, &fd, &fdlen) < 0)
        return -errno;
    r = sd_event_add_io(e, &l->source, fd, EPOLLIN, on_jobs, l);
    if (r < 0)
        return r;
    r = sd_event_add_time(e, &l->report_timer, CLOCK_MONOTONIC, 0, 0, on_report_due, l);
    if (r < 0)
        return r;
    l->reconnect_delay = WORKER_RECONNECT_MIN_USEC;
    r = sd_event_add_time(e, &l->reconnect_timer, CLOCK_MONOTONIC, 0, 0, on_reconnect_due, l);
    if (r < 0 || (r = sd_event_source_set_enabled(l->reconnect_timer, SD_EVENT_OFF)) < 0)
        return r;
    return sd_event_source_set_enabled(l->report_timer, SD_EVENT_OFF); /* until the counts change */
}

static int on_first_read(sd_event_source *s, void *userdata) {
    Worker *w = userdata;

    for (size_t i = 0; i < w->n_links; i++) {
        (void)on_monitor(NULL, -1, 0, &w->link[i]);
        (void)on_jobs(NULL, -1, 0, &w->link[i]);
    }
    return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

int worker_new(sd_event *e, const Config *c, WireKind kind, Worker **ret) {
    _cleanup_(worker_freep) Worker *w = calloc(1, sizeof(*w));
    const char *cursor = c->endpoint[kind == WIRE_SUM ? ENDPOINT_JOBS_SUM : ENDPOINT_JOBS_SQUARE], *path = NULL;
    /* path: which key failed; the caller names the settings */
    char endpoint[CONFIG_ENDPOINT_MAX];
    TransportKeys keys;
    int r = 0;

    if (!w)
        return -ENOMEM;
    w->config = c;
    w->kind = kind;
    w->rl_rejected = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    w->rl_unsent = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);

    r = transport_load_keys(c, true, &keys, &path);
    if (r < 0)
        return r;
    w->ctx = zmq_ctx_new();
    if (!w->ctx)
        r = -errno;
    while (r >= 0 && w->n_links < CONFIG_ENDPOINTS_MAX && config_endpoint_next(&cursor, endpoint))
        r = open_link(e, w, &keys, endpoint);
    transport_keys_done(&keys);
    if (r < 0)
        return r;
    /* ZMQ_FD only signals changes: each socket is read once to arm it, from the loop's first
     * pass, once the caller has loaded its seccomp filter (jobs are untrusted bytes). */
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
    for (size_t i = 0; i < w->n_links; i++) {
        Link *l = &w->link[i];

        sd_event_source_disable_unref(l->source);
        sd_event_source_disable_unref(l->monitor_source);
        sd_event_source_disable_unref(l->report_timer);
        sd_event_source_disable_unref(l->reconnect_timer);
        if (l->sock) {
            (void)zmq_socket_monitor(l->sock, NULL, 0);
            zmq_close(l->sock);
        }
        if (l->monitor)
            zmq_close(l->monitor);
    }
    if (w->ctx)
        zmq_ctx_term(w->ctx);
    free(w);
    return NULL;
}

void worker_status(Worker *w, char *buf, size_t size) {
    WireCounters all = { 0 };

    for (size_t i = 0; i < w->n_links; i++) {
        all.done += w->link[i].counted.done;
        all.rejected += w->link[i].counted.rejected;
        all.unsent += w->link[i].counted.unsent;
    }
    snprintf(buf, size,
             "%s worker: %" PRIu64 " jobs done, %" PRIu64 " job messages rejected, %" PRIu64 " replies unsent",
             wire_kind_to_string(w->kind), all.done, all.rejected, all.unsent);
}

const char *worker_kind_name(Worker *w) {
    return wire_kind_to_string(w->kind);
}
