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

/* Applies the sign to magnitude m within the asymmetric int64 range. */
static int apply_sign(uint64_t m, int negative, int64_t *ret) {
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
    size_t i = 0;
    uint64_t m = 0;
    int negative = 0, overflow = 0, digits = 0;

    /* One pass: spaces, sign, digits (accumulated as they come), spaces. */
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        negative = s[i++] == '-';
    for (; i < len && is_digit(s[i]); i++, digits++)
        overflow |= (int)__builtin_mul_overflow(m, 10, &m) | (int)__builtin_add_overflow(m, (uint64_t)(s[i] - '0'), &m);
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i != len || digits == 0)
        return -EINVAL; /* a malformed text is malformed, however long its digits */
    if (overflow)
        return -ERANGE;
    return apply_sign(m, negative, ret);
}

bool number_is_json_integer(const char *s, size_t len) {
    size_t i = 0;

    if (i < len && s[i] == '-')
        i++;
    if (i == len)
        return false;
    if (s[i] == '0')
        return i + 1 == len;
    for (; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

int number_parse_json(const char *s, size_t len, int64_t *ret) {
    int negative;

    if (!number_is_json_integer(s, len))
        return -EINVAL;
    uint64_t m = 0;

    negative = s[0] == '-';
    for (size_t i = (size_t)negative; i < len; i++)
        if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, (uint64_t)(s[i] - '0'), &m))
            return -ERANGE;
    return apply_sign(m, negative, ret);
}

size_t number_format_int64(int64_t v, char *buf) {
    /* Two digits per division: "00", "01", ... "99". */
    static const char pairs[200] = "0001020304050607080910111213141516171819"
                                   "2021222324252627282930313233343536373839"
                                   "4041424344454647484950515253545556575859"
                                   "6061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    char tmp[NUMBER_INT64_DECIMAL_MAX], *p = tmp + sizeof(tmp);
    uint64_t m = v < 0 ? -(uint64_t)v : (uint64_t)v;
    size_t len = 0, n;

    while (m >= 100) {
        p -= 2;
        memcpy(p, pairs + (m % 100) * 2, 2);
        m /= 100;
    }
    if (m >= 10) {
        p -= 2;
        memcpy(p, pairs + m * 2, 2);
    } else
        *--p = (char)('0' + m);
    if (v < 0)
        buf[len++] = '-';
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(buf + len, p, n);
    return len + n;
}
