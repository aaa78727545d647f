/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A fast path of the wire readers, fenced off: skip it on a first reading.
 * wire_read_job() and wire_read_reply() (wire.c) try these first, on messages
 * in the exact form wire_encode_*() write; at the first byte that departs from
 * it they return false (or -1), and wire.c's general reader starts over and
 * judges the whole message alone. So verdicts never depend on this file; it
 * only makes our own messages cheap (worker: about 4,370 to 2,180 instructions
 * per job, measured with callgrind). test-wire.c checks both paths alike. Pure.
 */

#include <stdbool.h>
#include <stdint.h>

#include "sqmath.h"
#include "wire.h"

/* 1 with w->fast just past the next object's '{'; 0 at the end of the message; -1 when not canonical. */
int wire_canonical_next_object(WireReader *w);

/* A canonical job object from w->fast on; false (w untouched) when it is not one. */
bool wire_canonical_job(WireReader *w, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc);

/* A canonical reply object from w->fast on; false (w untouched) when it is not one. */
bool wire_canonical_reply(WireReader *w, WireReply *ret);

/*
 * msg is exactly {"ready":N} with N an integer (any sign: the caller judges it). Grants with
 * counters are left to the general reader: a worker sends one a second at most.
 */
bool wire_canonical_ready(const char *msg, size_t len, int64_t *ret_credit);
