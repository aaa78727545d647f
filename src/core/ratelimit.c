/* SPDX-License-Identifier: MIT */
/*
 * A fixed window: the first event after a window has passed opens a new one at its
 * own time, so a quiet spell never lets a burst of more than `burst` through.
 */

#include "ratelimit.h"

#include <assert.h>

bool ratelimit_allow(RateLimit *rl, usec_t now, uint64_t *ret_suppressed) {
    assert(rl->burst > 0);

    if (rl->begin == 0 || now - rl->begin >= rl->interval) {
        *ret_suppressed = rl->suppressed;
        rl->begin = now;
        rl->count = 1;
        rl->suppressed = 0;
        return true;
    }
    if (rl->count < rl->burst) {
        rl->count++;
        *ret_suppressed = 0;
        return true;
    }
    rl->suppressed++;
    return false;
}
