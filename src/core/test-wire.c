/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test-helpers.h"
#include "wire.h"

static char err[WIRE_ERROR_MAX];

/* A message that must hold exactly one job: 0 with it, or the reader's error. */
static int job(const char *s, uint64_t *id, SqAcc *a) {
    WireReader w;
    int r;

    wire_reader_init(&w, s, strlen(s));
    r = wire_read_job(&w, 100, id, a, err, sizeof(err));
    if (r <= 0)
        return r < 0 ? r : -ENOENT;
    r = wire_read_job(&w, 100, id, a, err, sizeof(err));
    return r > 0 ? -ENOTUNIQ : r;
}

static int reply(const char *s, WireReply *ret) {
    WireReader w;
    int r;

    wire_reader_init(&w, s, strlen(s));
    r = wire_read_reply(&w, ret, err, sizeof(err));
    if (r <= 0)
        return r < 0 ? r : -ENOENT;
    r = wire_read_reply(&w, ret, err, sizeof(err));
    return r > 0 ? -ENOTUNIQ : r;
}

/* Reads every reply of a message: how many, or the error; ids into ids[]. */
static int replies(const char *s, uint64_t *ids, size_t max) {
    WireReader w;
    WireReply rep;
    int r, n = 0;

    wire_reader_init(&w, s, strlen(s));
    while ((r = wire_read_reply(&w, &rep, err, sizeof(err))) > 0)
        if ((size_t)n++ < max)
            ids[n - 1] = rep.id;
    return r < 0 ? r : n;
}

/* Reads every job of a message: how many, or the error; each job's sum into sums[]. */
static int jobs(const char *s, int64_t *sums, size_t max) {
    WireReader w;
    uint64_t id;
    SqAcc a;
    int r, n = 0;

    wire_reader_init(&w, s, strlen(s));
    while ((r = wire_read_job(&w, 100, &id, &a, err, sizeof(err))) > 0)
        if ((size_t)n++ < max)
            sums[n - 1] = (int64_t)a.sum;
    return r < 0 ? r : n;
}

/* Reads msg to the end with both paths; they must agree on every job and on the verdict. */
static int jobs_both(const char *msg, uint64_t max_numbers) {
    WireReader fast, general;
    char err2[WIRE_ERROR_MAX];
    int r, r2;

    wire_reader_init(&fast, msg, strlen(msg));
    wire_reader_init_general(&general, msg, strlen(msg));
    do {
        uint64_t id = 0, id2 = 0;
        SqAcc a = SQACC_INIT, b = SQACC_INIT;

        r = wire_read_job(&fast, max_numbers, &id, &a, err, sizeof(err));
        r2 = wire_read_job(&general, max_numbers, &id2, &b, err2, sizeof(err2));
        ASSERT_EQ(r, r2);
        if (r > 0) {
            ASSERT_EQ(id, id2);
            ASSERT_EQ(a.count, b.count);
            ASSERT_EQ(a.sum, b.sum);
            ASSERT_EQ(a.sumsq_lo, b.sumsq_lo);
        }
        if (r < 0)
            ASSERT_STREQ(err, err2);
    } while (r > 0);
    return r;
}

static int replies_both(const char *msg) {
    WireReader fast, general;
    char err2[WIRE_ERROR_MAX];
    int r, r2;

    wire_reader_init(&fast, msg, strlen(msg));
    wire_reader_init_general(&general, msg, strlen(msg));
    do {
        WireReply a = { 0 }, b = { 0 };

        r = wire_read_reply(&fast, &a, err, sizeof(err));
        r2 = wire_read_reply(&general, &b, err2, sizeof(err2));
        ASSERT_EQ(r, r2);
        if (r > 0) {
            ASSERT_EQ(a.id, b.id);
            ASSERT_EQ(a.kind, b.kind);
            ASSERT_PTR_EQ(a.value, b.value);
            ASSERT_EQ(a.value_len, b.value_len);
        }
        if (r < 0)
            ASSERT_STREQ(err, err2);
    } while (r > 0);
    return r;
}

TEST(wire) {
    int64_t v[] = { 1, -2, INT64_MAX, INT64_MIN, 0 };
    char buf[512], dec[SQMATH_DECIMAL_MAX];
    size_t n;
    uint64_t id;
    SqAcc a, b = SQACC_INIT;
    WireReply r;

    ASSERT_EQ(wire_kind_from_string("sum"), WIRE_SUM);
    ASSERT_EQ(wire_kind_from_string("square"), WIRE_SQUARE);
    ASSERT_EQ(wire_kind_from_string("diff"), -EINVAL);
    ASSERT_STREQ(wire_kind_to_string(WIRE_SQUARE), "square");

    /* A job round-trips, and its encoded size is within the bound. */
    n = wire_encode_job(INT64_MAX, v, 5, buf);
    ASSERT_LE(n, wire_job_size_max(5));
    buf[n] = '\0';
    ASSERT_STREQ(buf, "{\"id\":9223372036854775807,\"numbers\":[1,-2,9223372036854775807,-9223372036854775808,0]}");
    ASSERT_EQ(job(buf, &id, &a), 0);
    ASSERT_EQ(id, (uint64_t)INT64_MAX);
    ASSERT_EQ(a.count, 5);
    for (int i = 0; i < 5; i++)
        sqacc_add(&b, v[i]);
    ASSERT_EQ(a.sum, b.sum);
    ASSERT_EQ(a.sumsq_lo, b.sumsq_lo);
    ASSERT_EQ(a.sumsq_hi, b.sumsq_hi);
    n = wire_encode_job(7, NULL, 0, buf);
    ASSERT_MEMEQ(buf, n, "{\"id\":7,\"numbers\":[]}", strlen("{\"id\":7,\"numbers\":[]}"));

    /* Jobs as another implementation may write them. */
    ASSERT_EQ(job(" { \"numbers\" : [ 1 , 2 , 3 ] , \"extra\" : {\"a\":[1]}, \"id\" : 5 } ", &id, &a), 0);
    ASSERT_EQ(id, 5);
    ASSERT_EQ(a.count, 3);
    ASSERT_EQ(a.sum, 6);

    /* Malformed, out-of-range and oversized jobs are refused. */
    ASSERT_EQ(job("{\"id\":1,\"numbers\":[9223372036854775808]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1,\"numbers\":[1.5]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1,\"numbers\":[\"1\"]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1,\"numbers\":1}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"numbers\":[1]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":0,\"numbers\":[1]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":-1,\"numbers\":[1]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":\"1\",\"numbers\":[1]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1,\"id\":2,\"numbers\":[1]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1,\"numbers\":[1],\"numbers\":[2]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("{\"id\":1,\"numbers\":[1,]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("[1]", &id, &a), -EINVAL);
    ASSERT_EQ(job("[]", &id, &a), -EINVAL);
    ASSERT_EQ(job("[{\"id\":1,\"numbers\":[1]}", &id, &a), -EINVAL);
    ASSERT_EQ(job("garbage", &id, &a), -EINVAL);
    ASSERT_EQ(job("", &id, &a), -EINVAL);
    {
        char big[1024];
        size_t len = (size_t)sprintf(big, "{\"id\":1,\"numbers\":[");
        for (int i = 0; i < 101; i++)
            len += (size_t)sprintf(big + len, i ? ",%d" : "%d", i);
        sprintf(big + len, "]}");
        ASSERT_EQ(job(big, &id, &a), -E2BIG);
    }

    /* Batches: an array of jobs, read in order; a fault anywhere fails the message. */
    {
        int64_t sums[4];
        ASSERT_EQ(
            jobs("[{\"id\":1,\"numbers\":[1,2]},{\"id\":2,\"numbers\":[5]} , {\"numbers\":[-1],\"id\":3}]", sums, 4),
            3);
        ASSERT_EQ(sums[0], 3);
        ASSERT_EQ(sums[1], 5);
        ASSERT_EQ(sums[2], -1);
        ASSERT_EQ(jobs("[{\"id\":1,\"numbers\":[1]}]", sums, 4), 1);
        ASSERT_EQ(jobs("[{\"id\":1,\"numbers\":[1]},1]", sums, 4), -EINVAL);
        ASSERT_EQ(jobs("[{\"id\":1,\"numbers\":[1]},{\"id\":2}]", sums, 4), -EINVAL);
        ASSERT_EQ(jobs("[{\"id\":1,\"numbers\":[1]},]", sums, 4), -EINVAL);
        ASSERT_EQ(jobs("[{\"id\":1,\"numbers\":[1]}] x", sums, 4), -EINVAL);
        ASSERT_EQ(jobs("[[{\"id\":1,\"numbers\":[1]}]]", sums, 4), -EINVAL);
        ASSERT_EQ(jobs("{\"id\":1,\"numbers\":[1]}{\"id\":2,\"numbers\":[1]}", sums, 4), -EINVAL);
    }
    {
        /* WIRE_BATCH_MAX jobs are one message; one more is refused. */
        char *big = malloc(30 * (WIRE_BATCH_MAX + 1) + 2);
        size_t len = 0;
        uint64_t ids[1];
        ASSERT_TRUE(big);
        big[len++] = '[';
        for (int i = 0; i < WIRE_BATCH_MAX; i++)
            len += (size_t)sprintf(big + len, "%s{\"id\":%d,\"sum\":1}", i ? "," : "", i + 1);
        strcpy(big + len, "]");
        ASSERT_EQ(replies(big, ids, 1), WIRE_BATCH_MAX);
        ASSERT_EQ(ids[0], 1);
        sprintf(big + len, ",{\"id\":9,\"sum\":1}]");
        ASSERT_EQ(replies(big, ids, 1), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "more than 256"));
        free(big);
    }
    /* The canonical scanner and the general reader agree, also where the scanner gives up midway. */
    ASSERT_EQ(
        jobs_both(
            "[{\"id\":1,\"numbers\":[1,-2,0,9223372036854775807,-9223372036854775808]},{\"id\":2,\"numbers\":[3]}]",
            100),
        0);
    ASSERT_EQ(jobs_both("{\"id\":1,\"numbers\":[1,2]}", 100), 0);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]},{\"id\":2,\"numbers\":[ 2]},{\"id\":3,\"numbers\":[3]}]", 100), 0);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]},{\"id\":2,\"numbers\":[2,3]}]", 1), -E2BIG);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]},{\"id\":2,\"numbers\":[01]}]", 100), -EINVAL);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]},{\"id\":0,\"numbers\":[1]}]", 100), -EINVAL);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]}] ", 100), 0);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]}]x", 100), -EINVAL);
    ASSERT_EQ(jobs_both("{\"id\":1,\"numbers\":[1]}{", 100), -EINVAL);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[92233720368547758070]}]", 100), -EINVAL);
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1],\"x\":1}]", 100), 0);
    ASSERT_EQ(replies_both("[{\"id\":3,\"sum\":14},{\"id\":4,\"square\":0},{\"id\":5,\"sum\":00}]"), -EINVAL);
    ASSERT_EQ(replies_both("[{\"id\":3,\"sum\":14},{\"id\":4,\"square\":36}]"), 0);
    /* A job without numbers is refused, by both. */
    ASSERT_EQ(jobs_both("[{\"id\":1,\"numbers\":[1]},{\"id\":2,\"numbers\":[]}]", 100), -EINVAL);
    ASSERT_EQ(jobs_both("{\"id\":2,\"numbers\":[ ]}", 100), -EINVAL);
    {
        /* What our encoders write stays with the scanner; a space sends the reader to the general path. */
        const char *canonical = "[{\"id\":3,\"sum\":14},{\"id\":4,\"square\":36}]",
                   *spaced = "[{\"id\":3, \"sum\":14}]";
        WireReader w;
        WireReply rep;
        wire_reader_init(&w, canonical, strlen(canonical));
        while (wire_read_reply(&w, &rep, err, sizeof(err)) > 0)
            ;
        ASSERT_NOT_NULL(w.fast);
        ASSERT_EQ(w.returned, 2);
        wire_reader_init(&w, spaced, strlen(spaced));
        while (wire_read_reply(&w, &rep, err, sizeof(err)) > 0)
            ;
        ASSERT_NULL(w.fast);
        ASSERT_EQ(w.returned, 1);
    }
    ASSERT_EQ(replies_both("{\"id\":3,\"square\":123456789012345678901234567890}"), 0);
    ASSERT_EQ(replies_both("[{\"id\":3,\"sum\":14},{\"square\":36,\"id\":4},{\"id\":5,\"sum\":1}]"), 0);
    ASSERT_EQ(replies_both("[{\"id\":3,\"sum\":-14}]"), -EINVAL);
    ASSERT_EQ(replies_both("[{\"id\":3,\"sum\":14,\"square\":1}]"), -EINVAL);
    {
        char big[300];
        sprintf(big, "{\"id\":3,\"sum\":%0*d}", SQMATH_DECIMAL_MAX - 1, 1);
        big[14] = '1'; /* no leading zero: SQMATH_DECIMAL_MAX - 1 digits, one too many */
        ASSERT_EQ(replies_both(big), -EINVAL);
        ASSERT_STRCONTAINS(err, "non-negative integer");
        sprintf(big, "{\"id\":3,\"sum\":%0*d}", SQMATH_DECIMAL_MAX - 2, 1);
        big[14] = '1'; /* the longest allowed */
        ASSERT_EQ(replies_both(big), 0);
    }
    ASSERT_GE(wire_job_message_max(1), WIRE_BATCH_BYTES);
    ASSERT_GE(wire_job_message_max(1000000), wire_job_size_max(1000000));

    /* Replies round-trip; big exact values are carried as text. */
    SqAcc c = SQACC_INIT;
    sqacc_add(&c, INT64_MAX);
    sqacc_add(&c, INT64_MAX);
    n = sqmath_square_decimal(&c, dec);
    n = wire_encode_reply(42, WIRE_SQUARE, dec, n, buf);
    ASSERT_LE(n, WIRE_REPLY_MAX);
    buf[n] = '\0';
    ASSERT_EQ(reply(buf, &r), 0);
    ASSERT_EQ(r.id, 42);
    ASSERT_EQ(r.kind, WIRE_SQUARE);
    ASSERT_MEMEQ(r.value, r.value_len, dec, strlen(dec));
    ASSERT_EQ(reply("{\"sum\":14,\"id\":3,\"numbers\":[1,2,3]}", &r), 0);
    ASSERT_EQ(r.kind, WIRE_SUM);
    ASSERT_EQ(r.id, 3);
    ASSERT_MEMEQ(r.value, r.value_len, "14", 2);

    {
        uint64_t ids[3];
        ASSERT_EQ(replies("[{\"id\":3,\"sum\":14},{\"square\":36,\"id\":4}]", ids, 3), 2);
        ASSERT_EQ(ids[0], 3);
        ASSERT_EQ(ids[1], 4);
        ASSERT_EQ(replies("[{\"id\":3,\"sum\":14},{\"square\":-36,\"id\":4}]", ids, 3), -EINVAL);
        ASSERT_EQ(replies("[]", ids, 3), -EINVAL);
    }
    ASSERT_EQ(reply("{\"id\":3}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"sum\":14}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":3,\"sum\":14,\"square\":36}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":3,\"sum\":-14}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":3,\"sum\":1.5}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":3,\"sum\":\"14\"}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":3,\"sum\":014}", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":3,\"sum\":14", &r), -EINVAL);
    ASSERT_EQ(reply("{\"id\":99999999999999999999,\"sum\":14}", &r), -EINVAL);
    {
        char huge[300];
        memset(huge, '9', 200);
        sprintf(huge + 200, "}");
        char msg[400];
        sprintf(msg, "{\"id\":3,\"sum\":%s", huge);
        ASSERT_EQ(reply(msg, &r), -EINVAL);
    }
}

/* A message read as a grant: the reader's verdict; *ret as it was written. */
static int grant(const char *s, WireGrant *ret) {
    *ret = (WireGrant){ .credit = 999 };
    return wire_read_grant(s, strlen(s), ret);
}

/* A grant whose credit counts but whose counters are refused: the reason, or NULL if they are not. */
static const char *refused(const char *s) {
    WireGrant g;

    ASSERT_EQ(grant(s, &g), 1);
    ASSERT_EQ(g.credit, 1);
    ASSERT_FALSE(g.has_counters);
    return g.counters_error;
}

TEST(grants) {
    WireGrant g;
    char buf[WIRE_GRANT_MAX + 1];
    size_t len;

    /* {"ready":N}, canonical or not; anything else is not one (0), a bad one -EINVAL. */
    len = wire_encode_grant(7, NULL, buf);
    ASSERT_MEMEQ(buf, len, "{\"ready\":7}", 11);
    ASSERT_EQ(wire_read_grant(buf, len, &g), 1);
    ASSERT_EQ(g.credit, 7);
    ASSERT_FALSE(g.has_counters);
    ASSERT_NULL(g.counters_error);
    ASSERT_EQ(grant("{ \"ready\" : 3, \"x\": [1] }", &g), 1);
    ASSERT_EQ(g.credit, 3);
    ASSERT_EQ(grant("{\"id\":1,\"sum\":1}", &g), 0);
    ASSERT_EQ(grant("[{\"ready\":1}]", &g), 0);
    ASSERT_EQ(grant("{\"done\":1,\"rejected\":0,\"unsent\":0}", &g), 0); /* counters alone are no grant */
    ASSERT_EQ(grant("{\"ready\":0}", &g), -EINVAL);
    ASSERT_EQ(grant("{\"ready\":0,\"x\":{\"done\":1}}", &g), -EINVAL);
    ASSERT_EQ(grant("{\"ready\":-1}", &g), -EINVAL);
    ASSERT_EQ(grant("{\"ready\":1.5}", &g), -EINVAL);
    ASSERT_EQ(grant("{\"ready\":1} x", &g), -EINVAL);
    ASSERT_EQ(grant("{\"ready\":1,\"ready\":2}", &g), -EINVAL);
    ASSERT_EQ(grant("{\"ready\":1,\"done\":[1,}", &g), -EINVAL);
    ASSERT_EQ(g.credit, 999); /* written only for a grant */

    /* With counters: as wire_encode_grant() writes them, and in any order, spacing or company. */
    len = wire_encode_grant(2, &(WireCounters){ .done = 123, .rejected = 4, .unsent = 0 }, buf);
    buf[len] = '\0';
    ASSERT_STREQ(buf, "{\"ready\":2,\"done\":123,\"rejected\":4,\"unsent\":0}");
    ASSERT_EQ(wire_read_grant(buf, len, &g), 1);
    ASSERT_TRUE(g.credit == 2 && g.has_counters && !g.counters_error);
    ASSERT_TRUE(g.counters.done == 123 && g.counters.rejected == 4 && g.counters.unsent == 0);
    ASSERT_EQ(grant(" { \"unsent\":9223372036854775807, \"x\":{\"done\":1}, \"rejected\" : 0,\"done\":-0,"
                    "\"ready\":64 } ",
                    &g),
              1);
    ASSERT_TRUE(g.credit == 64 && g.has_counters && !g.counters_error);
    ASSERT_TRUE(g.counters.done == 0 && g.counters.rejected == 0 && g.counters.unsent == INT64_MAX);
    ASSERT_EQ(grant("{\"\\u0064one\":5,\"rejected\":6,\"unsent\":7,\"ready\":1}", &g), 1); /* "\u0064" is 'd' */
    ASSERT_TRUE(g.has_counters && g.counters.done == 5 && g.counters.rejected == 6 && g.counters.unsent == 7);
    /* Above INT64_MAX, what the readers take, the encoder writes INT64_MAX. */
    len = wire_encode_grant(UINT64_MAX, &(WireCounters){ .done = UINT64_MAX, .rejected = 1, .unsent = 2 }, buf);
    ASSERT_LE(len, WIRE_GRANT_MAX);
    ASSERT_EQ(wire_read_grant(buf, len, &g), 1);
    ASSERT_TRUE(g.credit == INT64_MAX && g.has_counters && g.counters.done == INT64_MAX);

    /* A grant of 0 that carries counters: a report alone, its counters judged as any. */
    len = wire_encode_grant(0, &(WireCounters){ .done = 9, .rejected = 0, .unsent = 1 }, buf);
    ASSERT_EQ(wire_read_grant(buf, len, &g), 1);
    ASSERT_TRUE(g.credit == 0 && g.has_counters && g.counters.done == 9 && g.counters.unsent == 1);
    ASSERT_EQ(grant("{\"ready\":0,\"done\":-1,\"rejected\":0,\"unsent\":0}", &g), 1);
    ASSERT_TRUE(g.credit == 0 && !g.has_counters && g.counters_error);

    /* Junk counters: refused, the credit still counts. */
    ASSERT_STREQ(refused("{\"ready\":1,\"done\":-1,\"rejected\":0,\"unsent\":0}"),
                 "a counter that is not an integer from 0 to 2^63-1");
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":1.5,\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":1e3,\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":\"3\",\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":null,\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":[1],\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":{\"a\":[]},\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":9223372036854775808,\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":18446744073709551616,\"rejected\":0,\"unsent\":0}"));
    ASSERT_NOT_NULL(refused("{\"ready\":1,\"done\":1"
                            "00000000000000000000000000000000000000,\"rejected\":0,\"unsent\":0}"));
    ASSERT_STREQ(refused("{\"ready\":1,\"done\":1,\"done\":1,\"rejected\":0,\"unsent\":0}"), "a counter given twice");
    ASSERT_STREQ(refused("{\"ready\":1,\"done\":1,\"unsent\":0}"), "counters without all of done, rejected and unsent");
    ASSERT_NOT_NULL(refused("{\"unsent\":0,\"ready\":1}"));
}

TEST_MAIN()
