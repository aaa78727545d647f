/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * First reading? The plain parsers are number_parse_query() and number_parse_json()
 * (number.c); the inline functions at the end of this file are a measured fast path
 * for short numbers that you can skip: whatever they decline, the plain parsers judge.
 *
 * Exact, strict integer text <-> int64 conversion. Pure: no I/O, no allocation.
 *
 * Two grammars are accepted, each all or nothing (no prefix is ever taken):
 *   number_parse_query(): what a user types in a query value: optional spaces
 *       or tabs around, an optional '+' or '-', one or more decimal digits.
 *   number_parse_json(): a JSON integer: -?(0|[1-9][0-9]*), nothing around it.
 * Both return 0 and write *ret, -EINVAL when the text does not match the
 * grammar, -ERANGE when it does but lies outside [INT64_MIN, INT64_MAX].
 * The inline functions below are the hot path for the common short numbers;
 * whatever they decline, the full parsers judge.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Longest decimal rendering of an int64 ("-9223372036854775808") plus NUL. */
#define NUMBER_INT64_DECIMAL_MAX 21

int number_parse_query(const char *s, size_t len, int64_t *ret);
int number_parse_json(const char *s, size_t len, int64_t *ret);

/* Writes the decimal form of v (no NUL) and returns its length, at most 20. */
size_t number_format_int64(int64_t v, char *buf);

/* Whether s[0..len) is a canonical JSON integer of any size: -?(0|[1-9][0-9]*). */
bool number_is_json_integer(const char *s, size_t len);

/* Whether all 8 bytes of x are ASCII digits: high nibbles 3, and none past '9' (+6 would carry). */
static inline bool number_digits8_valid(uint64_t x) {
    return (x & UINT64_C(0xF0F0F0F0F0F0F0F0)) == UINT64_C(0x3030303030303030) &&
           ((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) == UINT64_C(0x3030303030303030);
}

/* The value of 8 ASCII digits loaded little-endian (the first digit in the lowest byte). */
static inline uint64_t number_digits8_value(uint64_t x) {
    x -= UINT64_C(0x3030303030303030);
    x = (x * 10 + (x >> 8)) & UINT64_C(0x00FF00FF00FF00FF);   /* pairs: 10 * d0 + d1, ... */
    x = (x * 100 + (x >> 16)) & UINT64_C(0x0000FFFF0000FFFF); /* fours */
    return (x * 10000 + (x >> 32)) & UINT64_C(0xFFFFFFFF);    /* eight */
}

/*
 * The digits at *pp (up to e): when there are 1 to 19, advances *pp past them, stores their
 * value and returns true. Eight at a time where the text allows it.
 */
static inline bool number_scan_digits19(const char **pp, const char *e, uint64_t *ret) {
    const char *p = *pp;
    unsigned n = 0;
    uint64_t m = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n + 8 <= 19 && e - p >= 8) {
        uint64_t x;

        memcpy(&x, p, 8);
        if (!number_digits8_valid(x))
            break;
        m = m * 100000000 + number_digits8_value(x);
        p += 8;
        n += 8;
    }
#endif
    for (unsigned d; p < e && (d = (unsigned)(unsigned char)*p - '0') <= 9; p++) {
        if (++n > 19)
            return false;
        m = m * 10 + d;
    }
    if (n == 0)
        return false;
    *pp = p;
    *ret = m;
    return true;
}

/* The magnitude m with its sign, when that lies within int64. */
static inline bool number_apply_sign_short(uint64_t m, bool negative, int64_t *ret) {
    if (m > (uint64_t)INT64_MAX + negative)
        return false;
    *ret = negative ? (int64_t)(0 - m) : (int64_t)m;
    return true;
}

/*
 * The hot path of both grammars, for text already known to be digits with an
 * optional '-': at most 19 digits, which a uint64 holds without overflow, then
 * the int64 range. Returns false, having written nothing, for anything else
 * (longer, or out of range), which the full parsers then judge.
 */
static inline bool number_parse_short(const char *s, size_t len, int64_t *ret) {
    bool negative = len > 0 && s[0] == '-';
    const char *p = s + negative, *e = s + len;
    uint64_t m;

    /* the scan stops at anything but a digit: all of the text must be taken */
    return number_scan_digits19(&p, e, &m) && p == e && number_apply_sign_short(m, negative, ret);
}

/*
 * A JSON integer at *pp (up to e) that number_parse_short() would take: an optional
 * '-', then "0" or 1 to 19 digits without a leading zero, within int64. On success
 * advances *pp past it and stores it; what follows is the caller's to check.
 */
static inline bool number_take_json_short(const char **pp, const char *e, int64_t *ret) {
    const char *p = *pp;
    bool negative = p < e && *p == '-';
    uint64_t m = 0;

    p += negative;
    if (p < e && *p == '0')
        p++; /* a lone zero: a digit after it is the caller's to refuse */
    else if (!number_scan_digits19(&p, e, &m))
        return false;
    if (!number_apply_sign_short(m, negative, ret))
        return false;
    *pp = p;
    return true;
}
