/* SPDX-License-Identifier: MIT */
/* hedge.c: the delay from reply times, the share of hedges, the late replies. */

#include "hedge.h"
#include "test-helpers.h"

TEST(delay_starts_fixed_then_follows_the_99th_percentile) {
    Hedge h;

    hedge_init(&h);
    ASSERT_EQ(hedge_delay(&h), HEDGE_DELAY_START_USEC);
    for (int i = 0; i < HEDGE_SAMPLES_MIN - 1; i++)
        hedge_replied(&h, 100000);
    ASSERT_EQ(hedge_delay(&h), HEDGE_DELAY_START_USEC); /* too few to go by */
    /* 100 replies: 98 of 1 ms, then 9 ms and 30 ms: the 99th of 100 is 9 ms, the delay 18 ms. */
    hedge_init(&h);
    for (int i = 0; i < 98; i++)
        hedge_replied(&h, 1000);
    hedge_replied(&h, 9000);
    hedge_replied(&h, 30000);
    ASSERT_EQ(hedge_delay(&h), 18000);
    /* Fast replies: the floor. */
    hedge_init(&h);
    for (int i = 0; i < HEDGE_SAMPLES; i++)
        hedge_replied(&h, 50);
    ASSERT_EQ(hedge_delay(&h), HEDGE_DELAY_MIN_USEC);
}

TEST(delay_is_recomputed_once_a_quarter_of_the_samples_is_new) {
    Hedge h;

    hedge_init(&h);
    for (int i = 0; i < HEDGE_SAMPLES; i++)
        hedge_replied(&h, 20000);
    ASSERT_EQ(hedge_delay(&h), 40000);
    for (int i = 0; i < HEDGE_SAMPLES / 4 - 1; i++)
        hedge_replied(&h, 100000);
    ASSERT_EQ(hedge_delay(&h), 40000); /* not yet */
    hedge_replied(&h, 100000);
    ASSERT_EQ(hedge_delay(&h), 200000); /* a quarter are slow now: past the 99th percentile */
}

TEST(share_is_one_hedge_per_twenty_jobs_after_a_burst) {
    Hedge h;

    hedge_init(&h);
    for (int i = 0; i < HEDGE_BURST; i++)
        ASSERT_TRUE(hedge_take(&h));
    ASSERT_FALSE(hedge_take(&h));
    hedge_sent(&h, HEDGE_SHARE_JOBS - 1);
    ASSERT_FALSE(hedge_take(&h));
    hedge_sent(&h, 1);
    ASSERT_TRUE(hedge_take(&h));
    ASSERT_FALSE(hedge_take(&h));
    ASSERT_EQ(h.hedged, HEDGE_BURST + 1);
    /* The bucket holds a burst, no more, however many jobs went out. */
    hedge_sent(&h, 1000000);
    for (int i = 0; i < HEDGE_BURST; i++)
        ASSERT_TRUE(hedge_take(&h));
    ASSERT_FALSE(hedge_take(&h));
}

TEST(late_reply_is_recognised_once) {
    Hedge h;

    hedge_init(&h);
    ASSERT_FALSE(hedge_late(&h, 7));
    hedge_settled(&h, 7, true);
    ASSERT_EQ(h.won, 1);
    ASSERT_TRUE(hedge_late(&h, 7));
    ASSERT_FALSE(hedge_late(&h, 7)); /* a third reply is no hedge's */
    ASSERT_FALSE(hedge_late(&h, 0));
    ASSERT_EQ(h.late_dropped, 1);
    /* Only the last HEDGE_LATE_MAX are kept. */
    for (uint64_t id = 100; id < 100 + HEDGE_LATE_MAX + 1; id++)
        hedge_settled(&h, id, false);
    ASSERT_FALSE(hedge_late(&h, 100));
    ASSERT_TRUE(hedge_late(&h, 101));
    ASSERT_TRUE(hedge_late(&h, 100 + HEDGE_LATE_MAX));
    ASSERT_EQ(h.won, 1);
}

TEST_MAIN()
