/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's side of the ZeroMQ contract (docs/protocol.md): binds a PUSH
 * socket per kind of job and one PULL socket for the replies, and hands every
 * reply to a callback from sd-event. It moves bytes only; wire.c gives them
 * meaning. Replies larger than FANOUT_REPLY_MAX make ZeroMQ drop the sender.
 *
 * A job that no worker of some kind can take yet (none connected, say right
 * after socket activation or while systemd restarts a worker) waits in a
 * per-kind queue and goes out as soon as one can: the caller's timeout, not
 * this module, decides when to give up, by cancelling the job.
 */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>
#include <zmq.h>

#include "config.h"
#include "macro.h"
#include "wire.h"

#define FANOUT_REPLY_MAX 4096

/* One job, embedded in the caller's request state; fanout links it while parts are unsent. */
typedef struct FanoutJob {
    zmq_msg_t msg;
    bool has_msg;
    uint8_t unsent; /* bit (1 << WireKind) */
    struct FanoutJob *prev[_WIRE_KIND_MAX], *next[_WIRE_KIND_MAX];
} FanoutJob;

typedef struct Fanout Fanout;
typedef void (*fanout_reply_fn)(const char *msg, size_t len, void *userdata);

int fanout_new(sd_event *e, const Config *c, fanout_reply_fn on_reply, void *userdata, Fanout **ret);
Fanout *fanout_free(Fanout *f);
DEFINE_FREEP(Fanout, fanout_free)

/*
 * Sends a job (buf from malloc; ownership passes here in all cases) to one worker of
 * each kind, now or as soon as one can take it. job must stay valid until it is sent
 * or fanout_cancel()ed.
 */
int fanout_submit(Fanout *f, FanoutJob *job, char *buf, size_t len);

/* Forgets whatever part of job is still unsent. Harmless on a job that was all sent. */
void fanout_cancel(Fanout *f, FanoutJob *job);

/* How many jobs wait for a worker of kind k. */
size_t fanout_queued(Fanout *f, WireKind k);
