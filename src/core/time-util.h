/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one time type: usec_t, microseconds, for durations and for points in
 * time read from a clock (CLOCK_MONOTONIC unless a name says otherwise), as
 * sd-event counts them. now_usec() is for the daemon modules; the pure core
 * takes the time as an argument and never reads a clock.
 */

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define NSEC_PER_USEC UINT64_C(1000)

static inline usec_t now_usec(clockid_t clock) {
    struct timespec ts;

    /* Only EINVAL for a clock that does not exist: the callers name CLOCK_MONOTONIC or CLOCK_REALTIME. */
    (void)clock_gettime(clock, &ts);
    return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / NSEC_PER_USEC;
}
