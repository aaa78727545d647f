/* SPDX-License-Identifier: MIT */
#pragma once

/* Minimal checks for the unit tests: a failed check prints where and exits non-zero. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define check(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);               \
            exit(EXIT_FAILURE);                                                                    \
        }                                                                                          \
    } while (0)

#define check_streq(a, b)                                                                          \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (strcmp(_a, _b) != 0) {                                                                 \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a, _b);              \
            exit(EXIT_FAILURE);                                                                    \
        }                                                                                          \
    } while (0)

/* A deterministic generator, so a failure can be replayed. */
static inline uint64_t test_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}
