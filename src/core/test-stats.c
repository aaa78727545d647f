/* SPDX-License-Identifier: MIT */
/* stats.c: every answer counts once, under its status; the names and the STATUS= part. */

#include "stats.h"
#include "test-helpers.h"

TEST(each_status_has_one_counter) {
    static const int statuses[] = { 200, 400, 404, 405, 413, 431, 500, 502, 503, 504 };
    bool seen[_STATS_COUNTER_MAX] = { false };

    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        StatsCounter c = stats_counter_from_status(statuses[i]);

        ASSERT_GE(c, 0);
        ASSERT_NE(c, STATS_OTHER_STATUS);
        ASSERT_NE(c, STATS_DROPPED_REPLIES);
        ASSERT_FALSE(seen[c]);
        seen[c] = true;
    }
    ASSERT_EQ(stats_counter_from_status(503), STATS_BUSY);
    ASSERT_EQ(stats_counter_from_status(504), STATS_TIMED_OUT);
    ASSERT_EQ(stats_counter_from_status(418), STATS_OTHER_STATUS);
    ASSERT_EQ(stats_counter_from_status(0), STATS_OTHER_STATUS);
    ASSERT_EQ(stats_counter_from_status(-1), STATS_OTHER_STATUS);
}

TEST(count_once) {
    Stats s = { { 0 } };
    uint64_t total = 0;

    stats_count_answer(&s, 503);
    stats_count_answer(&s, 405);
    stats_count_answer(&s, 400);
    stats_count_answer(&s, 404);
    stats_count_answer(&s, 200);
    stats_count_answer(&s, 200);
    stats_count_answer(&s, 301);
    ASSERT_EQ(s.count[STATS_BUSY], 1);
    ASSERT_EQ(s.count[STATS_METHOD_NOT_ALLOWED], 1);
    ASSERT_EQ(s.count[STATS_BAD_REQUEST], 1);
    ASSERT_EQ(s.count[STATS_NOT_FOUND], 1);
    ASSERT_EQ(s.count[STATS_OK], 2);
    ASSERT_EQ(s.count[STATS_OTHER_STATUS], 1);
    ASSERT_EQ(s.count[STATS_DROPPED_REPLIES], 0);
    for (int c = 0; c < _STATS_COUNTER_MAX; c++)
        total += s.count[c];
    ASSERT_EQ(total, 7);
}

TEST(names) {
    for (int c = 0; c < _STATS_COUNTER_MAX; c++) {
        const char *name = stats_counter_to_string((StatsCounter)c);

        ASSERT_NOT_NULL(name);
        ASSERT_EQ(stats_counter_from_string(name), c);
    }
    ASSERT_STREQ(stats_counter_to_string(STATS_BUSY), "busy");
    ASSERT_NULL(stats_counter_to_string(_STATS_COUNTER_MAX));
    ASSERT_NULL(stats_counter_to_string(_STATS_COUNTER_INVALID));
    ASSERT_EQ(stats_counter_from_string("answered"), _STATS_COUNTER_INVALID);
}

TEST(format) {
    Stats s = { { 0 } };
    char buf[256];

    stats_count_answer(&s, 200);
    stats_count_answer(&s, 504);
    stats_count_answer(&s, 504);
    s.count[STATS_DROPPED_REPLIES] = 9; /* not an answer: not in this part */
    ASSERT_EQ(stats_format_answers(&s, buf, sizeof(buf)), strlen(buf));
    ASSERT_STREQ(buf, "200=1 400=0 404=0 405=0 413=0 431=0 500=0 502=0 503=0 504=2 other=0");
    /* cut to size, NUL-terminated, and the length it would have had */
    ASSERT_EQ(stats_format_answers(&s, buf, 10),
              strlen("200=1 400=0 404=0 405=0 413=0 431=0 500=0 502=0 503=0 504=2 other=0"));
    ASSERT_STREQ(buf, "200=1 400");
}

TEST_MAIN()
