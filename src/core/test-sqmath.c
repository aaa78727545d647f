/* SPDX-License-Identifier: MIT */
/* Checks the exact results against GMP computing each term on its own (a different path). */
#include <errno.h>
#include <gmp.h>
#include <stdint.h>

#include "sqmath.h"
#include "test-helpers.h"

static void reference(const int64_t *v, size_t n, char *sumsq, char *square, char *diff) {
    mpz_t s, q, x;

    mpz_inits(s, q, x, NULL);
    for (size_t i = 0; i < n; i++) {
        mpz_set_si(x, v[i]);
        mpz_add(q, q, x);
        mpz_mul(x, x, x);
        mpz_add(s, s, x);
    }
    mpz_mul(q, q, q);
    mpz_get_str(sumsq, 10, s);
    mpz_get_str(square, 10, q);
    mpz_sub(x, q, s);
    mpz_get_str(diff, 10, x);
    mpz_clears(s, q, x, NULL);
}

static void check_list(const int64_t *v, size_t n) {
    SqAcc a = SQACC_INIT;
    char s[SQMATH_DECIMAL_MAX], q[SQMATH_DECIMAL_MAX], rs[200], rq[200], rd[200], want[700];
    char out[SQMATH_ANSWER_MAX];
    size_t ls, lq;
    int len;

    for (size_t i = 0; i < n; i++)
        sqacc_add(&a, v[i]);
    ls = sqmath_sumsq_decimal(&a, s);
    lq = sqmath_square_decimal(&a, q);
    reference(v, n, rs, rq, rd);
    ASSERT_STREQ(s, rs);
    ASSERT_STREQ(q, rq);
    ASSERT_EQ(ls, strlen(s));
    ASSERT_EQ(lq, strlen(q));
    len = sqmath_answer(s, ls, q, lq, out);
    snprintf(want, sizeof(want), "{\"sum\":%s,\"square\":%s,\"diff\":%s}", rs, rq, rd);
    ASSERT_EQ(len, (int)strlen(want));
    ASSERT_STREQ(out, want);
    /* The native path of sqmath_answer_acc() must agree, byte for byte. */
    len = sqmath_answer_acc(&a, out);
    ASSERT_EQ(len, (int)strlen(want));
    ASSERT_STREQ(out, want);
}

/* Worked examples: one to ten (385, 3025, 2640), one number, a negative difference, zero. */
TEST(worked_examples) {
    char out[SQMATH_ANSWER_MAX];
    int64_t one_to_ten[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    SqAcc a = SQACC_INIT;
    char s[SQMATH_DECIMAL_MAX], q[SQMATH_DECIMAL_MAX];

    for (int i = 0; i < 10; i++)
        sqacc_add(&a, one_to_ten[i]);
    sqmath_answer(s, sqmath_sumsq_decimal(&a, s), q, sqmath_square_decimal(&a, q), out);
    ASSERT_STREQ(out, "{\"sum\":385,\"square\":3025,\"diff\":2640}");
    check_list(one_to_ten, 10);
    check_list((int64_t[]){ 42 }, 1);
    check_list((int64_t[]){ 1, -1 }, 2); /* negative diff */
    check_list((int64_t[]){ 0 }, 1);
}

/* The edges: squares near 2^126, sums near 2^127, results past 2^128. */
TEST(edges) {
    check_list((int64_t[]){ INT64_MAX, INT64_MAX }, 2);
    check_list((int64_t[]){ INT64_MIN, INT64_MIN }, 2);
    check_list((int64_t[]){ INT64_MIN, INT64_MAX }, 2);
    check_list((int64_t[]){ INT64_MIN }, 1);
    {
        static int64_t big[5000];
        for (size_t i = 0; i < 5000; i++)
            big[i] = i % 2 ? INT64_MIN : INT64_MIN + 1;
        check_list(big, 5000);
        for (size_t i = 0; i < 5000; i++)
            big[i] = INT64_MAX;
        check_list(big, 5000);
    }
}

/* Random lists of random sizes and magnitudes, against the reference. */
TEST(random_lists) {
    uint64_t seed = 12345;

    for (int round = 0; round < 2000; round++) {
        int64_t v[64];
        size_t n = 1 + test_rand(&seed) % 64;
        unsigned shift = (unsigned)(test_rand(&seed) % 64);
        for (size_t i = 0; i < n; i++)
            v[i] = (int64_t)test_rand(&seed) >> shift;
        check_list(v, n);
    }
}

/* sqmath_answer refuses what is not a canonical non-negative integer; big texts go through GMP. */
TEST(answer_from_texts) {
    char out[SQMATH_ANSWER_MAX];

    ASSERT_EQ(sqmath_answer("-1", 2, "1", 1, out), -EINVAL);
    ASSERT_EQ(sqmath_answer("01", 2, "1", 1, out), -EINVAL);
    ASSERT_EQ(sqmath_answer("", 0, "1", 1, out), -EINVAL);
    ASSERT_EQ(sqmath_answer("1.0", 3, "1", 1, out), -EINVAL);
    ASSERT_EQ(sqmath_answer("1", 1, "1e3", 3, out), -EINVAL);
    {
        char huge[200];
        memset(huge, '9', sizeof(huge));
        ASSERT_EQ(sqmath_answer(huge, sizeof(huge), "1", 1, out), -EINVAL);
    }

    ASSERT_GT(sqmath_answer("340282366920938463463374607431768211456", 39, "340282366920938463463374607431768211457",
                            39, out),
              0);
    ASSERT_STREQ(out, "{\"sum\":340282366920938463463374607431768211456,\"square\":"
                      "340282366920938463463374607431768211457,\"diff\":1}");
    ASSERT_GT(sqmath_answer("340282366920938463463374607431768211457", 39, "0", 1, out), 0);
    ASSERT_STREQ(out, "{\"sum\":340282366920938463463374607431768211457,\"square\":0,"
                      "\"diff\":-340282366920938463463374607431768211457}");
}

TEST_MAIN()
