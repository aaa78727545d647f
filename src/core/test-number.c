/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "number.h"
#include "test-helpers.h"

static int q(const char *s, int64_t *v) {
    return number_parse_query(s, strlen(s), v);
}
static int j(const char *s, int64_t *v) {
    return number_parse_json(s, strlen(s), v);
}

TEST(parse_query) {
    int64_t v;

    ASSERT_EQ(q("42", &v), 0);
    ASSERT_EQ(v, 42);
    ASSERT_EQ(q("-5", &v), 0);
    ASSERT_EQ(v, -5);
    ASSERT_EQ(q("+7", &v), 0);
    ASSERT_EQ(v, 7);
    ASSERT_EQ(q(" 12 ", &v), 0);
    ASSERT_EQ(v, 12);
    ASSERT_EQ(q("\t-3\t", &v), 0);
    ASSERT_EQ(v, -3);
    ASSERT_EQ(q("007", &v), 0);
    ASSERT_EQ(v, 7);
    ASSERT_EQ(q("0", &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(q("-0", &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(q("9223372036854775807", &v), 0);
    ASSERT_EQ(v, INT64_MAX);
    ASSERT_EQ(q("-9223372036854775808", &v), 0);
    ASSERT_EQ(v, INT64_MIN);
    ASSERT_EQ(q("0000000000000000000000009223372036854775807", &v), 0);
    ASSERT_EQ(v, INT64_MAX);
    ASSERT_EQ(q("9223372036854775808", &v), -ERANGE);
    ASSERT_EQ(q("-9223372036854775809", &v), -ERANGE);
    ASSERT_EQ(q("99999999999999999999", &v), -ERANGE);
    ASSERT_EQ(q("18446744073709551616", &v), -ERANGE);
    ASSERT_EQ(q("123456789012345678901234567890", &v), -ERANGE);
    ASSERT_EQ(q("", &v), -EINVAL);
    ASSERT_EQ(q(" ", &v), -EINVAL);
    ASSERT_EQ(q("-", &v), -EINVAL);
    ASSERT_EQ(q("+-1", &v), -EINVAL);
    ASSERT_EQ(q("abc", &v), -EINVAL);
    ASSERT_EQ(q("1.5", &v), -EINVAL);
    ASSERT_EQ(q("0x10", &v), -EINVAL);
    ASSERT_EQ(q("1e3", &v), -EINVAL);
    ASSERT_EQ(q("1 2", &v), -EINVAL);
    ASSERT_EQ(q("- 1", &v), -EINVAL);
    ASSERT_EQ(number_parse_query("12\0", 3, &v), -EINVAL);
}

TEST(parse_json) {
    int64_t v;

    ASSERT_EQ(j("0", &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(j("-0", &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(j("9223372036854775807", &v), 0);
    ASSERT_EQ(v, INT64_MAX);
    ASSERT_EQ(j("-9223372036854775808", &v), 0);
    ASSERT_EQ(v, INT64_MIN);
    ASSERT_EQ(j("9223372036854775808", &v), -ERANGE);
    ASSERT_EQ(j("-9223372036854775809", &v), -ERANGE);
    ASSERT_EQ(j("+1", &v), -EINVAL);
    ASSERT_EQ(j("01", &v), -EINVAL);
    ASSERT_EQ(j(" 1", &v), -EINVAL);
    ASSERT_EQ(j("1.0", &v), -EINVAL);
    ASSERT_EQ(j("-", &v), -EINVAL);
    ASSERT_EQ(j("", &v), -EINVAL);
}

TEST(is_json_integer) {
    ASSERT_TRUE(number_is_json_integer("123456789012345678901234567890", 30));
    ASSERT_FALSE(number_is_json_integer("00", 2));
}

/* Formatting round-trips at the edges and on random values, and the short parser agrees. */
TEST(format_round_trips) {
    int64_t v;
    char buf[NUMBER_INT64_DECIMAL_MAX];

    int64_t edges[] = { 0, 1, -1, 9, 10, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        size_t n = number_format_int64(edges[i], buf);
        ASSERT_EQ(number_parse_json(buf, n, &v), 0);
        ASSERT_EQ(v, edges[i]);
    }
    uint64_t seed = 0x9e3779b97f4a7c15;
    for (int i = 0; i < 100000; i++) {
        int64_t x = (int64_t)test_rand(&seed);
        char ref[32];
        size_t n = number_format_int64(x, buf);
        snprintf(ref, sizeof(ref), "%" PRId64, x);
        ASSERT_MEMEQ(buf, n, ref, strlen(ref));
        ASSERT_EQ(number_parse_query(buf, n, &v), 0);
        ASSERT_EQ(v, x);

        /* the hot path takes the same number, digits eight at a time, and stops at what follows */
        const char *p = buf;
        buf[n] = ',';
        ASSERT_TRUE(number_take_json_short(&p, buf + n + 1, &v));
        ASSERT_EQ(v, x);
        ASSERT_PTR_EQ(p, buf + n);
        p = buf;
        ASSERT_TRUE(number_take_json_short(&p, buf + n, &v));
        ASSERT_EQ(v, x);
        ASSERT_PTR_EQ(p, buf + n);   /* at the end of the text */
        x >>= test_rand(&seed) % 64; /* shorter numbers too */
        n = number_format_int64(x, buf);
        p = buf;
        ASSERT_TRUE(number_take_json_short(&p, buf + n, &v));
        ASSERT_EQ(v, x);
        ASSERT_PTR_EQ(p, buf + n);
    }
}

/* What number_take_json_short leaves to the full parsers, and where it stops. */
TEST(take_json_short_edges) {
    int64_t v;

    {
        const char *cases[] = { "",
                                "-",
                                "x",
                                "-x",
                                "12345678901234567890",
                                "9223372036854775808",
                                "-9223372036854775809",
                                "99999999999999999999" };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            const char *p = cases[i];
            ASSERT_FALSE(number_take_json_short(&p, cases[i] + strlen(cases[i]), &v));
            ASSERT_PTR_EQ(p, cases[i]);
        }
        const char *z = "0123", *p = z;
        ASSERT_TRUE(number_take_json_short(&p, z + 4, &v));
        ASSERT_EQ(v, 0);
        ASSERT_PTR_EQ(p, z + 1);
        z = "-0,";
        p = z;
        ASSERT_TRUE(number_take_json_short(&p, z + 3, &v));
        ASSERT_EQ(v, 0);
        ASSERT_PTR_EQ(p, z + 2);
        z = "9223372036854775807x";
        p = z;
        ASSERT_TRUE(number_take_json_short(&p, z + 20, &v));
        ASSERT_EQ(v, INT64_MAX);
        ASSERT_PTR_EQ(p, z + 19);
        z = "-9223372036854775808";
        p = z;
        ASSERT_TRUE(number_take_json_short(&p, z + 20, &v));
        ASSERT_EQ(v, INT64_MIN);
        ASSERT_PTR_EQ(p, z + 20);
        z = "12345678a";
        p = z;
        ASSERT_TRUE(number_take_json_short(&p, z + 9, &v));
        ASSERT_EQ(v, 12345678);
        ASSERT_PTR_EQ(p, z + 8);
    }
}

TEST_MAIN()
