/* SPDX-License-Identifier: MIT */
/* Hedging's policy (hedge.h): the delay from recent reply times, the share, the late replies. */

#include "hedge.h"

#include <string.h>

void hedge_init(Hedge *h) {
    memset(h, 0, sizeof(*h));
    h->delay_usec = HEDGE_DELAY_START_USEC;
    h->tokens = (uint64_t)HEDGE_BURST * HEDGE_SHARE_JOBS;
}

void hedge_sent(Hedge *h, size_t n) {
    uint64_t most = (uint64_t)HEDGE_BURST * HEDGE_SHARE_JOBS;

    h->tokens = h->tokens + n > most ? most : h->tokens + n;
}

void hedge_replied(Hedge *h, uint64_t usec) {
    h->sample[h->next_sample] = usec;
    h->next_sample = (h->next_sample + 1) % HEDGE_SAMPLES;
    if (h->n_samples < HEDGE_SAMPLES)
        h->n_samples++;
    h->fresh++;
}

/*
 * The 99th percentile of the samples (the value at index ceil(0.99 n) - 1 in sorted order),
 * found as the smallest of the m = n - that index largest: m is 3 at most for 256 samples, so a
 * pass that keeps the top m does it without sorting (glibc's qsort() may ask the kernel how much
 * memory there is, which the sandbox does not allow).
 */
static uint64_t p99(const Hedge *h) {
    uint64_t top[HEDGE_SAMPLES / 100 + 2] = { 0 }; /* the largest so far, largest first */
    size_t m = h->n_samples - (h->n_samples * 99 + 99) / 100 + 1;

    for (size_t i = 0; i < h->n_samples; i++) {
        uint64_t v = h->sample[i];

        for (size_t j = 0; j < m; j++)
            if (v > top[j]) {
                uint64_t t = top[j];

                top[j] = v;
                v = t;
            }
    }
    return top[m - 1];
}

uint64_t hedge_delay(Hedge *h) {
    uint64_t q;

    /* Not per reply: again once a quarter of the samples is new. */
    if (h->n_samples < HEDGE_SAMPLES_MIN || h->fresh < (h->n_samples + 3) / 4)
        return h->delay_usec;
    q = p99(h);
    h->delay_usec = 2 * q < HEDGE_DELAY_MIN_USEC ? HEDGE_DELAY_MIN_USEC : 2 * q;
    h->fresh = 0;
    return h->delay_usec;
}

bool hedge_take(Hedge *h) {
    if (h->tokens < HEDGE_SHARE_JOBS)
        return false;
    h->tokens -= HEDGE_SHARE_JOBS;
    h->hedged++;
    return true;
}

void hedge_settled(Hedge *h, uint64_t id, bool by_second) {
    h->won += by_second;
    h->late[h->next_late] = id;
    h->next_late = (h->next_late + 1) % HEDGE_LATE_MAX;
}

bool hedge_late(Hedge *h, uint64_t id) {
    for (size_t i = 0; id != 0 && i < HEDGE_LATE_MAX; i++)
        if (h->late[i] == id) {
            h->late[i] = 0;
            h->late_dropped++;
            return true;
        }
    return false;
}
