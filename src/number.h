/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Exact, strict integer text <-> int64 conversion. Pure: no I/O, no allocation.
 *
 * Two grammars are accepted, each all or nothing (no prefix is ever taken):
 *   number_parse_query(): what a user types in a query value: optional spaces
 *       or tabs around, an optional '+' or '-', one or more decimal digits.
 *   number_parse_json(): a JSON integer: -?(0|[1-9][0-9]*), nothing around it.
 * Both return 0 and write *ret, -EINVAL when the text does not match the
 * grammar, -ERANGE when it does but lies outside [INT64_MIN, INT64_MAX].
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest decimal rendering of an int64 ("-9223372036854775808") plus NUL. */
#define NUMBER_INT64_DECIMAL_MAX 21

int number_parse_query(const char *s, size_t len, int64_t *ret);
int number_parse_json(const char *s, size_t len, int64_t *ret);

/* Writes the decimal form of v (no NUL) and returns its length, at most 20. */
size_t number_format_int64(int64_t v, char *buf);

/* True when s[0..len) is a canonical JSON integer of any size: -?(0|[1-9][0-9]*). */
int number_is_json_integer(const char *s, size_t len);

/*
 * The hot path of both grammars, for text already known to be digits with an
 * optional '-': at most 19 digits, which a uint64 holds without overflow, then
 * the int64 range. Returns false, having written nothing, for anything else
 * (longer, or out of range), which the full parsers then judge.
 */
static inline bool number_parse_short(const char *s, size_t len, int64_t *ret) {
    size_t i = len > 0 && s[0] == '-';
    bool negative = i == 1;
    uint64_t m = 0;

    if (len - i == 0 || len - i > 19)
        return false;
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        m = m * 10 + d;
    }
    if (m > (uint64_t)INT64_MAX + negative)
        return false;
    *ret = negative ? (int64_t)(0 - m) : (int64_t)m;
    return true;
}
