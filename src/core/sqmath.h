/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The exact arithmetic of sqdiff. Pure: no I/O.
 *
 * An SqAcc accumulates int64 numbers in types that cannot overflow for up to
 * SQACC_MAX_COUNT numbers: the sum in 128 bits, the sum of squares in 192 bits.
 * From it come the decimal texts of the sum of the squares ("sum" on the wire)
 * and of the square of the sum ("square"); sqmath_answer() then checks two such
 * texts and renders the final answer {"sum":S,"square":Q,"diff":Q-S} exactly.
 * Results beyond 128 bits go through GMP; smaller ones stay native.
 */

#include <stddef.h>
#include <stdint.h>

/* |sum| < 2^(63+40), sum of squares < 2^(126+40): both far inside the accumulators. */
#define SQACC_MAX_COUNT (UINT64_C(1) << 40)

/* Enough for any decimal result of up to SQACC_MAX_COUNT numbers, with sign and NUL. */
#define SQMATH_DECIMAL_MAX 96

/* Longest answer body sqmath_answer() writes, with NUL. */
#define SQMATH_ANSWER_MAX (3 * SQMATH_DECIMAL_MAX + 32)

typedef struct SqAcc {
    __int128 sum;
    unsigned __int128 sumsq_lo;
    uint64_t sumsq_hi;
    uint64_t count;
} SqAcc;

#define SQACC_INIT ((SqAcc){ 0 })

static inline void sqacc_add(SqAcc *a, int64_t x) {
    unsigned __int128 sq = (unsigned __int128)((__int128)x * x);

    a->sum += x;
    a->sumsq_hi += __builtin_add_overflow(a->sumsq_lo, sq, &a->sumsq_lo);
    a->count++;
}

/* Decimal sum of the squares into buf (>= SQMATH_DECIMAL_MAX bytes, NUL-terminated); returns its length. */
size_t sqmath_sumsq_decimal(const SqAcc *a, char *buf);

/* Decimal square of the sum into buf (>= SQMATH_DECIMAL_MAX bytes, NUL-terminated); returns its length. */
size_t sqmath_square_decimal(const SqAcc *a, char *buf);

/* Renders the answer for the numbers in a (as sqmath_answer() does for its decimals). */
int sqmath_answer_acc(const SqAcc *a, char *out);

/*
 * Renders {"sum":S,"square":Q,"diff":D} into out (>= SQMATH_ANSWER_MAX bytes), where S and Q are
 * decimal texts (not necessarily NUL-terminated) and D = Q - S. Returns the length written, or
 * -EINVAL when S or Q is not a canonical non-negative integer of at most SQMATH_DECIMAL_MAX-2 digits.
 */
int sqmath_answer(const char *sum, size_t sum_len, const char *square, size_t square_len, char *out);
