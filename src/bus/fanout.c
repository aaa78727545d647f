/* SPDX-License-Identifier: MIT */
/*
 * ZeroMQ signals readiness through ZMQ_FD, which is edge-like: it only says
 * that the socket's state may have changed, and is reset whenever the socket
 * processes its commands, sends included. So every wake-up of a jobs socket
 * receives until EAGAIN, and after sending, fanout_flush() receives whatever came
 * while it sent (pump()); a timer's send (hedging) is followed by the loop's next
 * fanout_flush(), which reads the sockets then. Jobs are sent with ZMQ_DONTWAIT, so the loop never
 * blocks, and with ZMQ_ROUTER_MANDATORY, so a job addressed to a worker that is
 * gone is refused (EHOSTUNREACH) instead of vanishing: it stays queued here.
 *
 * Every kind's queue holds, in order, the jobs submitted since the last one
 * sent to that kind (minus cancelled ones), so two queues of the same length
 * hold the same jobs, and one message body serves both kinds.
 *
 * A worker's connection is known by its descriptor in disconnect events and in
 * ZMQ_SRCFD of its messages. A descriptor closed and reused for a new worker is
 * reported closed (monitor socket) before the new worker's first message can be
 * received (jobs socket): ZeroMQ's I/O thread queues the event before it accepts
 * the new connection. So the monitor is read before a peer is registered, and an
 * event never removes a peer that came after it.
 *
 * A worker turned away (its key left the allow-list) is cut with shutdown() on that
 * descriptor, which ZeroMQ's I/O thread owns: it sees the end of the stream, closes the
 * session and reports the disconnect. The monitor is read first, so the descriptor is
 * the worker's unless ZeroMQ closed and reused it in the microseconds since; then the
 * connection cut is a new one, whose worker connects again. Messages of the cut worker
 * still queued in the socket are recognised by its key (ZeroMQ's "User-Id", which the
 * ZAP handler sets to the key) and dropped unread.
 */

#include "fanout.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "hedge.h"
#include "keys.h"
#include "time-util.h"
#include "transport.h"
#include "zap.h"

_Static_assert(PEER_KEY_MAX == KEY_Z85_LEN + 1, "a peer holds a key as keys.h reads it");

#define MONITOR_EVENTS                                                                                                 \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                              \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
/* Peer addresses of connections accepted lately, by descriptor: for naming a peer whose
 * handshake fails (ZeroMQ's event names only our endpoint). A slot per fd % this. */
#define FANOUT_ACCEPTED_SLOTS 256
/* TCP connections accepted on the jobs endpoints and not yet a worker (no hello yet, no
 * disconnect): at most this many at once, the part of CONFIG_FD_WORKERS that the registered
 * workers leave. Past it the oldest is shut down: a flood of connections to a jobs port never
 * takes the descriptors HTTP clients need (libzmq would then spin on accept). One older than
 * FANOUT_HANDSHAKE_STALE_USEC is long gone (ZeroMQ drops it at 2 s): forgotten, not shut down. */
#define FANOUT_HANDSHAKES_MAX (CONFIG_FD_WORKERS - 2 * PEERS_MAX)
#define FANOUT_HANDSHAKE_STALE_USEC (4 * TRANSPORT_HANDSHAKE_IVL_MS * USEC_PER_MSEC)
_Static_assert(FANOUT_HANDSHAKES_MAX >= 64, "room for the handshakes of a fleet of workers starting at once");

struct Fanout {
    void *ctx;
    void *jobs[_WIRE_KIND_MAX]; /* ZMQ_ROUTER */
    sd_event_source *jobs_source[_WIRE_KIND_MAX], *monitor_source[_WIRE_KIND_MAX];
    void *monitor[_WIRE_KIND_MAX]; /* ZMQ_PAIR: disconnect events of jobs[k] */
    Zap *zap;
    Peers peers[_WIRE_KIND_MAX];
    struct {
        uint64_t id, peer; /* peer: the serial of the worker that has it */
        size_t len;
    } big[_WIRE_KIND_MAX][FANOUT_BIG_INFLIGHT_MAX]; /* big jobs out, awaiting their replies */
    size_t n_big[_WIRE_KIND_MAX], big_bytes[_WIRE_KIND_MAX];
    FanoutJob *head[_WIRE_KIND_MAX], *tail[_WIRE_KIND_MAX];
    FanoutJob *out_head[_WIRE_KIND_MAX]; /* jobs sent, their replies not reported: newest first */
    FanoutJob *out_tail[_WIRE_KIND_MAX]; /* and the oldest */
    Hedge hedge[_WIRE_KIND_MAX];
    sd_event_source *hedge_timer;
    usec_t hedge_at;         /* when the timer is armed for; 0: not armed */
    usec_t hedge_not_before; /* no other worker or no share left at the last look: not again before this */
    uint64_t redispatched[_WIRE_KIND_MAX];
    size_t queued[_WIRE_KIND_MAX], queued_bytes[_WIRE_KIND_MAX];
    usec_t reply_usec;  /* when the message being read (on_reply) came: one clock read for its batch */
    unsigned undrained; /* bit k: a job went to kind k since its socket was last read to EAGAIN (pump()) */
    uint64_t jobs_sent[_WIRE_KIND_MAX], batches_sent[_WIRE_KIND_MAX], reports_refused[_WIRE_KIND_MAX];
    sd_event_source *first_drain;
    FanoutCallbacks cb;
    bool pumping;
    struct {
        int fd; /* -1: empty */
        char address[PEER_ADDRESS_MAX];
    } accepted[FANOUT_ACCEPTED_SLOTS];
    struct {
        int fd;
        usec_t since;
        char address[PEER_ADDRESS_MAX];
    } handshakes[FANOUT_HANDSHAKES_MAX]; /* oldest first */
    size_t n_handshakes;
    const char *failing[_WIRE_KIND_MAX]; /* a handshake failed (why), its disconnect not seen yet */
};

/* The job's bytes, when fanout owns them, go once no kind has it queued or out (and, when
 * shared, once ZeroMQ is done with the messages that carry them). */
static void release_data(FanoutJob *job) {
    if (job->unsent == 0 && job->out == 0 && (job->shared || job->taken)) {
        shared_bytes_unref(job->shared);
        free(job->taken);
        job->shared = NULL;
        job->taken = NULL;
        job->data = NULL;
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
    release_data(job);
}

/* Kind k's part of job is out with worker `holder` (since now) until settled, cancelled or moved. */
static void out_link(Fanout *f, FanoutJob *job, int k, uint64_t holder, usec_t now) {
    job->out_prev[k] = NULL;
    job->out_next[k] = f->out_head[k];
    if (f->out_head[k])
        f->out_head[k]->out_prev[k] = job;
    else
        f->out_tail[k] = job;
    f->out_head[k] = job;
    job->holder[k] = holder;
    job->hedge[k] = 0;
    job->sent_usec[k] = now;
    job->out |= (uint8_t)(1u << k);
}

static void out_unlink(Fanout *f, FanoutJob *job, int k) {
    if (job->out_prev[k])
        job->out_prev[k]->out_next[k] = job->out_next[k];
    else
        f->out_head[k] = job->out_next[k];
    if (job->out_next[k])
        job->out_next[k]->out_prev[k] = job->out_prev[k];
    else
        f->out_tail[k] = job->out_prev[k];
    job->out_prev[k] = job->out_next[k] = NULL;
    job->out &= (uint8_t) ~(1u << k);
    release_data(job);
}

/* Queues kind k's part of a job that a lost worker had: first in line, it has waited already. */
static void requeue_job(Fanout *f, FanoutJob *job, int k) {
    job->prev[k] = NULL;
    job->next[k] = f->head[k];
    if (f->head[k])
        f->head[k]->prev[k] = job;
    else
        f->tail[k] = job;
    f->head[k] = job;
    job->unsent |= (uint8_t)(1u << k);
    f->queued[k]++;
    f->queued_bytes[k] += job->len;
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
static size_t batch_extent(Fanout *f, int k, size_t most, size_t *ret_size) {
    size_t n = 0, size = 1; /* '[' */

    for (FanoutJob *job = f->head[k]; job && n < WIRE_BATCH_MAX && n < most; job = job->next[k]) {
        if (n > 0 && size + job->len + 1 > WIRE_BATCH_BYTES)
            break;
        size += job->len + 1; /* the job, then ',' or ']' */
        n++;
    }
    *ret_size = size;
    return n;
}

/* A message of one job: the job object alone. */
static int job_message(const FanoutJob *job, zmq_msg_t *ret) {
    if (job->shared) { /* a big job's own bytes: no copy of megabytes, nor fresh pages to fault in */
        shared_bytes_ref(job->shared);
        if (zmq_msg_init_data(ret, (void *)job->data, job->len, shared_bytes_free_fn, job->shared) < 0) {
            int r = -errno;

            shared_bytes_unref(job->shared);
            return r;
        }
        return 0;
    }
    if (zmq_msg_init_size(ret, job->len) < 0)
        return -errno;
    memcpy(zmq_msg_data(ret), job->data, job->len);
    return 0;
}

/* A message of n jobs: a JSON array, or the job object alone when n is 1 (size counts the brackets). */
static int build_batch(Fanout *f, int k, size_t n, size_t size, zmq_msg_t *ret) {
    FanoutJob *job = f->head[k];
    char *p;

    if (n == 1)
        return job_message(job, ret);
    if (zmq_msg_init_size(ret, size) < 0)
        return -errno;
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

static void big_sent(Fanout *f, int k, const FanoutJob *job, uint64_t peer) {
    if (job->len <= WIRE_BATCH_BYTES)
        return;
    f->big[k][f->n_big[k]].id = job->id;
    f->big[k][f->n_big[k]].peer = peer;
    f->big[k][f->n_big[k]].len = job->len;
    f->n_big[k]++;
    f->big_bytes[k] += job->len;
}

/* A worker is gone, and whatever ZeroMQ held for it: its big jobs no longer count. */
static void settle_peer(Fanout *f, int k, uint64_t serial) {
    for (size_t i = 0; i < f->n_big[k];)
        if (f->big[k][i].peer == serial) {
            f->big_bytes[k] -= f->big[k][i].len;
            f->big[k][i] = f->big[k][--f->n_big[k]];
        } else
            i++;
}

/* A worker is gone: the jobs it had go back to the head of the queue, in the order sent. The
 * list of jobs out is newest first, and each goes in front of the queue: the oldest ends first.
 * A job hedged stays out with the other worker that has it. */
static size_t redispatch(Fanout *f, int k, uint64_t serial) {
    FanoutJob *next;
    size_t moved = 0;

    for (FanoutJob *job = f->out_head[k]; job; job = next) {
        next = job->out_next[k];
        if (job->hedge[k] == serial)
            job->hedge[k] = 0;
        if (job->holder[k] != serial)
            continue;
        if (job->hedge[k]) {
            job->holder[k] = job->hedge[k];
            job->hedge[k] = 0;
            continue;
        }
        requeue_job(f, job, k); /* first: queued, its bytes stay (release_data) */
        out_unlink(f, job, k);
        moved++;
    }
    f->redispatched[k] += moved;
    return moved;
}

static void drop_peer(Fanout *f, int k, Peer *p) {
    Peer gone = *p;
    size_t moved;

    settle_peer(f, k, p->serial);
    peers_remove(&f->peers[k], p);
    moved = redispatch(f, k, gone.serial);
    if (f->cb.on_worker)
        f->cb.on_worker((WireKind)k, false, &gone, f->peers[k].n, moved, f->cb.userdata);
}

/* The counters a grant of p's carried, if any: figures for metrics only, so junk costs p no credit. */
static void take_counters(Fanout *f, int k, Peer *p, WireGrant *grant) {
    if (!grant->counters_error && grant->has_counters && peers_report(p, &grant->counters) < 0)
        grant->counters_error = "a counter below the worker's last report";
    if (grant->counters_error) {
        f->reports_refused[k]++;
        f->cb.on_report_refused((WireKind)k, p->serial, grant->counters_error, f->cb.userdata);
    }
}

/* Sends body to worker p: 0, or -EHOSTUNREACH (gone), -EAGAIN (its queue is full), another error. */
static int send_to(Fanout *f, int k, const Peer *p, zmq_msg_t *body) {
    zmq_msg_t copy;

    f->undrained |= 1u << k; /* pump() reads the socket after this */
    if (zmq_send(f->jobs[k], p->id, p->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -errno;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, body); /* shares the bytes */
    if (zmq_msg_send(&copy, f->jobs[k], ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&copy);
        return -errno;
    }
    return 0;
}

void fanout_settle_job(Fanout *f, FanoutJob *job, WireKind k, uint64_t worker) {
    if (!(job->out & (1u << k)))
        return;
    hedge_replied(&f->hedge[k], f->reply_usec - job->sent_usec[k]);
    if (job->hedge[k])
        hedge_settled(&f->hedge[k], job->id, worker == job->hedge[k]);
    out_unlink(f, job, k);
}

bool fanout_late_hedge(Fanout *f, WireKind k, uint64_t id) {
    return hedge_late(&f->hedge[k], id);
}

void fanout_settle(Fanout *f, WireKind k, uint64_t id) {
    for (size_t i = 0; i < f->n_big[k]; i++)
        if (f->big[k][i].id == id) {
            f->big_bytes[k] -= f->big[k][i].len;
            f->big[k][i] = f->big[k][--f->n_big[k]];
            return;
        }
}

/* Whether kind i's queue starts with the same n jobs as kind k's: then one body serves both. */
static bool same_batch(Fanout *f, int k, int i, size_t n) {
    const FanoutJob *a = f->head[k], *b = f->head[i];

    if (i == k)
        return true;
    for (size_t j = 0; j < n; j++, a = a->next[k], b = b->next[i])
        if (!a || a != b)
            return false;
    return true;
}

/* With several workers of kind i with credit, one message takes no more than its part of what
 * waits now: a worker that grants more than the others does not take every job while they could. */
static size_t fair_share(Fanout *f, int i) {
    size_t with = peers_with_credit(&f->peers[i]);

    return with > 1 ? (f->queued[i] + with - 1) / with : SIZE_MAX;
}

/* Sends what is queued to the workers with credit, as far as they can take it now. */
static void send_all(Fanout *f) {
    bool blocked[_WIRE_KIND_MAX] = { false };
    size_t share[_WIRE_KIND_MAX];
    usec_t now = 0; /* read once, at the first message sent: most calls send nothing */

    for (int i = 0; i < _WIRE_KIND_MAX; i++)
        share[i] = fair_share(f, i);

    for (;;) {
        bool same[_WIRE_KIND_MAX] = { false };
        Peer *to[_WIRE_KIND_MAX] = { NULL };
        zmq_msg_t batch;
        size_t n, size, most;
        int k = 0;

        for (int i = 0; i < _WIRE_KIND_MAX; i++)
            if (!blocked[i] && f->head[i] && (!big_allowed(f, i) || !(to[i] = peers_pick(&f->peers[i]))))
                blocked[i] = true;
        while (k < _WIRE_KIND_MAX && (blocked[k] || !f->head[k]))
            k++;
        if (k == _WIRE_KIND_MAX)
            return;
        most = SIZE_MAX;
        for (int i = k; i < _WIRE_KIND_MAX; i++)
            if (!blocked[i] && f->head[i] && share[i] < most)
                most = share[i];
        n = batch_extent(f, k, most, &size);
        if (build_batch(f, k, n, size, &batch) < 0)
            return; /* out of memory: the jobs stay queued, their timeout bounds the wait */
        for (int i = k; i < _WIRE_KIND_MAX; i++)
            same[i] = !blocked[i] && same_batch(f, k, i, n);

        for (int i = k; i < _WIRE_KIND_MAX; i++) {
            int r;

            if (!same[i])
                continue;
            r = send_to(f, i, to[i], &batch);
            if (r == -EHOSTUNREACH) {
                drop_peer(f, i, to[i]); /* gone: the next round picks another */
                continue;
            }
            if (r == -EAGAIN) {
                to[i]->credit = 0; /* more credit than ZeroMQ's queue: wait for its next grant */
                continue;
            }
            if (r < 0) {
                blocked[i] = true;
                continue;
            }
            if (n == 1)
                big_sent(f, i, f->head[i], to[i]->serial);
            peers_sent(&f->peers[i], to[i]);
            f->jobs_sent[i] += n;
            f->batches_sent[i]++;
            hedge_sent(&f->hedge[i], n);
            if (!now)
                now = now_usec(CLOCK_MONOTONIC);
            for (size_t j = 0; j < n; j++) {
                FanoutJob *job = f->head[i];

                out_link(f, job, i, to[i]->serial, now); /* first: the bytes stay while it is out */
                unlink_job(f, job, i);
            }
        }
        zmq_msg_close(&batch);
    }
}

/* The handshake on fd is over: it said hello, or it is gone. */
static void handshake_over(Fanout *f, int fd) {
    for (size_t i = 0; i < f->n_handshakes; i++)
        if (f->handshakes[i].fd == fd) {
            memmove(&f->handshakes[i], &f->handshakes[i + 1], (f->n_handshakes - i - 1) * sizeof(f->handshakes[0]));
            f->n_handshakes--;
            return;
        }
}

/* The peer address of TCP connection fd, "ADDR:PORT" ("[ADDR]:PORT" for IPv6), into buf;
 * false when it is closed already or not TCP (ipc://). */
static bool peer_address(int fd, char buf[static PEER_ADDRESS_MAX]) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN] = "";
    uint16_t port;

    if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
        return false;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    } else
        return false;
    snprintf(buf, PEER_ADDRESS_MAX, sa.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
    return true;
}

/* Whether fd is still the connection from address: descriptor numbers are reused. */
static bool still_from(int fd, const char *address) {
    char now[PEER_ADDRESS_MAX];

    return peer_address(fd, now) && strcmp(now, address) == 0;
}

/* A TCP connection accepted: one more handshake under way, the oldest cut past the cap. */
static void handshake_started(Fanout *f, int fd, const char *address) {
    usec_t now = now_usec(CLOCK_MONOTONIC);

    handshake_over(f, fd); /* a number reused before its disconnect was read */
    if (f->n_handshakes == FANOUT_HANDSHAKES_MAX) {
        int old = f->handshakes[0].fd;
        usec_t since = f->handshakes[0].since;
        char who[PEER_ADDRESS_MAX];

        snprintf(who, sizeof(who), "%s", f->handshakes[0].address);
        handshake_over(f, old);
        if (now - since < FANOUT_HANDSHAKE_STALE_USEC && still_from(old, who)) {
            (void)shutdown(old, SHUT_RDWR);
            f->cb.on_rejected(who, NULL, "too many connections to the jobs endpoints in their handshake",
                              f->cb.userdata);
        }
    }
    f->handshakes[f->n_handshakes].fd = fd;
    f->handshakes[f->n_handshakes].since = now;
    snprintf(f->handshakes[f->n_handshakes++].address, PEER_ADDRESS_MAX, "%s", address);
}

/* A connection accepted: its peer's address, kept by descriptor while the fd is still its own. */
static void remember_accepted(Fanout *f, int fd) {
    char address[PEER_ADDRESS_MAX];
    int slot = fd % FANOUT_ACCEPTED_SLOTS;

    if (fd < 0)
        return;
    f->accepted[slot].fd = -1;
    if (!peer_address(fd, address))
        return; /* closed already (the fd may be another's by now), or ipc://: no address to give */
    memcpy(f->accepted[slot].address, address, sizeof(address));
    f->accepted[slot].fd = fd;
    handshake_started(f, fd, address);
}

/* A handshake failed on kind k, and now its connection (fd) is gone: the peer is named by the
 * address its accept left, else by our endpoint. ZeroMQ reports the two events back to back. */
static void report_failed_handshake(Fanout *f, int k, int fd, const char *endpoint) {
    int slot = fd >= 0 ? fd % FANOUT_ACCEPTED_SLOTS : 0;
    char who[CONFIG_ENDPOINT_MAX + 16];

    if (fd >= 0 && f->accepted[slot].fd == fd)
        snprintf(who, sizeof(who), "%s", f->accepted[slot].address);
    else
        snprintf(who, sizeof(who), "unknown address, on %s", endpoint);
    f->cb.on_rejected(who, NULL, f->failing[k], f->cb.userdata);
    f->failing[k] = NULL;
}

/* Disconnect and failed-handshake events of kind k's socket, in order. */
static void read_monitor(Fanout *f, int k) {
    for (;;) {
        zmq_msg_t msg;
        uint16_t event = 0;
        uint32_t value = 0;
        char endpoint[CONFIG_ENDPOINT_MAX] = "";
        int more;

        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, f->monitor[k], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        more = zmq_msg_more(&msg);
        if (zmq_msg_size(&msg) >= sizeof(event) + sizeof(value)) {
            memcpy(&event, zmq_msg_data(&msg), sizeof(event));
            memcpy(&value, (char *)zmq_msg_data(&msg) + sizeof(event), sizeof(value));
        }
        zmq_msg_close(&msg);
        if (more) { /* the second frame names the endpoint; it comes with the first */
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, f->monitor[k], ZMQ_DONTWAIT) >= 0) {
                size_t len = zmq_msg_size(&msg) < sizeof(endpoint) - 1 ? zmq_msg_size(&msg) : sizeof(endpoint) - 1;
                memcpy(endpoint, zmq_msg_data(&msg), len);
                endpoint[len] = '\0';
            }
            zmq_msg_close(&msg);
        }
        if (event == ZMQ_EVENT_ACCEPTED)
            remember_accepted(f, (int)value);
        else if (event == ZMQ_EVENT_DISCONNECTED) {
            Peer *p;

            handshake_over(f, (int)value);
            while ((p = peers_find_fd(&f->peers[k], (int)value)))
                drop_peer(f, k, p);
            if (f->failing[k])
                report_failed_handshake(f, k, (int)value, endpoint);
        } else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
            f->failing[k] = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                ? "handshake failed: protocol error (a peer without CURVE, or the wrong server key?)"
                                : "handshake failed: a peer without CURVE, the wrong server key, or too slow";
    }
}

/* Copies a metadata property of msg (ZeroMQ's, set at the handshake) into buf, or "". */
static void copy_property(zmq_msg_t *msg, const char *name, char *buf, size_t size) {
    const char *v = zmq_msg_gets(msg, name);

    snprintf(buf, size, "%s", v ? v : "");
}

/*
 * The table of kind k is full: a peer that said hello and never granted credit for
 * FANOUT_SILENT_PEER_USEC takes a slot and does no work (130 such connections filled it), so
 * the oldest such goes, its connection shut, for the newcomer. False if there is none.
 */
static bool evict_silent_peer(Fanout *f, int k) {
    usec_t now = now_usec(CLOCK_MONOTONIC);
    Peer *oldest = NULL;

    for (size_t i = 0; i < f->peers[k].n; i++) {
        Peer *p = &f->peers[k].peer[i];

        if (!p->granted && now - p->opened_usec >= FANOUT_SILENT_PEER_USEC &&
            (!oldest || p->opened_usec < oldest->opened_usec))
            oldest = p;
    }
    if (!oldest)
        return false;
    (void)shutdown(oldest->fd, SHUT_RDWR);
    drop_peer(f, k, oldest);
    return true;
}

/* A new connection of kind k's (hello) or a grant from one not known yet: registered, credit 0. */
static Peer *open_peer(Fanout *f, int k, zmq_msg_t *id, zmq_msg_t *body, int fd) {
    uint64_t replaced;
    Peer *p;
    int r;

    read_monitor(f, k); /* every event older than this connection first (see the top) */
    r = peers_open(&f->peers[k], zmq_msg_data(id), zmq_msg_size(id), fd, &p, &replaced);
    if (r == -ENOSPC && evict_silent_peer(f, k))
        r = peers_open(&f->peers[k], zmq_msg_data(id), zmq_msg_size(id), fd, &p, &replaced);
    if (r < 0)
        return NULL;
    if (replaced) { /* a connection that went before its disconnect was read: its jobs move too */
        settle_peer(f, k, replaced);
        redispatch(f, k, replaced);
    }
    p->opened_usec = now_usec(CLOCK_MONOTONIC);
    handshake_over(f, fd); /* its hello: the handshake is over */
    if (f->zap) {
        copy_property(body, "User-Id", p->key, sizeof(p->key));
        copy_property(body, "Peer-Address", p->address, sizeof(p->address));
    }
    if (f->cb.on_worker && !replaced)
        f->cb.on_worker((WireKind)k, true, p, f->peers[k].n, 0, f->cb.userdata);
    return p;
}

/*
 * The allow-list was read again (zap.h): every connected worker whose key it no longer
 * admits (or the list no longer readable: as the ZAP handler, when in doubt, no) is turned away.
 */
static void on_allow_list_change(void *userdata) {
    Fanout *f = userdata;

    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        read_monitor(f, k); /* the peers gone are dropped first: the descriptors left are theirs */
        for (size_t i = 0; i < f->peers[k].n;) {
            Peer *p = &f->peers[k].peer[i];
            char key[KEY_Z85_LEN + 1], address[PEER_ADDRESS_MAX];

            if (!p->key[0] || zap_admits(f->zap, p->key)) {
                i++;
                continue;
            }
            memcpy(key, p->key, sizeof(key));
            memcpy(address, p->address, sizeof(address));
            (void)shutdown(p->fd, SHUT_RDWR);
            drop_peer(f, k, p); /* the last peer moves into slot i */
            f->cb.on_revoked(address, key, (WireKind)k, f->cb.userdata);
        }
    }
}

/* Whether a message comes from a worker the allow-list admits now ("User-Id" is its key, as
 * the ZAP handler said; a connection without one was not admitted by key). */
static bool admitted(const Fanout *f, zmq_msg_t *body) {
    const char *key = zmq_msg_gets(body, "User-Id");

    return !key || !key[0] || zap_admits(f->zap, key);
}

/* One message from a worker: [routing id][body]. */
static void handle(Fanout *f, int k, zmq_msg_t *id, zmq_msg_t *body) {
    const char *data = zmq_msg_data(body);
    size_t len = zmq_msg_size(body);
    int fd = zmq_msg_get(body, ZMQ_SRCFD);
    uint64_t credit;
    WireGrant grant;
    Peer *p;
    int r;

    if (f->zap && !admitted(f, body))
        return;     /* from a worker turned away, sent before its connection was cut */
    if (len == 0) { /* hello: a new connection; ask it for credit with an empty message */
        if (open_peer(f, k, id, body, fd)) {
            (void)zmq_msg_send(id, f->jobs[k], ZMQ_SNDMORE | ZMQ_DONTWAIT);
            (void)zmq_send(f->jobs[k], "", 0, ZMQ_DONTWAIT);
        } else
            f->cb.on_rejected("a worker", NULL, "too many workers of a kind", f->cb.userdata);
        return;
    }
    r = wire_read_grant(data, len, &grant);
    if (r <= 0) {
        p = peers_find(&f->peers[k], zmq_msg_data(id), zmq_msg_size(id));
        /* a bad grant is logged as a bad reply */
        f->reply_usec = now_usec(CLOCK_MONOTONIC);
        f->cb.on_reply(data, len, (WireKind)k, p ? p->serial : 0, f->cb.userdata);
        return;
    }
    credit = grant.credit;
    p = peers_find(&f->peers[k], zmq_msg_data(id), zmq_msg_size(id));
    if (!p)
        p = open_peer(f, k, id, body, fd);
    if (p)
        peers_grant(p, credit, FANOUT_SNDHWM);
    if (p)
        take_counters(f, k, p, &grant);
}

/* Receives from kind k's socket until there is nothing more: true if anything came. */
static bool receive(Fanout *f, int k) {
    bool any = false;

    for (;;) {
        zmq_msg_t id, body;

        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, f->jobs[k], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return any; /* EAGAIN, or ETERM at shutdown */
        }
        any = true;
        zmq_msg_init(&body);
        /* A ROUTER's message is [routing id][body...], all there once the first frame is. */
        if (!zmq_msg_more(&id) || zmq_msg_recv(&body, f->jobs[k], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            continue;
        }
        if (!zmq_msg_more(&body))
            handle(f, k, &id, &body);
        else /* more than one frame: not ours; dropped whole */
            while (zmq_msg_more(&body) && zmq_msg_recv(&body, f->jobs[k], ZMQ_DONTWAIT) >= 0)
                ;
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

/* --- hedging: a second worker for a job whose reply is late ---------------------------------- */

/* Whether kind k's part of job may go to a second worker: not yet, and not a big job (those are
 * metered, and go once). */
static bool hedgeable(const FanoutJob *job, int k) {
    return !job->hedge[k] && job->len <= WIRE_BATCH_BYTES;
}

/* The oldest job of kind k out that may be hedged, or NULL. */
static FanoutJob *oldest_unhedged(Fanout *f, int k) {
    FanoutJob *job = f->out_tail[k];

    while (job && !hedgeable(job, k))
        job = job->out_prev[k];
    return job;
}

/* Arms the timer for the first job that may need hedging, if none earlier is armed. */
static void hedge_arm(Fanout *f) {
    usec_t at = UINT64_MAX;

    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        FanoutJob *job;
        usec_t due;

        if (f->peers[k].n < 2 || !(job = oldest_unhedged(f, k)))
            continue; /* with one worker there is no other to ask */
        due = job->sent_usec[k] + hedge_delay(&f->hedge[k]);
        if (due < at)
            at = due;
    }
    if (at == UINT64_MAX)
        return; /* nothing to wait for */
    if (at < f->hedge_not_before)
        at = f->hedge_not_before;
    if (f->hedge_at && f->hedge_at <= at)
        return; /* armed earlier: it looks again when it fires */
    if (sd_event_source_set_time(f->hedge_timer, at) >= 0 &&
        sd_event_source_set_enabled(f->hedge_timer, SD_EVENT_ONESHOT) >= 0)
        f->hedge_at = at;
}

/* Sends kind k's part of job, alone, to worker p: 0 or a negative errno (send_to's). */
static int send_one(Fanout *f, int k, FanoutJob *job, const Peer *p) {
    zmq_msg_t msg;
    int r = job_message(job, &msg);

    if (r < 0)
        return r;
    r = send_to(f, k, p, &msg);
    zmq_msg_close(&msg);
    return r;
}

static int on_hedge_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Fanout *f = userdata;
    usec_t now = now_usec(CLOCK_MONOTONIC);

    f->hedge_at = 0;
    f->hedge_not_before = 0;
    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        usec_t delay = hedge_delay(&f->hedge[k]);

        if (f->peers[k].n < 2)
            continue; /* no other worker to ask */
        if (f->head[k]) {
            f->hedge_not_before = now + HEDGE_DELAY_MIN_USEC;
            continue; /* jobs wait for a worker: the workers are busy, not slow; look again later */
        }
        for (FanoutJob *job = f->out_tail[k]; job && job->sent_usec[k] + delay <= now; job = job->out_prev[k]) {
            Peer *p;

            if (!hedgeable(job, k))
                continue;
            if (!(p = peers_pick_other(&f->peers[k], job->holder[k])) || !hedge_take(&f->hedge[k]) ||
                send_one(f, k, job, p) < 0) {
                /* No other worker with credit, no share left, or it is gone or full: a grant, a
                 * job sent or the monitor changes that, so look again in a while, not at once. */
                f->hedge_not_before = now + HEDGE_DELAY_MIN_USEC;
                break;
            }
            peers_sent(&f->peers[k], p);
            job->hedge[k] = p->serial;
        }
    }
    hedge_arm(f);
    return 0;
}

/*
 * Sends what can go and receives until both are done. A send may process a socket's commands,
 * which resets its ZMQ_FD, so after one (f->undrained) that socket is read to EAGAIN here; so is
 * each whose ZMQ_FD woke us (woken, bit k for kind k). Any other has nothing waiting unseen: its
 * last read went to EAGAIN, nothing touched it since, and whatever came since keeps its ZMQ_FD
 * readable until it is read (a call on the socket is what takes the signal). Reading only those
 * saves a read to EAGAIN per socket and wake-up: libzmq's two system calls each (getpid, poll).
 * True if anything was received.
 */
static bool pump(Fanout *f, unsigned woken) {
    bool any = false;

    if (f->pumping)
        return false; /* a callback of receive() flushed: the loop below goes on anyway */
    f->pumping = true;
    for (;;) {
        unsigned drain;
        bool got = false;

        send_all(f);
        drain = woken | f->undrained;
        if (!drain)
            break;
        woken = f->undrained = 0;
        for (int k = 0; k < _WIRE_KIND_MAX; k++)
            if (drain & (1u << k))
                got |= receive(f, k);
        if (!got)
            break;
        any = true; /* grants may let more go */
    }
    f->pumping = false;
    hedge_arm(f);
    return any;
}

bool fanout_flush(Fanout *f) {
    return pump(f, 0);
}

static int on_jobs_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Fanout *f = userdata;
    unsigned woken = 0;

    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        if (s == f->jobs_source[k])
            woken |= 1u << k;
    pump(f, woken);
    return 0;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Fanout *f = userdata;

    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        read_monitor(f, k);
    pump(f, 0); /* a worker gone may have left jobs for others */
    return 0;
}

static int watch(sd_event *e, void *sock, sd_event_source **ret, sd_event_io_handler_t cb, void *userdata) {
    size_t len = sizeof(int);
    int fd;

    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0)
        return -errno;
    return sd_event_add_io(e, ret, fd, EPOLLIN, cb, userdata);
}

static int monitor(sd_event *e, Fanout *f, int k) {
    char address[64];
    int r;

    snprintf(address, sizeof(address), "inproc://sqdiff-jobs-monitor-%d", k);
    if (zmq_socket_monitor(f->jobs[k], address, MONITOR_EVENTS) < 0)
        return -errno;
    f->monitor[k] = zmq_socket(f->ctx, ZMQ_PAIR);
    if (!f->monitor[k])
        return -errno;
    r = transport_set_int(f->monitor[k], ZMQ_LINGER, 0);
    if (r < 0)
        return r;
    if (zmq_connect(f->monitor[k], address) < 0)
        return -errno;
    r = watch(e, f->monitor[k], &f->monitor_source[k], on_monitor, f);
    if (r < 0)
        return r;
    read_monitor(f, k); /* ZMQ_FD only signals changes: read once now */
    return 0;
}

static void on_zap_reject(const char *address, const char *key, const char *reason, void *userdata) {
    Fanout *f = userdata;

    f->cb.on_rejected(address, key, reason, f->cb.userdata);
}

/*
 * libzmq resolves the host of a tcp:// endpoint it binds as an interface name first, with
 * getifaddrs(), and aborts when that fails (ip_resolver.cpp in 4.3.4): under a unit whose
 * RestrictAddressFamilies= lacks AF_NETLINK it would. Only "*" skips it. -EAFNOSUPPORT then,
 * which the caller reports, instead of an abort.
 */
static int check_bindable(const char *endpoint) {
    int fd;

    if (strncmp(endpoint, "tcp://", 6) != 0 || strncmp(endpoint + 6, "*:", 2) == 0)
        return 0;
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return errno == EAFNOSUPPORT || errno == EPERM || errno == EACCES ? -EAFNOSUPPORT : 0;
    close(fd);
    return 0;
}

static int bind_kind(sd_event *e, Fanout *f, const Config *c, const TransportKeys *keys, int k) {
    static const ConfigEndpoint job_endpoint[_WIRE_KIND_MAX] = {
        [WIRE_SUM] = ENDPOINT_JOBS_SUM,
        [WIRE_SQUARE] = ENDPOINT_JOBS_SQUARE,
    };
    const char *cursor = c->endpoint[job_endpoint[k]];
    char endpoint[CONFIG_ENDPOINT_MAX];
    int64_t maxmsg = WIRE_REPLY_MESSAGE_MAX;
    int r;

    peers_init(&f->peers[k]);
    f->jobs[k] = zmq_socket(f->ctx, ZMQ_ROUTER);
    if (!f->jobs[k])
        return -errno;
    /* Few messages per worker: what ZeroMQ holds cannot be cancelled when its request times
     * out. Jobs beyond wait in this module's queue, where a timeout does cancel them. */
    if ((r = transport_set_int(f->jobs[k], ZMQ_SNDHWM, FANOUT_SNDHWM)) < 0 ||
        (r = transport_set_int(f->jobs[k], ZMQ_LINGER, 0)) < 0 ||
        (r = transport_set_int(f->jobs[k], ZMQ_ROUTER_MANDATORY, 1)) < 0)
        return r;
    /* Two replies per pending request may be in flight, and a burst must queue, not be lost. */
    r = transport_set_int(f->jobs[k], ZMQ_RCVHWM,
                          c->max_pending > INT32_MAX / 4 ? INT32_MAX / 2 : (int)c->max_pending * 2 + 1000);
    if (r < 0)
        return r;
    if (zmq_setsockopt(f->jobs[k], ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
        return -errno;
    r = transport_setup(f->jobs[k], keys, true);
    if (r < 0)
        return r;
    r = monitor(e, f, k); /* before the binds: no event may be missed */
    if (r < 0)
        return r;
    while (config_endpoint_next(&cursor, endpoint)) {
        r = check_bindable(endpoint);
        if (r < 0)
            return r;
        if (zmq_bind(f->jobs[k], endpoint) < 0)
            return -errno;
        /* Workers run as another user of the group: the socket file is group-writable whatever
         * the umask, so a unit may run with UMask=0077 (the directory keeps others out). */
        if (strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '@' && chmod(endpoint + 6, 0660) < 0)
            return -errno;
    }
    return watch(e, f->jobs[k], &f->jobs_source[k], on_jobs_socket, f);
}

/*
 * ZMQ_FD only signals changes: each socket is read once to arm it. Not at set-up but from
 * the loop's first pass, once the caller has loaded its seccomp filter: what workers send
 * is untrusted.
 */
static int on_first_drain(sd_event_source *s, void *userdata) {
    Fanout *f = userdata;

    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        (void)receive(f, k);
    return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

int fanout_new(sd_event *e, const Config *c, const FanoutCallbacks *cb, Fanout **ret) {
    _cleanup_(fanout_freep) Fanout *f = calloc(1, sizeof(*f));
    TransportKeys keys;
    const char *path = NULL;
    int r;

    if (!f)
        return -ENOMEM;
    f->cb = *cb;
    for (size_t i = 0; i < FANOUT_ACCEPTED_SLOTS; i++)
        f->accepted[i].fd = -1;
    r = transport_load_keys(c, false, &keys, &path);
    if (r < 0)
        return r;
    f->ctx = zmq_ctx_new();
    if (!f->ctx) {
        transport_keys_done(&keys);
        return -errno;
    }
    if (keys.curve)
        r = zap_new(e, f->ctx, c->curve_allowed_keys,
                    &(ZapCallbacks){ .on_reject = on_zap_reject, .on_change = on_allow_list_change, .userdata = f },
                    &f->zap);
    for (int k = 0; r >= 0 && k < _WIRE_KIND_MAX; k++)
        r = bind_kind(e, f, c, &keys, k);
    transport_keys_done(&keys);
    if (r < 0)
        return r;
    r = sd_event_add_defer(e, &f->first_drain, on_first_drain, f);
    if (r < 0)
        return r;
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        hedge_init(&f->hedge[k]);
    r = sd_event_add_time(e, &f->hedge_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_hedge_timer, f);
    if (r < 0)
        return r;
    r = sd_event_source_set_enabled(f->hedge_timer, SD_EVENT_OFF);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(f);
    return 0;
}

Fanout *fanout_free(Fanout *f) {
    if (!f)
        return NULL;
    sd_event_source_disable_unref(f->first_drain);
    sd_event_source_disable_unref(f->hedge_timer);
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        while (f->head[k])
            unlink_job(f, f->head[k], k);
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
    zap_free(f->zap);
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    free(f);
    return NULL;
}

void fanout_submit(Fanout *f, FanoutJob *job, uint64_t id, const char *data, size_t len, bool take) {
    *job = (FanoutJob){ .id = id, .data = data, .len = len };
    if (take && !(job->shared = shared_bytes_new((char *)data)))
        job->taken = (char *)data;
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        link_job(f, job, k);
}

void fanout_cancel(Fanout *f, FanoutJob *job) {
    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        if (job->unsent & (1u << k))
            unlink_job(f, job, k);
        if (job->out & (1u << k))
            out_unlink(f, job, k);
    }
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
        ret->reports_refused[k] = f->reports_refused[k];
        ret->jobs_redispatched[k] = f->redispatched[k];
        ret->jobs_hedged[k] = f->hedge[k].hedged;
        ret->hedges_won[k] = f->hedge[k].won;
        ret->hedges_late[k] = f->hedge[k].late_dropped;
    }
}

void fanout_reread_allow_list(Fanout *f) {
    if (f->zap)
        zap_reread(f->zap);
}

const Peers *fanout_peers(Fanout *f, WireKind k) {
    return &f->peers[k];
}
