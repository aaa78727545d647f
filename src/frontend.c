/* SPDX-License-Identifier: MIT */
/*
 * Request flow. A pending request's state lives in memory that lives as long
 * as the request (server_request_alloc) with a dispose callback, so when the
 * request is freed (answered, or the client went away) the entry leaves the
 * pending table with it: nothing dangles.
 * Ids are the wall-clock time of start-up in nanoseconds plus a counter, so
 * they never repeat across restarts (at fewer than 10^9 requests a second).
 */

#include "frontend.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "fanout.h"
#include "log.h"
#include "numlist.h"
#include "pending.h"
#include "request-parse.h"
#include "server.h"
#include "text.h"
#include "sqmath.h"
#include "wire.h"

#define TIMEOUT_BODY "{\"success\": false}"
#define SHUTDOWN_POLL_USEC (20 * 1000)
#define SHUTDOWN_GRACE_USEC (1000 * 1000)
#define SHUTDOWN_FLUSH_USEC (200 * 1000)

/* Jobs up to this size are encoded into the request's memory pool; larger ones into their own buffer. */
#define JOB_IN_POOL_MAX WIRE_BATCH_BYTES
/* Blocks this large get a mapping of their own, unmapped when freed (see frontend_new). */
#define FRONTEND_MMAP_THRESHOLD (1024 * 1024)

typedef struct Request {
    PendingEntry entry;
    FanoutJob job;
    ServerRequest *req;
    Frontend *frontend;
} Request;

struct Frontend {
    const Config *config;
    Loop *loop;
    Server *server;
    Fanout *fanout; /* NULL in local mode */
    PendingTable pending;
    sd_event_source *reaper, *shutdown_timer;
    uint64_t next_id;
    bool stopping;
    uint64_t shutdown_deadline_usec, drained_since_usec;
    struct {
        uint64_t answered, failed, timed_out, busy, dropped;
        uint64_t server_events[_SERVER_EVENT_MAX];
    } stats;
    RateLimit rl_dropped, rl_timeout, rl_failed, rl_paused, rl_closed, rl_rejected;
};

static uint64_t now_usec(clockid_t clock) {
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void log_request(Frontend *f, uint64_t id, int status, uint64_t started_usec) {
    if (!f->config->log_requests)
        return;
    int64_t latency = started_usec ? (int64_t)(now_usec(CLOCK_MONOTONIC) - started_usec) : 0;
    log_event(LOG_INFO,
              &(LogFields){ .message_id = SQ_MSG_REQUEST, .request_id = id, .status = status,
                            .latency_usec = latency, .has_latency = started_usec != 0 },
              "Request %" PRIu64 " answered %d after %" PRId64 " us", id, status, latency);
}

static void send_error(Frontend *f, ServerRequest *req, int status, const char *message) {
    if (status >= 500)
        f->stats.failed++;
    server_send_error(req, status, message, status == 503 ? "retry-after" : NULL, status == 503 ? "1" : NULL);
    log_request(f, 0, status, 0);
}

static void answer_local(Frontend *f, ServerRequest *req, const SqAcc *a) {
    char body[SQMATH_ANSWER_MAX];
    int len;

    len = sqmath_answer_acc(a, body);
    if (len < 0) {
        send_error(f, req, 500, "internal error computing the result");
        return;
    }
    f->stats.answered++;
    server_send(req, 200, body, (size_t)len, NULL, NULL);
    log_request(f, 0, 200, 0);
}

/* h2o frees the request: answered, or the client went away. After frontend_free() nothing is linked. */
static void on_request_dispose(void *p) {
    Request *r = p;

    if (r->entry.linked)
        pending_remove(&r->frontend->pending, &r->entry);
    if (r->job.unsent)
        fanout_cancel(r->frontend->fanout, &r->job);
}

static void fan_out(Frontend *f, ServerRequest *req, const NumList *l) {
    size_t size = wire_job_size_max(l->n);
    Request *r;
    char *job;
    uint64_t suppressed;

    if (f->pending.count >= f->pending.max) {
        f->stats.busy++;
        if (ratelimit_allow(&f->rl_failed, now_usec(CLOCK_MONOTONIC), &suppressed))
            log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_REQUEST_FAILED, .status = 503 },
                      "Refused a request: %zu requests pending, the limit (%" PRIu64 " similar suppressed)",
                      f->pending.count, suppressed);
        send_error(f, req, 503, "too many requests in progress, try again shortly");
        return;
    }
    if (fanout_queued_bytes(f->fanout) + size > f->config->max_queued_bytes) {
        f->stats.busy++;
        if (ratelimit_allow(&f->rl_failed, now_usec(CLOCK_MONOTONIC), &suppressed))
            log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_REQUEST_FAILED, .status = 503 },
                      "Refused a request: %zu bytes of jobs wait for a worker, the limit (%" PRIu64 " similar suppressed)",
                      fanout_queued_bytes(f->fanout), suppressed);
        send_error(f, req, 503, "the workers are behind, try again shortly");
        return;
    }

    r = server_request_alloc(req, sizeof(*r), on_request_dispose);
    job = !r ? NULL : size <= JOB_IN_POOL_MAX ? server_request_alloc(req, size, NULL) : malloc(size);
    if (!job) {
        send_error(f, req, 500, "out of memory");
        return;
    }
    r->req = req;
    r->frontend = f;
    r->entry.id = ++f->next_id;
    r->entry.added_usec = now_usec(CLOCK_MONOTONIC);
    r->entry.userdata = r;

    /* Goes out with the other jobs of this pass of the loop (on_loop_pass). */
    fanout_submit(f->fanout, &r->job, r->entry.id, job, wire_encode_job(r->entry.id, l->v, l->n, job),
                  size > JOB_IN_POOL_MAX);
    server_hold(req);
    /* Cannot fail: the count was checked above and ids are unique. */
    (void)pending_add(&f->pending, &r->entry);
}

static void on_request(ServerRequest *req, const ServerRequestInfo *info, void *userdata) {
    Frontend *f = userdata;
    char err[REQUEST_ERROR_MAX];
    NumList l = NUMLIST_INIT(f->config->max_numbers);
    SqAcc acc = SQACC_INIT;
    int k;

    if (!f->fanout)
        l.acc = &acc; /* local mode needs the sums only */

    if (info->method == SERVER_GET || info->method == SERVER_HEAD) {
        /* The parser decodes in place: give it a copy. */
        char *q = info->query_len ? server_request_alloc(req, info->query_len, NULL) : NULL;

        if (q)
            memcpy(q, info->query, info->query_len);
        k = request_parse_query(q, q ? info->query_len : 0, &l, err, sizeof(err));
    } else if (info->method == SERVER_POST)
        k = request_parse_body(info->body, info->body_len, &l, err, sizeof(err));
    else {
        f->stats.failed++;
        server_send_error(req, 405, "method not allowed: use GET or POST", "allow", "GET, HEAD, POST");
        return;
    }

    if (k < 0) {
        send_error(f, req, k == -E2BIG ? 413 : k == -ENOMEM ? 500 : 400, k == -ENOMEM ? "out of memory" : err);
        numlist_done(&l);
        return;
    }

    if (f->fanout)
        fan_out(f, req, &l);
    else
        answer_local(f, req, &acc);
    numlist_done(&l);
}

/* The connection budget at work: counted, and logged rate-limited. */
static void on_server_event(ServerEvent ev, const char *detail, size_t connections, void *userdata) {
    Frontend *f = userdata;
    bool paused = ev == SERVER_EVENT_PAUSED_AT_CAP || ev == SERVER_EVENT_PAUSED_NO_FDS;
    uint64_t suppressed;

    f->stats.server_events[ev]++;
    if (ev == SERVER_EVENT_RESUMED)
        return;
    if (!ratelimit_allow(paused ? &f->rl_paused : &f->rl_closed, now_usec(CLOCK_MONOTONIC), &suppressed))
        return;
    if (paused)
        log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_ACCEPT_PAUSED, .reason = detail },
                  "Stopped accepting connections until one closes: %s, %zu open (%" PRIu64 " similar suppressed)",
                  detail, connections, suppressed);
    else
        log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_CONNECTION_CLOSED, .reason = detail },
                  "Closed a client connection: %s (%" PRIu64 " similar suppressed)", detail, suppressed);
}

static void drop_reply(Frontend *f, uint64_t id, const char *why) {
    uint64_t suppressed;

    f->stats.dropped++;
    if (ratelimit_allow(&f->rl_dropped, now_usec(CLOCK_MONOTONIC), &suppressed))
        log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_REPLY_DROPPED, .request_id = id, .reason = why },
                  "Dropped a reply from a worker: %s (%" PRIu64 " similar suppressed)", why, suppressed);
}

static void apply_reply(Frontend *f, const WireReply *reply) {
    char body[SQMATH_ANSWER_MAX];
    PendingEntry *e;
    Request *r;
    int k;

    if (!(e = pending_find(&f->pending, reply->id))) {
        drop_reply(f, 0, "no such request pending (answered, timed out or never sent)");
        return;
    }
    k = pending_set_result(e, reply->kind, reply->value, reply->value_len);
    if (k == -EALREADY) {
        drop_reply(f, e->id, "duplicate reply");
        return;
    }
    if (k == 0)
        return; /* the other half is still to come */

    r = e->userdata;
    pending_remove(&f->pending, e);
    k = sqmath_answer(e->value[WIRE_SUM], e->len[WIRE_SUM], e->value[WIRE_SQUARE], e->len[WIRE_SQUARE], body);
    if (k < 0) {
        send_error(f, r->req, 502, "the workers sent an invalid result");
        return;
    }
    f->stats.answered++;
    server_send(r->req, 200, body, (size_t)k, NULL, NULL);
    log_request(f, e->id, 200, e->added_usec);
}

/*
 * A message from a worker of kind `kind`: one reply or a batch. Nothing of it is used unless all
 * of it is valid, and all of it is of the worker's kind.
 */
static void on_replies(const char *msg, size_t len, WireKind kind, void *userdata) {
    Frontend *f = userdata;
    WireReply replies[WIRE_BATCH_MAX];
    char err[WIRE_ERROR_MAX];
    WireReader w;
    size_t n = 0;
    int k;

    wire_reader_init(&w, msg, len);
    while ((k = wire_read_reply(&w, &replies[n], err, sizeof(err))) > 0)
        n++;
    if (k < 0) {
        drop_reply(f, 0, err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (replies[i].kind != kind) {
            drop_reply(f, 0, "a reply of the other kind, from a worker connected for this one");
            return;
        }
    for (size_t i = 0; i < n; i++) {
        fanout_settle(f->fanout, replies[i].kind, replies[i].id);
        apply_reply(f, &replies[i]);
    }
}

/* A peer turned away at the ZeroMQ side: a key not allowed, no CURVE, a failed handshake. */
static void on_peer_rejected(const char *who, const char *key, const char *reason, void *userdata) {
    Frontend *f = userdata;
    uint64_t suppressed;
    char q[TEXT_QUOTE_MAX];

    if (!ratelimit_allow(&f->rl_rejected, now_usec(CLOCK_MONOTONIC), &suppressed))
        return;
    log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_PEER_REJECTED, .reason = reason },
              "Turned away a peer (%s)%s%s: %s (%" PRIu64 " similar suppressed)",
              text_quote(q, sizeof(q), who, strlen(who)), key ? " with key " : "", key ? key : "", reason, suppressed);
}

static bool on_loop_pass(void *userdata) {
    Frontend *f = userdata;

    return fanout_flush(f->fanout);
}

void frontend_status(Frontend *f, char *buf, size_t size) {
    snprintf(buf, size,
             "%s mode: %" PRIu64 " answered, %zu pending, %" PRIu64 " timed out, %" PRIu64 " refused busy, %" PRIu64
             " failed, %" PRIu64 " dropped replies, %zu connections%s",
             sq_mode_to_string(f->config->mode), f->stats.answered, f->pending.count, f->stats.timed_out,
             f->stats.busy, f->stats.failed, f->stats.dropped, f->server ? server_connections(f->server) : 0,
             f->stopping ? ", stopping" : "");
}

static void notify_status(Frontend *f) {
    char status[256];

    frontend_status(f, status, sizeof(status));
    sd_notifyf(0, "STATUS=%s", status);
}

static void reap(Frontend *f, uint64_t now) {
    PendingEntry *e;
    uint64_t suppressed;

    while ((e = pending_oldest(&f->pending)) && now - e->added_usec >= f->config->request_timeout_usec) {
        Request *r = e->userdata;
        WireKind missing = e->have & (1u << WIRE_SUM) ? WIRE_SQUARE : WIRE_SUM;
        char why[96];

        snprintf(why, sizeof(why), r->job.unsent & (1u << missing) ? "no %s worker took the job" : "no reply from the %s worker",
                 wire_kind_to_string(missing));
        pending_remove(&f->pending, e);
        fanout_cancel(f->fanout, &r->job);
        f->stats.timed_out++;
        if (ratelimit_allow(&f->rl_timeout, now, &suppressed))
            log_event(LOG_WARNING,
                      &(LogFields){ .message_id = SQ_MSG_REQUEST_TIMEOUT, .request_id = e->id, .status = 504,
                                    .kind = wire_kind_to_string(missing), .reason = why,
                                    .latency_usec = (int64_t)(now - e->added_usec), .has_latency = true },
                      "Request %" PRIu64 " timed out after %" PRIu64 " ms: %s (%" PRIu64 " similar suppressed)",
                      e->id, (now - e->added_usec) / 1000, why, suppressed);
        server_send(r->req, 504, TIMEOUT_BODY, sizeof(TIMEOUT_BODY) - 1, NULL, NULL);
        log_request(f, e->id, 504, e->added_usec);
    }
}

static int on_reaper(sd_event_source *s, uint64_t usec, void *userdata) {
    Frontend *f = userdata;

    reap(f, now_usec(CLOCK_MONOTONIC));
    notify_status(f);
    return sd_event_source_set_time(s, usec + f->config->reaper_interval_usec);
}

/*
 * While stopping, the reaper keeps answering. Done when nothing is pending and every
 * connection has closed, or, since idle keep-alive connections may linger, once nothing
 * has been pending for a grace period that lets the last answers leave; at the latest
 * at the deadline.
 */
static int on_shutdown_poll(sd_event_source *s, uint64_t usec, void *userdata) {
    Frontend *f = userdata;

    if (f->pending.count > 0)
        f->drained_since_usec = 0;
    else if (f->drained_since_usec == 0)
        f->drained_since_usec = usec;

    if ((f->pending.count == 0 && server_idle(f->server)) ||
        (f->drained_since_usec && usec - f->drained_since_usec >= SHUTDOWN_FLUSH_USEC) ||
        usec >= f->shutdown_deadline_usec)
        return sd_event_exit(sd_event_source_get_event(s), 0);
    return sd_event_source_set_time(s, usec + SHUTDOWN_POLL_USEC);
}

bool frontend_idle(Frontend *f) {
    return server_idle(f->server);
}

void frontend_shutdown(Frontend *f) {
    sd_event *e = loop_event(f->loop);
    uint64_t now;
    int r;

    if (f->stopping)
        return;
    f->stopping = true;
    server_stop_accepting(f->server);
    notify_status(f);

    (void)sd_event_now(e, CLOCK_MONOTONIC, &now);
    f->shutdown_deadline_usec = now + f->config->request_timeout_usec + f->config->reaper_interval_usec + SHUTDOWN_GRACE_USEC;
    r = sd_event_add_time(e, &f->shutdown_timer, CLOCK_MONOTONIC, now, 0, on_shutdown_poll, f);
    if (r >= 0)
        r = sd_event_source_set_enabled(f->shutdown_timer, SD_EVENT_ON);
    if (r < 0)
        (void)sd_event_exit(e, 0);
}

int frontend_new(Loop *loop, const Config *c, const int *fds, size_t n_fds, Frontend **ret) {
    _cleanup_(frontend_freep) Frontend *f = calloc(1, sizeof(*f));
    sd_event *e = loop_event(loop);
    uint64_t now;
    int r;

    if (!f)
        return -ENOMEM;
    f->config = c;
    f->loop = loop;
    f->next_id = now_usec(CLOCK_REALTIME) * 1000;
    f->rl_dropped = RATELIMIT_INIT(10 * 1000000, 10);
    f->rl_timeout = RATELIMIT_INIT(10 * 1000000, 10);
    f->rl_failed = RATELIMIT_INIT(10 * 1000000, 10);
    f->rl_paused = RATELIMIT_INIT(10 * 1000000, 1);
    f->rl_closed = RATELIMIT_INIT(10 * 1000000, 10);
    f->rl_rejected = RATELIMIT_INIT(10 * 1000000, 10);

    r = pending_table_init(&f->pending, c->max_pending);
    if (r < 0)
        return r;
    /*
     * glibc raises its mmap threshold to the size of the last big block freed and then keeps
     * such blocks in the heap: after a million-number request the front end held 45 MB on a
     * live connection (measured). A fixed threshold maps and unmaps every big block.
     */
    (void)mallopt(M_MMAP_THRESHOLD, FRONTEND_MMAP_THRESHOLD);
    if (c->mode == SQ_MODE_WORKERS) {
        r = fanout_new(e, c,
                       &(FanoutCallbacks){ .on_reply = on_replies, .on_rejected = on_peer_rejected, .userdata = f },
                       &f->fanout);
        if (r < 0)
            return r;
        loop_on_pass(loop, on_loop_pass, f);
        (void)sd_event_now(e, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(e, &f->reaper, CLOCK_MONOTONIC, now + c->reaper_interval_usec, 0, on_reaper, f);
        if (r < 0)
            return r;
        r = sd_event_source_set_enabled(f->reaper, SD_EVENT_ON);
        if (r < 0)
            return r;
    }
    r = server_new(loop_h2o(loop), c, fds, n_fds,
                   &(ServerCallbacks){ .on_request = on_request, .on_event = on_server_event, .userdata = f },
                   &f->server);
    if (r < 0)
        return r;

    *ret = TAKE_PTR(f);
    return 0;
}

Frontend *frontend_free(Frontend *f) {
    if (!f)
        return NULL;
    /* Requests still held by h2o point at the table: empty it before it goes. */
    while (pending_oldest(&f->pending))
        pending_remove(&f->pending, pending_oldest(&f->pending));
    if (f->fanout)
        loop_on_pass(f->loop, NULL, NULL);
    sd_event_source_disable_unref(f->reaper);
    sd_event_source_disable_unref(f->shutdown_timer);
    server_free(f->server);
    fanout_free(f->fanout);
    pending_table_done(&f->pending);
    free(f);
    return NULL;
}
