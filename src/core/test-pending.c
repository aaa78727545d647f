/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "pending.h"
#include "test-helpers.h"

TEST(pending) {
    PendingTable t;
    static PendingEntry e[100];

    ASSERT_EQ(pending_table_init(&t, 64), 0);
    for (int i = 0; i < 64; i++) {
        e[i] = (PendingEntry){ .id = 1000 + (uint64_t)i, .added_usec = (uint64_t)i };
        ASSERT_EQ(pending_add(&t, &e[i]), 0);
    }
    e[64] = (PendingEntry){ .id = 5000 };
    ASSERT_EQ(pending_add(&t, &e[64]), -ENOSPC);
    ASSERT_EQ(t.count, 64);

    for (int i = 0; i < 64; i++)
        ASSERT_PTR_EQ(pending_find(&t, 1000 + (uint64_t)i), &e[i]);
    ASSERT_NULL(pending_find(&t, 999));
    ASSERT_NULL(pending_find(&t, 1064));
    ASSERT_NULL(pending_find(&t, 1000 + 64 * 16)); /* same bucket, other id */

    /* Removal from the middle, head and tail keeps both structures right. */
    pending_remove(&t, &e[10]);
    pending_remove(&t, &e[10]); /* twice is harmless */
    pending_remove(&t, &e[0]);
    pending_remove(&t, &e[63]);
    ASSERT_EQ(t.count, 61);
    ASSERT_NULL(pending_find(&t, 1010));
    ASSERT_PTR_EQ(pending_find(&t, 1011), &e[11]);
    ASSERT_PTR_EQ(pending_oldest(&t), &e[1]);
    ASSERT_PTR_EQ(t.newest, &e[62]);
    {
        int n = 0;
        uint64_t last = 0;
        for (PendingEntry *p = pending_oldest(&t); p; p = p->next, n++) {
            ASSERT_GE(p->added_usec, last);
            last = p->added_usec;
        }
        ASSERT_EQ(n, 61);
    }
    e[10].id = 1010;
    ASSERT_EQ(pending_add(&t, &e[10]), 0);
    ASSERT_PTR_EQ(t.newest, &e[10]);
    e[70] = (PendingEntry){ .id = 1011 };
    ASSERT_EQ(pending_add(&t, &e[70]), -EEXIST);

    /* Results: each kind once; complete when both are in; too long leaves the entry as it was. */
    {
        static char big[SQMATH_DECIMAL_MAX];

        memset(big, '9', sizeof(big));
        ASSERT_EQ(pending_set_result(&e[5], WIRE_SUM, big, SQMATH_DECIMAL_MAX), -EINVAL);
        ASSERT_EQ(e[5].have, 0);
        ASSERT_EQ(pending_set_result(&e[5], WIRE_SUM, big, SQMATH_DECIMAL_MAX - 1), 0);
        e[5].have = 0;
    }
    ASSERT_EQ(pending_set_result(&e[5], WIRE_SUM, "14", 2), 0);
    ASSERT_EQ(pending_set_result(&e[5], WIRE_SUM, "15", 2), -EALREADY);
    ASSERT_EQ(pending_set_result(&e[5], WIRE_SQUARE, "36", 2), 1);
    ASSERT_STREQ(e[5].value[WIRE_SUM], "14");
    ASSERT_STREQ(e[5].value[WIRE_SQUARE], "36");

    while (pending_oldest(&t))
        pending_remove(&t, pending_oldest(&t));
    ASSERT_EQ(t.count, 0);
    ASSERT_NULL(t.newest);
    pending_table_done(&t);
}

TEST_MAIN()
