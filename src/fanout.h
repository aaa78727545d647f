/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's side of the ZeroMQ contract (docs/protocol.md): binds a PUSH
 * socket per kind of job and one PULL socket for the replies, and hands every
 * reply to a callback from sd-event. It moves bytes only; wire.c gives them
 * meaning. Replies larger than FANOUT_REPLY_MAX make ZeroMQ drop the sender.
 */

#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "macro.h"
#include "wire.h"

#define FANOUT_REPLY_MAX 4096

typedef struct Fanout Fanout;
typedef void (*fanout_reply_fn)(const char *msg, size_t len, void *userdata);

int fanout_new(sd_event *e, const Config *c, fanout_reply_fn on_reply, void *userdata, Fanout **ret);
Fanout *fanout_free(Fanout *f);
DEFINE_FREEP(Fanout, fanout_free)

/*
 * Sends one job (buf, allocated with malloc, ownership passes here in all cases) to a
 * worker of each kind. -EAGAIN when no worker of some kind can take it now; *ret_kind
 * then names that kind. Nothing is retried.
 */
int fanout_send_job(Fanout *f, char *buf, size_t len, WireKind *ret_kind);
