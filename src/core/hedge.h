/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * When to send a job a second time (hedging, "the tail at scale"), per kind of job: a job
 * whose reply has not come after hedge_delay() goes to another worker too, and the first
 * reply wins. Pure: the caller sends and tells this what happened.
 *
 *   - The delay follows the kind's recent reply times: twice the 99th percentile of the
 *     last HEDGE_SAMPLES, never under HEDGE_DELAY_MIN_USEC; HEDGE_DELAY_START_USEC until
 *     HEDGE_SAMPLES_MIN replies have been timed.
 *   - At most one hedge per HEDGE_SHARE_JOBS jobs sent (a token bucket, HEDGE_BURST deep,
 *     full at start): the extra work is bounded whatever the workers do.
 *   - The reply that loses is expected: hedge_settled() notes the job, and hedge_late()
 *     recognises its late reply once (the last HEDGE_LATE_MAX such jobs), so the caller
 *     drops it quietly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEDGE_SAMPLES 256
#define HEDGE_SAMPLES_MIN 16
#define HEDGE_DELAY_MIN_USEC 10000
#define HEDGE_DELAY_START_USEC 50000
#define HEDGE_SHARE_JOBS 20 /* 5 % */
#define HEDGE_BURST 16
#define HEDGE_LATE_MAX 256

typedef struct Hedge {
    uint64_t sample[HEDGE_SAMPLES];       /* reply times, a ring */
    size_t n_samples, next_sample, fresh; /* fresh: samples since the delay was computed */
    uint64_t delay_usec;
    uint64_t tokens;               /* in jobs sent: HEDGE_SHARE_JOBS buy one hedge */
    uint64_t late[HEDGE_LATE_MAX]; /* ids whose other copy's reply is still to come; 0: none */
    size_t next_late;
    uint64_t hedged, won, late_dropped; /* for metrics; won: answered first by the second worker */
} Hedge;

void hedge_init(Hedge *h);

/* n jobs were sent: they earn their share of hedges. */
void hedge_sent(Hedge *h, size_t n);

/* A reply came usec after its job was sent. */
void hedge_replied(Hedge *h, uint64_t usec);

/* How long a job may wait for its reply before it is hedged. */
uint64_t hedge_delay(Hedge *h);

/* Takes what one hedge costs: false (nothing taken) when the share is used up. */
bool hedge_take(Hedge *h);

/* A hedged job got its first reply (from the second worker it went to, or not): the other
 * copy's, if it comes, is late. */
void hedge_settled(Hedge *h, uint64_t id, bool by_second);

/* Whether a reply for job id is the late one of a hedged job: true once, and counted. */
bool hedge_late(Hedge *h, uint64_t id);
