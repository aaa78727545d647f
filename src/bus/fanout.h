/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's side of the ZeroMQ contract (docs/protocol.md): binds a ROUTER
 * socket per kind of job to each of that kind's endpoints. Workers connect, each
 * connection says hello (an empty message) and grants credit ({"ready":N}: N more
 * job messages; a grant may also report the worker's counters, which peers.h keeps
 * for metrics); jobs go only to a worker with credit (peers.h chooses which), and
 * its replies come back on the same connection, whichever front end it serves. Every
 * other message from a worker is handed to a callback, with the kind of the socket
 * it came on. It moves bytes only; wire.c gives them meaning. Reply messages larger
 * than WIRE_REPLY_MESSAGE_MAX make ZeroMQ drop the sender.
 *
 * With CURVE keys (transport.h) every socket is a CURVE server, and a ZAP handler
 * (zap.h) admits only the workers in the allow-list; rejected handshakes are handed
 * to the on_rejected callback. A worker whose key leaves the allow-list while it is
 * connected is turned away within ZAP_WATCH_USEC: no job is sent to it from then on,
 * nothing it sends is read, its connection is shut down (its reconnections then meet the
 * ZAP handler), and on_revoked is told.
 *
 * Jobs are batched: fanout_submit() only queues a job, and fanout_flush(),
 * called once per pass of the event loop, sends each kind's queue as JSON
 * arrays of up to WIRE_BATCH_MAX jobs (WIRE_BATCH_BYTES). Under load one
 * message then carries the jobs of many requests, so the cost of crossing
 * ZeroMQ (a wake-up of its I/O threads and the workers) is shared by them;
 * a lone request still leaves in the pass that made it.
 *
 * Big jobs (over WIRE_BATCH_BYTES, sent alone) are metered: once handed to
 * ZeroMQ a job cannot be taken back, and for a stalled worker it would stay in
 * ZeroMQ's queue after its request timed out. So at most FANOUT_BIG_INFLIGHT_BYTES
 * of them per kind (always at least one) are out at a time, until the caller
 * reports their replies (fanout_settle(), late ones too) or ZeroMQ reports the
 * worker that had them gone (its queue went with it). Small jobs are bounded by the
 * worker's credit, and ZeroMQ by FANOUT_SNDHWM messages per worker.
 *
 * A job that no worker of some kind can take yet (none connected, say right
 * after socket activation or while systemd restarts a worker) waits in a
 * per-kind queue and goes out as soon as one can: the caller's timeout, not
 * this module, decides when to give up, by cancelling the job.
 *
 * Nothing is lost with a worker: a job sent stays on its kind's list of jobs out
 * (with the worker that has it) until the caller reports its reply
 * (fanout_settle_job()) or cancels it. When that worker's connection goes (ZeroMQ's
 * disconnect event, its heartbeat lost, the worker turned away), every job it had
 * is queued again, first in line, for another worker of the kind; the request's
 * deadline stays the caller's. Jobs are pure, so a reply that still comes from the
 * first worker only makes a second one late, and dropped.
 *
 * Nor with a worker that is slow or stalled but connected: a small job whose reply has not
 * come after its kind's hedge delay (hedge.h: twice the recent 99th percentile, at least
 * 10 ms) goes to a second worker of the kind with credit, never the one that has it; the
 * first reply wins, and the other is recognised as late (fanout_late_hedge()). At most one
 * job in HEDGE_SHARE_JOBS is hedged, and none while jobs of the kind wait for a worker:
 * under overload hedging stops first. A worker need not know.
 */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "peers.h"
#include "macro.h"
#include "shared-bytes.h"
#include "wire.h"

/* Messages ZeroMQ may queue per worker connection; a worker's credit is held to it too. */
#define FANOUT_SNDHWM 64
#define FANOUT_BIG_INFLIGHT_BYTES (32u << 20)
#define FANOUT_BIG_INFLIGHT_MAX 16
/* A peer that said hello and granted nothing for this long may be evicted for a newcomer. */
#define FANOUT_SILENT_PEER_USEC (2 * USEC_PER_SEC)

/* One job, embedded in the caller's request state; fanout links it while parts are unsent. */
typedef struct FanoutJob {
    uint64_t id;
    const char *data; /* the encoded job object */
    size_t len;
    SharedBytes *shared; /* data, when fanout owns it with the messages that carry it */
    char *taken;         /* data, when fanout owns it alone (no memory for sharing: copies go) */
    uint8_t unsent;      /* bit (1 << WireKind) */
    uint8_t out;         /* bit (1 << WireKind): sent, its reply not reported yet */
    struct FanoutJob *prev[_WIRE_KIND_MAX], *next[_WIRE_KIND_MAX];
    struct FanoutJob *out_prev[_WIRE_KIND_MAX], *out_next[_WIRE_KIND_MAX];
    uint64_t holder[_WIRE_KIND_MAX];    /* the serial of the worker that has it (when out) */
    uint64_t hedge[_WIRE_KIND_MAX];     /* the serial of a second worker that has it too, or 0 */
    uint64_t sent_usec[_WIRE_KIND_MAX]; /* when it went out (CLOCK_MONOTONIC) */
} FanoutJob;

typedef struct Fanout Fanout;

typedef struct FanoutCallbacks {
    /* A message from a worker of kind k that is neither hello nor grant: replies, or junk.
     * worker: its registration serial (0: not registered), for fanout_settle_job(). */
    void (*on_reply)(const char *msg, size_t len, WireKind k, uint64_t worker, void *userdata);
    /* The counters in a grant of worker `worker` (its registration serial) were refused: why. */
    void (*on_report_refused)(WireKind k, uint64_t worker, const char *reason, void *userdata);
    /* A peer was turned away: who (its address, or "on ENDPOINT"), its key if known, and why. */
    void (*on_rejected)(const char *who, const char *key, const char *reason, void *userdata);
    /* A connected worker of kind k was turned away: its key left the allow-list. */
    void (*on_revoked)(const char *address, const char *key, WireKind k, void *userdata);
    /* A worker of kind k connected (said hello) or went away; n: the workers of k connected now;
     * moved: the jobs it had that were queued again for another (when it went). */
    void (*on_worker)(WireKind k, bool connected, const Peer *p, size_t n, size_t moved, void *userdata);
    void *userdata;
} FanoutCallbacks;

int fanout_new(sd_event *e, const Config *c, const FanoutCallbacks *cb, Fanout **ret);
Fanout *fanout_free(Fanout *f);
DEFINE_FREEP(Fanout, fanout_free)

/*
 * Queues a job (data: one encoded job object) for one worker of each kind. job must stay
 * valid until it is sent or fanout_cancel()ed, and data too unless take is set: then data
 * came from malloc() and fanout frees it as soon as every kind has it (or at cancel), so
 * that a big job does not outlive its sending (h2o keeps a request until the next one on
 * its connection). Such a job's messages carry data itself, not a copy: the last of
 * fanout and ZeroMQ's I/O thread (done sending) to let go frees it.
 */
void fanout_submit(Fanout *f, FanoutJob *job, uint64_t id, const char *data, size_t len, bool take);

/* A reply of kind k for job id arrived (whether or not its request still waits). */
void fanout_settle(Fanout *f, WireKind k, uint64_t id);
/* The reply of kind k to job (its request still waits), from `worker` (on_reply's): it is no
 * longer out. Only from on_reply: its reply time is when that message was read. */
void fanout_settle_job(Fanout *f, FanoutJob *job, WireKind k, uint64_t worker);

/*
 * Sends what is queued, in batches, as far as workers can take it now; if it sent anything
 * (here or from a timer since), then receives what came meanwhile (sending hides it from
 * ZMQ_FD). True if that handed the callbacks anything.
 */
bool fanout_flush(Fanout *f);

/* Whether a reply of kind k for job id is the late one of a hedged job (the other copy's came
 * first): true once, and counted; the caller drops it without a word. */
bool fanout_late_hedge(Fanout *f, WireKind k, uint64_t id);

/* Forgets job: whatever part of it is unsent or out. Harmless on a job already settled. */
void fanout_cancel(Fanout *f, FanoutJob *job);

/* Bytes of jobs waiting for a worker, of the kind that has most waiting. */
size_t fanout_queued_bytes(Fanout *f);

/* What went out, per kind, for metrics. */
typedef struct FanoutStats {
    uint64_t jobs_sent[_WIRE_KIND_MAX], batches_sent[_WIRE_KIND_MAX];
    size_t queued_bytes[_WIRE_KIND_MAX], big_bytes_out[_WIRE_KIND_MAX];
    uint64_t reports_refused[_WIRE_KIND_MAX];   /* grants whose counters were refused */
    uint64_t jobs_redispatched[_WIRE_KIND_MAX]; /* queued again: the worker that had them went */
    uint64_t jobs_hedged[_WIRE_KIND_MAX];       /* sent to a second worker: the first was slow */
    uint64_t hedges_won[_WIRE_KIND_MAX];        /* of those, answered first by the second */
    uint64_t hedges_late[_WIRE_KIND_MAX];       /* replies dropped: the other copy's came first */
} FanoutStats;
void fanout_stats(Fanout *f, FanoutStats *ret);

/* Reads the allow-list again now, whether or not its directory looks changed (a reload). */
void fanout_reread_allow_list(Fanout *f);

/* The workers of kind k connected now, with their credit and counters: for metrics, read only. */
const Peers *fanout_peers(Fanout *f, WireKind k);
