/* SPDX-License-Identifier: MIT */
/* ratelimit.c: bursts, windows, and the count of what was suppressed. */

#include "ratelimit.h"
#include "test-helpers.h"

#define SEC USEC_PER_SEC

TEST(burst_then_suppressed) {
    RateLimit rl = RATELIMIT_INIT(10 * SEC, 3);
    uint64_t suppressed = 99;

    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(ratelimit_allow(&rl, 1 + (usec_t)i, &suppressed));
        ASSERT_EQ(suppressed, 0);
    }
    suppressed = 99;
    for (int i = 0; i < 5; i++)
        ASSERT_FALSE(ratelimit_allow(&rl, 5 * SEC, &suppressed));
    ASSERT_EQ(suppressed, 99); /* untouched when refused */
}

TEST(next_window_reports_suppressed) {
    RateLimit rl = RATELIMIT_INIT(10 * SEC, 2);
    uint64_t suppressed;

    ASSERT_TRUE(ratelimit_allow(&rl, 1, &suppressed));
    ASSERT_TRUE(ratelimit_allow(&rl, 2, &suppressed));
    ASSERT_FALSE(ratelimit_allow(&rl, 3, &suppressed));
    ASSERT_FALSE(ratelimit_allow(&rl, 4, &suppressed));
    /* one microsecond before the window ends: still refused */
    ASSERT_FALSE(ratelimit_allow(&rl, 1 + 10 * SEC - 1, &suppressed));
    ASSERT_TRUE(ratelimit_allow(&rl, 1 + 10 * SEC, &suppressed));
    ASSERT_EQ(suppressed, 3);
    /* the count starts again with the new window */
    ASSERT_TRUE(ratelimit_allow(&rl, 2 + 10 * SEC, &suppressed));
    ASSERT_EQ(suppressed, 0);
    ASSERT_FALSE(ratelimit_allow(&rl, 3 + 10 * SEC, &suppressed));
}

TEST(window_opens_at_the_first_event_after_a_quiet_spell) {
    RateLimit rl = RATELIMIT_INIT(10 * SEC, 1);
    uint64_t suppressed;

    ASSERT_TRUE(ratelimit_allow(&rl, 1, &suppressed));
    ASSERT_TRUE(ratelimit_allow(&rl, 100 * SEC, &suppressed));
    ASSERT_EQ(suppressed, 0);
    /* the window began at 100 s, not at a multiple of 10 s */
    ASSERT_FALSE(ratelimit_allow(&rl, 109 * SEC, &suppressed));
    ASSERT_TRUE(ratelimit_allow(&rl, 110 * SEC, &suppressed));
    ASSERT_EQ(suppressed, 1);
}

TEST(burst_of_one) {
    RateLimit rl = RATELIMIT_INIT(1 * SEC, 1);
    uint64_t suppressed;

    ASSERT_TRUE(ratelimit_allow(&rl, 5, &suppressed));
    for (int i = 0; i < 1000; i++)
        ASSERT_FALSE(ratelimit_allow(&rl, 6 + (usec_t)i, &suppressed));
    ASSERT_TRUE(ratelimit_allow(&rl, 5 + SEC, &suppressed));
    ASSERT_EQ(suppressed, 1000);
}

TEST_MAIN()
