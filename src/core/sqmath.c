/* SPDX-License-Identifier: MIT */
/*
 * Exact results. The common case (every value below 2^127) is done with native
 * 128-bit integers; anything larger goes through GMP, which is exact at any size.
 */

#include "sqmath.h"

#include <errno.h>
#include <gmp.h>
#include <string.h>

#include "number.h"

static size_t format_u128(unsigned __int128 v, int negative, char *buf) {
    char tmp[48];
    size_t n = 0, len = 0;

    /* 128-bit division is a library call: peel 19 digits at a time, then work in 64 bits. */
    while (v > UINT64_MAX) {
        uint64_t chunk = (uint64_t)(v % UINT64_C(10000000000000000000));
        v /= UINT64_C(10000000000000000000);
        for (int i = 0; i < 19; i++, chunk /= 10)
            tmp[n++] = (char)('0' + chunk % 10);
    }
    for (uint64_t w = (uint64_t)v;; w /= 10) {
        tmp[n++] = (char)('0' + w % 10);
        if (w < 10)
            break;
    }
    if (negative)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* Loads an unsigned integer given as little-endian 64-bit words into z. */
static void mpz_set_words(mpz_t z, const uint64_t *w, size_t n) {
    mpz_import(z, n, -1, sizeof(uint64_t), 0, 0, w);
}

static size_t mpz_decimal(const mpz_t z, char *buf) {
    /* mpz_sizeinbase may overshoot by one; the buffer is sized for the worst case. */
    mpz_get_str(buf, 10, z);
    return strlen(buf);
}

size_t sqmath_sumsq_decimal(const SqAcc *a, char *buf) {
    if (a->sumsq_hi == 0)
        return format_u128(a->sumsq_lo, 0, buf);

    uint64_t w[3] = { (uint64_t)a->sumsq_lo, (uint64_t)(a->sumsq_lo >> 64), a->sumsq_hi };
    mpz_t z;
    size_t len;

    mpz_init(z);
    mpz_set_words(z, w, 3);
    len = mpz_decimal(z, buf);
    mpz_clear(z);
    return len;
}

size_t sqmath_square_decimal(const SqAcc *a, char *buf) {
    unsigned __int128 m = a->sum < 0 ? -(unsigned __int128)a->sum : (unsigned __int128)a->sum;

    if (m >> 63 == 0) /* m < 2^63, so m^2 < 2^126 */
        return format_u128(m * m, 0, buf);

    uint64_t w[2] = { (uint64_t)m, (uint64_t)(m >> 64) };
    mpz_t z;
    size_t len;

    mpz_init(z);
    mpz_set_words(z, w, 2);
    mpz_mul(z, z, z);
    len = mpz_decimal(z, buf);
    mpz_clear(z);
    return len;
}

/* Parses a canonical non-negative decimal of fewer than 39 digits (so below 10^38 < 2^127). */
static int parse_small(const char *s, size_t len, unsigned __int128 *ret) {
    unsigned __int128 v = 0;

    if (len >= 39)
        return 0;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    *ret = v;
    return 1;
}

static int valid_result(const char *s, size_t len) {
    return len > 0 && len <= SQMATH_DECIMAL_MAX - 2 && s[0] != '-' && number_is_json_integer(s, len);
}

int sqmath_answer(const char *sum, size_t sum_len, const char *square, size_t square_len, char *out) {
    unsigned __int128 s, q;
    char diff[SQMATH_DECIMAL_MAX];
    size_t len = 0;

    if (!valid_result(sum, sum_len) || !valid_result(square, square_len))
        return -EINVAL;

    if (parse_small(sum, sum_len, &s) && parse_small(square, square_len, &q))
        format_u128(q >= s ? q - s : s - q, q < s, diff);
    else {
        char zs[SQMATH_DECIMAL_MAX], zq[SQMATH_DECIMAL_MAX];
        mpz_t a, b;

        memcpy(zs, sum, sum_len);
        zs[sum_len] = '\0';
        memcpy(zq, square, square_len);
        zq[square_len] = '\0';
        mpz_init_set_str(a, zs, 10);
        mpz_init_set_str(b, zq, 10);
        mpz_sub(b, b, a);
        mpz_decimal(b, diff);
        mpz_clear(a);
        mpz_clear(b);
    }

#define APPEND(p, n)                                                                                                   \
    do {                                                                                                               \
        memcpy(out + len, (p), (n));                                                                                   \
        len += (n);                                                                                                    \
    } while (0)
    APPEND("{\"sum\":", 7);
    APPEND(sum, sum_len);
    APPEND(",\"square\":", 10);
    APPEND(square, square_len);
    APPEND(",\"diff\":", 8);
    APPEND(diff, strlen(diff));
    APPEND("}", 2); /* with the NUL */
#undef APPEND
    return (int)len - 1;
}

int sqmath_answer_acc(const SqAcc *a, char *out) {
    unsigned __int128 m = a->sum < 0 ? -(unsigned __int128)a->sum : (unsigned __int128)a->sum;
    char s[SQMATH_DECIMAL_MAX], q[SQMATH_DECIMAL_MAX];

    /* Both below 2^127: their difference fits an __int128, no text round trip. */
    if (a->sumsq_hi == 0 && a->sumsq_lo >> 127 == 0 && m >> 63 == 0) {
        unsigned __int128 sq = m * m;
        __int128 diff = (__int128)sq - (__int128)a->sumsq_lo;
        size_t len = 0;

        memcpy(out, "{\"sum\":", 7);
        len = 7;
        len += format_u128(a->sumsq_lo, 0, out + len);
        memcpy(out + len, ",\"square\":", 10);
        len += 10;
        len += format_u128(sq, 0, out + len);
        memcpy(out + len, ",\"diff\":", 8);
        len += 8;
        len += format_u128(diff < 0 ? -(unsigned __int128)diff : (unsigned __int128)diff, diff < 0, out + len);
        memcpy(out + len, "}", 2);
        return (int)len + 1;
    }
    return sqmath_answer(s, sqmath_sumsq_decimal(a, s), q, sqmath_square_decimal(a, q), out);
}
