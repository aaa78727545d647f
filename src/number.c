/* SPDX-License-Identifier: MIT */
/*
 * Integer text conversion. Digits are accumulated as an unsigned magnitude with
 * overflow checks, then the sign is applied against the asymmetric int64 range,
 * so "-9223372036854775808" is accepted and "9223372036854775808" is not.
 */

#include "number.h"

#include <errno.h>
#include <string.h>

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Converts sign and digits s[0..len) (already checked to be digits) to int64. */
static int magnitude_to_int64(const char *s, size_t len, int negative, int64_t *ret) {
    uint64_t m = 0;

    for (size_t i = 0; i < len; i++)
        if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, (uint64_t)(s[i] - '0'), &m))
            return -ERANGE;

    if (negative) {
        if (m > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *ret = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX)
            return -ERANGE;
        *ret = (int64_t)m;
    }
    return 0;
}

int number_parse_query(const char *s, size_t len, int64_t *ret) {
    size_t b = 0, e = len;
    int negative = 0;

    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (b < e && (s[b] == '+' || s[b] == '-'))
        negative = s[b++] == '-';
    if (b == e)
        return -EINVAL;
    for (size_t i = b; i < e; i++)
        if (!is_digit(s[i]))
            return -EINVAL;

    /* Leading zeros carry no value and must not count against the range. */
    while (e - b > 1 && s[b] == '0')
        b++;
    return magnitude_to_int64(s + b, e - b, negative, ret);
}

int number_is_json_integer(const char *s, size_t len) {
    size_t i = 0;

    if (i < len && s[i] == '-')
        i++;
    if (i == len)
        return 0;
    if (s[i] == '0')
        return i + 1 == len;
    for (; i < len; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

int number_parse_json(const char *s, size_t len, int64_t *ret) {
    int negative;

    if (!number_is_json_integer(s, len))
        return -EINVAL;
    negative = s[0] == '-';
    return magnitude_to_int64(s + negative, len - negative, negative, ret);
}

size_t number_format_int64(int64_t v, char *buf) {
    char tmp[NUMBER_INT64_DECIMAL_MAX];
    size_t n = 0, len = 0;
    uint64_t m = v < 0 ? -(uint64_t)v : (uint64_t)v;

    do {
        tmp[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}
