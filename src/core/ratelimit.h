/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Rate limiting for noisy events (junk from the network, a flood of timeouts):
 * at most `burst` events per window of `interval` microseconds are allowed;
 * the rest are suppressed and counted, and the first event allowed in the next
 * window learns how many were suppressed before it. Pure: the caller passes
 * the time (CLOCK_MONOTONIC, never 0: 0 marks a limit not used yet), so the
 * tests drive it with made-up clocks.
 */

#include <stdbool.h>
#include <stdint.h>

#include "time-util.h"

typedef struct RateLimit {
    usec_t interval, begin;
    unsigned burst, count;
    uint64_t suppressed;
} RateLimit;

#define RATELIMIT_INIT(interval_usec, b) ((RateLimit){ .interval = (interval_usec), .burst = (b) })

/*
 * True if the event may go ahead at now; then *ret_suppressed gets how many were
 * suppressed since the last one allowed (0 within a window), else it is untouched.
 */
bool ratelimit_allow(RateLimit *rl, usec_t now, uint64_t *ret_suppressed);
