/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A worker of one kind: connects a DEALER socket to each of its kind's jobs
 * endpoints (one per front end), and for every job replies, on the connection it
 * came from, with the exact sum of the squares ("sum") or square of the sum
 * ("square"). Malformed, out-of-range or oversized jobs are dropped and logged
 * (rate-limited); the worker keeps serving. ZeroMQ reconnects by itself when a
 * front end restarts. Each front end gets the counts of its connection (jobs done,
 * job messages rejected, replies unsent) in the worker's grants, for its metrics.
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
const char *worker_kind_name(Worker *w);
