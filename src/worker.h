/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A worker of one kind: connects a PULL socket to its kind's jobs endpoint and
 * a PUSH socket to the results endpoint, and for every job replies with the
 * exact sum of the squares ("sum") or square of the sum ("square"). Malformed,
 * out-of-range or oversized jobs are dropped and logged (rate-limited); the
 * worker keeps serving. ZeroMQ reconnects by itself when the front end restarts.
 */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "macro.h"
#include "wire.h"

typedef struct Worker Worker;

int worker_new(sd_event *e, const Config *c, WireKind kind, Worker **ret);
Worker *worker_free(Worker *w);
DEFINE_FREEP(Worker, worker_free)

void worker_status(Worker *w, char *buf, size_t size);
