/* SPDX-License-Identifier: MIT */
/*
 * Request flow. A pending request's state lives in memory that lives as long
 * as the request (server_hold, with the hold) with a dispose callback, so when the
 * request is freed (answered, or the client went away) the entry leaves the
 * pending table with it: nothing dangles.
 * Ids are the wall-clock time of start-up in nanoseconds plus a counter, so
 * they never repeat across restarts (at fewer than 10^9 requests a second).
 *
 * Every response is counted once, by status, where the edge reports it
 * (on_answer, stats.h); nothing else here counts answers.
 * Out of memory for a request's own state (the query copy, the pending entry,
 * the job) answers that request 500; out of memory at set-up fails
 * frontend_new() with -ENOMEM.
 */

#include "frontend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "fanout.h"
#include "frontend-metrics.h"
#include "log.h"
#include "numlist.h"
#include "pending.h"
#include "request-parse.h"
#include "server.h"
#include "text.h"
#include "sqmath.h"
#include "stats.h"
#include "time-util.h"
#include "wire.h"

#define TIMEOUT_BODY "{\"success\": false}"
#define SHUTDOWN_POLL_USEC (20 * USEC_PER_MSEC)
#define SHUTDOWN_GRACE_USEC (1 * USEC_PER_SEC)
#define SHUTDOWN_FLUSH_USEC (200 * USEC_PER_MSEC)

/* Jobs up to this size are encoded into the request's memory pool; larger ones into their own buffer. */
#define JOB_IN_POOL_MAX WIRE_BATCH_BYTES

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
    bool stopping;
    usec_t shutdown_deadline_usec, drained_since_usec;
    Stats stats;
    RateLimit rl_dropped, rl_timeout, rl_failed, rl_paused, rl_closed, rl_rejected, rl_report, rl_workers;
    double start_time_seconds;
};

static void send_error(Frontend *f, ServerRequest *req, int status, const char *message) {
    server_send_error(req, status, message, status == 503 ? "retry-after" : NULL, status == 503 ? "1" : NULL);
}

static void answer_local(Frontend *f, ServerRequest *req, const SqAcc *a) {
    char body[SQMATH_ANSWER_MAX];
    int len;

    len = sqmath_answer_acc(a, body);
    if (len < 0) {
        send_error(f, req, 500, "internal error computing the result");
        return;
    }
    server_send(req, 200, body, (size_t)len, NULL, NULL);
}

/* h2o frees the request: answered, or the client went away. After frontend_free() nothing is linked. */
static void on_request_dispose(void *p) {
    Request *r = p;

    if (r->entry.linked)
        pending_remove(&r->frontend->pending, &r->entry);
    if (r->job.unsent || r->job.out)
        fanout_cancel(r->frontend->fanout, &r->job);
}

static void fan_out(Frontend *f, ServerRequest *req, uint64_t id, const NumList *l) {
    size_t size = wire_job_size_max(l->n);
    Request *r;
    char *job;
    int k;

    if (f->pending.count >= f->pending.max) {
        log_warning_ratelimited(&f->rl_failed, &(LogFields){ .message_id = SQ_MSG_REQUEST_FAILED, .status = 503 },
                                "Refused a request: %zu requests pending, the limit", f->pending.count);
        send_error(f, req, 503, "too many requests in progress, try again shortly");
        return;
    }
    if (fanout_queued_bytes(f->fanout) + size > f->config->max_queued_bytes) {
        log_warning_ratelimited(&f->rl_failed, &(LogFields){ .message_id = SQ_MSG_REQUEST_FAILED, .status = 503 },
                                "Refused a request: %zu bytes of jobs wait for a worker, the limit",
                                fanout_queued_bytes(f->fanout));
        send_error(f, req, 503, "the workers are behind, try again shortly");
        return;
    }

    r = server_hold(req, size, sizeof(*r), on_request_dispose, &k);
    if (!r) {
        if (k == -ENOBUFS)
            log_warning_ratelimited(&f->rl_failed, &(LogFields){ .message_id = SQ_MSG_REQUEST_FAILED, .status = 503 },
                                    "Refused a request: the front end holds max-held-bytes for requests");
        send_error(f, req, k == -ENOBUFS ? 503 : 500,
                   k == -ENOBUFS ? "the server holds all it may for requests, try again shortly" : "out of memory");
        return;
    }
    job = size <= JOB_IN_POOL_MAX ? server_request_alloc(req, size) : malloc(size);
    if (!job) {
        send_error(f, req, 500, "out of memory");
        return;
    }
    r->req = req;
    r->frontend = f;
    r->entry.id = id;
    r->entry.added_usec = now_usec(CLOCK_MONOTONIC);
    r->entry.userdata = r;

    /* Goes out with the other jobs of this pass of the loop (on_loop_pass). */
    fanout_submit(f->fanout, &r->job, r->entry.id, job, wire_encode_job(r->entry.id, l->v, l->n, job),
                  size > JOB_IN_POOL_MAX);
    /* The count was checked above, and ids only grow. */
    assert_se(pending_add(&f->pending, &r->entry) == 0);
}

/* A query string or a form body: the parser decodes in place, so it gets a copy. */
static int parse_form(ServerRequest *req, const char *form, size_t len, NumList *l,
                      char err[static REQUEST_ERROR_MAX]) {
    char *q = len ? server_request_alloc(req, len) : NULL;

    if (len && !q)
        return -ENOMEM;
    if (q)
        memcpy(q, form, len);
    return request_parse_query(q, len, l, err, REQUEST_ERROR_MAX);
}

static void on_request(ServerRequest *req, const ServerRequestInfo *info, void *userdata) {
    Frontend *f = userdata;
    char err[REQUEST_ERROR_MAX];
    NumList l = NUMLIST_INIT(f->config->max_numbers);
    SqAcc acc = SQACC_INIT;
    int k;

    if (!f->fanout)
        l.acc = &acc; /* local mode needs the sums only */

    if (info->method == SERVER_GET || info->method == SERVER_HEAD)
        k = parse_form(req, info->query, info->query_len, &l, err);
    else if (info->method == SERVER_POST) {
        RequestBody kind = request_body_kind(info->content_type, info->content_type_len, info->body, info->body_len);

        if (kind == _REQUEST_BODY_INVALID) {
            send_error(f, req, 400, REQUEST_BODY_FORMS);
            numlist_done(&l);
            return;
        }
        k = kind == REQUEST_BODY_FORM ? parse_form(req, info->body, info->body_len, &l, err)
                                      : request_parse_body(info->body, info->body_len, &l, err, sizeof(err));
    } else {
        server_send_error(req, 405, "method not allowed: use GET or POST", "allow", "GET, HEAD, POST");
        return;
    }

    if (k < 0) {
        send_error(f, req, k == -E2BIG ? 413 : k == -ENOMEM ? 500 : 400, k == -ENOMEM ? "out of memory" : err);
        numlist_done(&l);
        return;
    }

    if (f->fanout)
        fan_out(f, req, info->id, &l);
    else
        answer_local(f, req, &acc);
    numlist_done(&l);
}

/* The connection budget at work: counted, and logged rate-limited. */
static void on_server_event(ServerEvent ev, const char *detail, size_t connections, void *userdata) {
    Frontend *f = userdata;
    bool paused = ev == SERVER_EVENT_PAUSED_AT_CAP || ev == SERVER_EVENT_PAUSED_NO_FDS;

    if (ev == SERVER_EVENT_RESUMED)
        return;
    if (paused)
        log_warning_ratelimited(&f->rl_paused, &(LogFields){ .message_id = SQ_MSG_ACCEPT_PAUSED, .reason = detail },
                                "Stopped accepting connections until one closes: %s, %zu open", detail, connections);
    else
        log_warning_ratelimited(&f->rl_closed, &(LogFields){ .message_id = SQ_MSG_CONNECTION_CLOSED, .reason = detail },
                                "Closed a client connection: %s", detail);
}

/*
 * The access log: with log-requests, one journal entry per answer, whatever answered it (the
 * front end, the edge's 404/413/431, h2o's own errors, a refused HTTP/1.1 head): who asked
 * what, the answer, its size and time, under the request's id, which the front end's other
 * entries of the request carry too. User-supplied text is quoted and cut.
 */
static void log_answer(const ServerAnswer *a) {
    char peer[64], method[40], target[300], agent[200], bytes[24], took[24];

    server_answer_peer(a, peer, sizeof(peer));
    text_quote(method, sizeof(method), a->method, a->method_len);
    text_quote_all(target, sizeof(target), a->target, a->target_len);
    text_quote_all(agent, sizeof(agent), a->user_agent, a->user_agent_len);
    snprintf(bytes, sizeof(bytes), a->bytes == UINT64_MAX ? "-" : "%" PRIu64, a->bytes);
    snprintf(took, sizeof(took), a->duration_usec < 0 ? "-" : "%" PRId64 "us", a->duration_usec);
    log_event(LOG_INFO,
              &(LogFields){ .message_id = SQ_MSG_REQUEST,
                            .request_id = a->id,
                            .status = a->status,
                            .latency_usec = a->duration_usec,
                            .has_latency = a->duration_usec >= 0,
                            .peer = peer,
                            .method = method,
                            .target = target,
                            .protocol = a->http2 ? "HTTP/2" : "HTTP/1.1",
                            .bytes = a->bytes == UINT64_MAX ? NULL : bytes,
                            .user_agent = agent },
              "%s %s %s %s %d %s %s id=%" PRIu64 " %s", peer, method, target, a->http2 ? "HTTP/2" : "HTTP/1.1",
              a->status, bytes, took, a->id, agent);
}

/* Every response the edge sends, once: the one place answers are counted. */
static void on_answer(const ServerAnswer *a, void *userdata) {
    Frontend *f = userdata;

    stats_count_answer(&f->stats, a->status);
    if (f->config->log_requests)
        log_answer(a);
}

static void drop_reply(Frontend *f, uint64_t id, const char *why) {
    f->stats.count[STATS_DROPPED_REPLIES]++;
    log_warning_ratelimited(&f->rl_dropped,
                            &(LogFields){ .message_id = SQ_MSG_REPLY_DROPPED, .request_id = id, .reason = why },
                            "Dropped a reply from a worker: %s", why);
}

static void apply_reply(Frontend *f, const WireReply *reply, uint64_t worker) {
    char body[SQMATH_ANSWER_MAX];
    PendingEntry *e;
    Request *r;
    int k;

    if (!(e = pending_find(&f->pending, reply->id))) {
        if (!fanout_late_hedge(f->fanout, reply->kind, reply->id))
            drop_reply(f, 0, "no such request pending (answered, timed out or never sent)");
        return;
    }
    fanout_settle_job(f->fanout, &((Request *)e->userdata)->job, reply->kind, worker);
    k = pending_set_result(e, reply->kind, reply->value, reply->value_len);
    switch (k) {
    case 1:
        break; /* both halves are in */
    case 0:
        return; /* the other half is still to come */
    case -EALREADY:
        if (!fanout_late_hedge(f->fanout, reply->kind, reply->id))
            drop_reply(f, e->id, "duplicate reply");
        return;
    case -EINVAL:
        /* wire_read_reply() bounds values below this, but the table decides what it stores. */
        drop_reply(f, e->id, "result too long to store");
        return;
    default:
        assert(!"pending_set_result() returned a value it does not document");
        return;
    }

    r = e->userdata;
    pending_remove(&f->pending, e);
    k = sqmath_answer(e->value[WIRE_SUM], e->len[WIRE_SUM], e->value[WIRE_SQUARE], e->len[WIRE_SQUARE], body);
    if (k < 0) {
        send_error(f, r->req, 502, "the workers sent an invalid result");
        return;
    }
    server_send(r->req, 200, body, (size_t)k, NULL, NULL);
}

/*
 * A message from a worker of kind `kind`: one reply or a batch. Nothing of it is used unless all
 * of it is valid, and all of it is of the worker's kind.
 */
static void on_replies(const char *msg, size_t len, WireKind kind, uint64_t worker, void *userdata) {
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
        apply_reply(f, &replies[i], worker);
    }
}

/* A worker's grant reported counters that are refused: its credit counts, its figures stay. */
static void on_report_refused(WireKind k, uint64_t worker, const char *reason, void *userdata) {
    Frontend *f = userdata;

    log_warning_ratelimited(
        &f->rl_report,
        &(LogFields){ .message_id = SQ_MSG_REPORT_REFUSED, .kind = wire_kind_to_string(k), .reason = reason },
        "Counters of %s worker %" PRIu64 " refused: %s, ignoring", wire_kind_to_string(k), worker, reason);
}

/* A peer turned away at the ZeroMQ side: a key not allowed, no CURVE, a failed handshake. */
static void on_peer_rejected(const char *who, const char *key, const char *reason, void *userdata) {
    Frontend *f = userdata;
    uint64_t suppressed;
    char q[TEXT_QUOTE_MAX];

    f->stats.count[STATS_PEERS_TURNED_AWAY]++;
    if (!ratelimit_allow(&f->rl_rejected, now_usec(CLOCK_MONOTONIC), &suppressed))
        return;
    text_quote(q, sizeof(q), who, strlen(who));
    log_event(LOG_WARNING, &(LogFields){ .message_id = SQ_MSG_PEER_REJECTED, .reason = reason, .peer = q, .key = key },
              "Turned away a peer (%s)%s%s: %s (%" PRIu64 " similar suppressed)", q, key ? " with key " : "",
              key ? key : "", reason, suppressed);
}

/* A connected worker turned away because its key left the allow-list: an operator's act,
 * bounded by the workers connected, so each is logged. */
static void on_peer_revoked(const char *address, const char *key, WireKind k, void *userdata) {
    Frontend *f = userdata;
    char q[TEXT_QUOTE_MAX];

    f->stats.count[STATS_PEERS_TURNED_AWAY]++;
    text_quote(q, sizeof(q), address, strlen(address));
    log_event(LOG_NOTICE,
              &(LogFields){ .message_id = SQ_MSG_PEER_REJECTED,
                            .kind = wire_kind_to_string(k),
                            .reason = "key removed",
                            .peer = q,
                            .key = key },
              "Turned away a connected %s worker (%s) with key %s: its key left the allow-list; connection closed",
              wire_kind_to_string(k), q, key);
}

static void notify_status(Frontend *f);

/*
 * A worker connected or went away: logged with the workers of its kind left, so that a request
 * that times out for want of one is explained before it happens. Rate-limited, but never the
 * moment a kind has none left or has one again.
 */
static void on_worker(WireKind k, bool connected, const Peer *p, size_t n, size_t moved, void *userdata) {
    Frontend *f = userdata;
    const char *kind = wire_kind_to_string(k);
    char q[TEXT_QUOTE_MAX];
    uint64_t suppressed;
    bool edge = connected ? n == 1 : n == 0;

    if (!edge && !ratelimit_allow(&f->rl_workers, now_usec(CLOCK_MONOTONIC), &suppressed))
        return;
    const char *where = p->address[0] ? p->address : "a local socket";
    char moved_text[80] = "";

    if (moved)
        snprintf(moved_text, sizeof(moved_text), "; the %zu job%s it had not answered queued again", moved,
                 moved == 1 ? "" : "s");
    text_quote(q, sizeof(q), where, strlen(where));
    log_event(connected ? LOG_INFO
              : n == 0  ? LOG_WARNING
                        : LOG_NOTICE,
              &(LogFields){ .message_id = connected ? SQ_MSG_WORKER_CONNECTED : SQ_MSG_WORKER_GONE,
                            .kind = kind,
                            .peer = q,
                            .key = p->key[0] ? p->key : NULL },
              "%s %s worker %" PRIu64 " (%s)%s%s: %zu %s worker%s connected%s%s", connected ? "New" : "Lost", kind,
              p->serial, q, p->key[0] ? " with key " : "", p->key, n, kind, n == 1 ? "" : "s", moved_text,
              !connected && n == 0 ? "; requests wait for one up to request-timeout" : "");
    notify_status(f);
}

static bool on_loop_pass(void *userdata) {
    Frontend *f = userdata;

    return fanout_flush(f->fanout);
}

void frontend_status(Frontend *f, char *buf, size_t size) {
    char answers[384];

    char workers[64] = "";

    (void)stats_format_answers(&f->stats, answers, sizeof(answers));
    if (f->fanout)
        snprintf(workers, sizeof(workers), ", workers sum=%zu square=%zu", fanout_peers(f->fanout, WIRE_SUM)->n,
                 fanout_peers(f->fanout, WIRE_SQUARE)->n);
    snprintf(buf, size, "%s mode: %zu pending, %zu connections, answers %s, %" PRIu64 " dropped replies%s%s",
             sq_mode_to_string(f->config->mode), f->pending.count, f->server ? server_connections(f->server) : 0,
             answers, f->stats.count[STATS_DROPPED_REPLIES], workers, f->stopping ? ", stopping" : "");
}

static void notify_status(Frontend *f) {
    char status[FRONTEND_STATUS_MAX];

    frontend_status(f, status, sizeof(status));
    sd_notifyf(0, "STATUS=%s", status);
}

static void reap(Frontend *f, usec_t now) {
    PendingEntry *e;

    while ((e = pending_oldest(&f->pending)) && now - e->added_usec >= f->config->request_timeout_usec) {
        Request *r = e->userdata;
        WireKind missing = e->have & (1u << WIRE_SUM) ? WIRE_SQUARE : WIRE_SUM;
        char why[96];

        snprintf(why, sizeof(why),
                 fanout_peers(f->fanout, missing)->n == 0 ? "no %s worker connected"
                 : r->job.unsent & (1u << missing)        ? "no %s worker took the job"
                                                          : "no reply from the %s worker",
                 wire_kind_to_string(missing));
        pending_remove(&f->pending, e);
        fanout_cancel(f->fanout, &r->job);
        log_warning_ratelimited(&f->rl_timeout,
                                &(LogFields){ .message_id = SQ_MSG_REQUEST_TIMEOUT,
                                              .request_id = e->id,
                                              .status = 504,
                                              .kind = wire_kind_to_string(missing),
                                              .reason = why,
                                              .latency_usec = (int64_t)(now - e->added_usec),
                                              .has_latency = true },
                                "Request %" PRIu64 " timed out after %" PRIu64 " ms: %s", e->id,
                                (now - e->added_usec) / USEC_PER_MSEC, why);
        server_send(r->req, 504, TIMEOUT_BODY, sizeof(TIMEOUT_BODY) - 1, NULL, NULL);
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

/* The HTTPS certificate of tls-certificate and tls-key, read anew and in force for the
 * connections that come next; the one before hands on its ticket keys. */
static int load_tls(Frontend *f, char *err, size_t errlen) {
    Tls *t = NULL;
    char what[512];
    int r = tls_new(f->config->tls_certificate, f->config->tls_key, server_tls(f->server), &t, err, errlen);

    if (r < 0)
        return r;
    tls_describe(t, what, sizeof(what));
    server_set_tls(f->server, t);
    log_event(LOG_INFO, &(LogFields){ .message_id = SQ_MSG_RELOADED }, "HTTPS certificate in force: %s", what);
    return 0;
}

void frontend_reconfigure(Frontend *f) {
    char err[CONFIG_ERROR_MAX];

    f->pending.max = f->config->max_pending;
    if (f->server)
        server_set_limits(f->server, f->config);
    if (f->server && f->config->tls_certificate && load_tls(f, err, sizeof(err)) < 0)
        log_event(LOG_ERR, &(LogFields){ .message_id = SQ_MSG_CONFIG_REFUSED, .reason = err },
                  "HTTPS certificate not reloaded: %s; the one in force stays", err);
    if (f->fanout)
        fanout_reread_allow_list(f->fanout);
    /* The reaper's next wake-up is a reaper-interval from its last, whichever: on_reaper() sets it. */
    notify_status(f);
}

void frontend_shutdown(Frontend *f) {
    sd_event *e = loop_event(f->loop);
    usec_t now;
    int r;

    if (f->stopping)
        return;
    f->stopping = true;
    server_stop_accepting(f->server);
    notify_status(f);

    (void)sd_event_now(e, CLOCK_MONOTONIC, &now);
    f->shutdown_deadline_usec =
        now + f->config->request_timeout_usec + f->config->reaper_interval_usec + SHUTDOWN_GRACE_USEC;
    r = sd_event_add_time(e, &f->shutdown_timer, CLOCK_MONOTONIC, now, 0, on_shutdown_poll, f);
    if (r >= 0)
        r = sd_event_source_set_enabled(f->shutdown_timer, SD_EVENT_ON);
    if (r < 0)
        (void)sd_event_exit(e, 0);
}

/* A scrape of /metrics: the counters STATUS= shows, and more. */
static void on_metrics(ServerRequest *req, void *userdata) {
    Frontend *f = userdata;
    FanoutStats fs;
    MetricsText m = { 0 };
    FrontendMetricsInput in = {
        .mode = sq_mode_to_string(f->config->mode),
        .stats = &f->stats,
        .pending = f->pending.count,
        .connections = server_connections(f->server),
        .max_connections = f->config->max_connections,
        .held_bytes = server_held_bytes(f->server),
        .max_held_bytes = f->config->max_held_bytes,
        .server = server_stats(f->server),
        .fanout = f->fanout ? &fs : NULL,
        .start_time_seconds = f->start_time_seconds,
        .max_fds = f->config->nofile_limit,
    };

    if (f->fanout) {
        fanout_stats(f->fanout, &fs);
        for (int k = 0; k < _WIRE_KIND_MAX; k++)
            in.peers[k] = fanout_peers(f->fanout, (WireKind)k);
    }
    frontend_metrics_write(&in, &m);
    if (metrics_done(&m) < 0) {
        server_send_error(req, 500, "out of memory", NULL, NULL);
        return;
    }
    server_send_text(req, 200, METRICS_CONTENT_TYPE, m.buf, m.len);
    free(m.buf);
}

int frontend_new(Loop *loop, const Config *c, const ServerListener *listeners, size_t n_listeners, Frontend **ret) {
    _cleanup_(frontend_freep) Frontend *f = calloc(1, sizeof(*f));
    sd_event *e = loop_event(loop);
    usec_t now;
    int r;

    if (!f)
        return -ENOMEM;
    f->config = c;
    f->loop = loop;
    f->rl_dropped = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    f->rl_timeout = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    f->rl_failed = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    f->rl_paused = RATELIMIT_INIT(10 * USEC_PER_SEC, 1);
    f->rl_closed = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    f->rl_rejected = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    f->rl_report = RATELIMIT_INIT(10 * USEC_PER_SEC, 10);
    f->rl_workers = RATELIMIT_INIT(10 * USEC_PER_SEC, 20);

    r = pending_table_init(&f->pending, c->max_pending);
    if (r < 0)
        return r;
    if (c->mode == SQ_MODE_WORKERS) {
        r = fanout_new(e, c,
                       &(FanoutCallbacks){ .on_reply = on_replies,
                                           .on_rejected = on_peer_rejected,
                                           .on_revoked = on_peer_revoked,
                                           .on_worker = on_worker,
                                           .on_report_refused = on_report_refused,
                                           .userdata = f },
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
    f->start_time_seconds = (double)now_usec(CLOCK_REALTIME) / 1e6;
    r = server_new(loop_h2o(loop), c, listeners, n_listeners,
                   &(ServerCallbacks){ .on_request = on_request,
                                       .on_metrics = on_metrics,
                                       .on_event = on_server_event,
                                       .on_answer = on_answer,
                                       .userdata = f },
                   &f->server);
    if (r < 0)
        return r;
    if (c->tls_certificate) {
        char err[CONFIG_ERROR_MAX];

        r = load_tls(f, err, sizeof(err));
        if (r < 0)
            return log_error_errno(r, "Failed to load the HTTPS certificate: %s", err);
    }

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
