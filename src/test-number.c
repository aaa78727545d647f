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

int main(void) {
    int64_t v;
    char buf[NUMBER_INT64_DECIMAL_MAX];

    check(q("42", &v) == 0 && v == 42);
    check(q("-5", &v) == 0 && v == -5);
    check(q("+7", &v) == 0 && v == 7);
    check(q("  12 ", &v) == 0 && v == 12);
    check(q("\t-3\t", &v) == 0 && v == -3);
    check(q("007", &v) == 0 && v == 7);
    check(q("0", &v) == 0 && v == 0);
    check(q("-0", &v) == 0 && v == 0);
    check(q("9223372036854775807", &v) == 0 && v == INT64_MAX);
    check(q("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    check(q("0000000000000000000000009223372036854775807", &v) == 0 && v == INT64_MAX);
    check(q("9223372036854775808", &v) == -ERANGE);
    check(q("-9223372036854775809", &v) == -ERANGE);
    check(q("99999999999999999999", &v) == -ERANGE);
    check(q("18446744073709551616", &v) == -ERANGE);
    check(q("123456789012345678901234567890", &v) == -ERANGE);
    check(q("", &v) == -EINVAL);
    check(q("   ", &v) == -EINVAL);
    check(q("-", &v) == -EINVAL);
    check(q("+-1", &v) == -EINVAL);
    check(q("abc", &v) == -EINVAL);
    check(q("1.5", &v) == -EINVAL);
    check(q("0x10", &v) == -EINVAL);
    check(q("1e3", &v) == -EINVAL);
    check(q("1 2", &v) == -EINVAL);
    check(q("- 1", &v) == -EINVAL);
    check(number_parse_query("12\0", 3, &v) == -EINVAL);

    check(j("0", &v) == 0 && v == 0);
    check(j("-0", &v) == 0 && v == 0);
    check(j("9223372036854775807", &v) == 0 && v == INT64_MAX);
    check(j("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    check(j("9223372036854775808", &v) == -ERANGE);
    check(j("-9223372036854775809", &v) == -ERANGE);
    check(j("+1", &v) == -EINVAL);
    check(j("01", &v) == -EINVAL);
    check(j(" 1", &v) == -EINVAL);
    check(j("1.0", &v) == -EINVAL);
    check(j("-", &v) == -EINVAL);
    check(j("", &v) == -EINVAL);

    check(number_is_json_integer("123456789012345678901234567890", 30));
    check(!number_is_json_integer("00", 2));

    /* Formatting round-trips at the edges and on random values. */
    int64_t edges[] = { 0, 1, -1, 9, 10, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        size_t n = number_format_int64(edges[i], buf);
        check(number_parse_json(buf, n, &v) == 0 && v == edges[i]);
    }
    uint64_t seed = 0x9e3779b97f4a7c15;
    for (int i = 0; i < 100000; i++) {
        int64_t x = (int64_t)test_rand(&seed);
        char ref[32];
        size_t n = number_format_int64(x, buf);
        snprintf(ref, sizeof(ref), "%" PRId64, x);
        check(n == strlen(ref) && memcmp(buf, ref, n) == 0);
        check(number_parse_query(buf, n, &v) == 0 && v == x);
    }
    return 0;
}
