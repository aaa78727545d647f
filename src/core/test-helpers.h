/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The unit tests' frame, after systemd's src/shared/tests.h and libuv's test/task.h:
 *
 *     TEST(parse_negative) {
 *         ASSERT_EQ(number_parse_query("-5", 2, &v), 0);
 *         ASSERT_EQ(v, -5);
 *     }
 *     TEST_MAIN()
 *
 * TEST(name) defines a test and registers it; TEST_MAIN() runs them all in the order
 * they are defined (or only those named on the command line). A failed assertion
 * prints the test, the place, the expression and the values it got, and exits
 * non-zero. Integers are compared by value whatever their types (-1 is not
 * UINT64_MAX); strings with ASSERT_STREQ (NULL prints as (null)).
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_MAX 128

typedef struct TestCase {
    const char *name;
    void (*fn)(void);
} TestCase;

static TestCase test_cases[TEST_MAX];
static size_t test_n_cases;
static const char *test_current = "(none)";

static inline void test_register(const char *name, void (*fn)(void)) {
    if (test_n_cases == TEST_MAX) {
        fprintf(stderr, "test-helpers.h: more than %d tests in one program\n", TEST_MAX);
        abort();
    }
    test_cases[test_n_cases++] = (TestCase){ name, fn };
}

#define TEST(name)                                                                                                     \
    static void test_##name(void);                                                                                     \
    __attribute__((constructor)) static void test_register_##name(void) {                                              \
        test_register(#name, test_##name);                                                                             \
    }                                                                                                                  \
    static void test_##name(void)

static inline int test_run(int argc, char **argv) {
    size_t ran = 0;

    for (size_t i = 0; i < test_n_cases; i++) {
        bool wanted = argc <= 1;

        for (int a = 1; a < argc; a++)
            wanted = wanted || strcmp(argv[a], test_cases[i].name) == 0;
        if (!wanted)
            continue;
        test_current = test_cases[i].name;
        test_cases[i].fn();
        printf("ok %zu - %s\n", ++ran, test_cases[i].name);
    }
    if (ran == 0) {
        fprintf(stderr, "no test ran\n");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

#define TEST_MAIN()                                                                                                    \
    int main(int argc, char **argv) {                                                                                  \
        return test_run(argc, argv);                                                                                   \
    }

/* An integer of any type, by value. */
typedef struct TestInt {
    bool negative;
    uintmax_t magnitude;
} TestInt;

static inline TestInt test_int_signed(intmax_t v) {
    return v < 0 ? (TestInt){ true, (uintmax_t)(-(v + 1)) + 1 } : (TestInt){ false, (uintmax_t)v };
}

static inline TestInt test_int_unsigned(uintmax_t v) {
    return (TestInt){ false, v };
}

#define TEST_INT(x)                                                                                                    \
    _Generic((x), _Bool                                                                                                \
             : test_int_unsigned, unsigned char                                                                        \
             : test_int_unsigned, unsigned short                                                                       \
             : test_int_unsigned, unsigned int                                                                         \
             : test_int_unsigned, unsigned long                                                                        \
             : test_int_unsigned, unsigned long long                                                                   \
             : test_int_unsigned, default                                                                              \
             : test_int_signed)(x)

static inline int test_int_cmp(TestInt a, TestInt b) {
    if (a.negative != b.negative)
        return a.negative ? -1 : 1;
    if (a.magnitude == b.magnitude)
        return 0;
    return (a.magnitude < b.magnitude) != a.negative ? -1 : 1;
}

static inline const char *test_int_str(TestInt v, char buf[static 24]) {
    snprintf(buf, 24, "%s%" PRIuMAX, v.negative ? "-" : "", v.magnitude);
    return buf;
}

static inline void test_fail_begin(const char *file, int line) {
    fprintf(stderr, "%s:%d: in test %s: ", file, line, test_current);
}

#define TEST_FAIL(...)                                                                                                 \
    do {                                                                                                               \
        test_fail_begin(__FILE__, __LINE__);                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fputc('\n', stderr);                                                                                           \
        exit(EXIT_FAILURE);                                                                                            \
    } while (0)

#define ASSERT_TRUE(expr)                                                                                              \
    do {                                                                                                               \
        if (!(expr))                                                                                                   \
            TEST_FAIL("expected %s, it is false", #expr);                                                              \
    } while (0)

#define ASSERT_FALSE(expr)                                                                                             \
    do {                                                                                                               \
        if (expr)                                                                                                      \
            TEST_FAIL("expected !(%s), it is true", #expr);                                                            \
    } while (0)

#define TEST_ASSERT_CMP(a, op, b)                                                                                      \
    do {                                                                                                               \
        TestInt _a = TEST_INT(a), _b = TEST_INT(b);                                                                    \
        char _sa[24], _sb[24];                                                                                         \
        if (!(test_int_cmp(_a, _b) op 0))                                                                              \
            TEST_FAIL("expected %s %s %s, got %s and %s", #a, #op, #b, test_int_str(_a, _sa), test_int_str(_b, _sb));  \
    } while (0)

#define ASSERT_EQ(a, b) TEST_ASSERT_CMP(a, ==, b)
#define ASSERT_NE(a, b) TEST_ASSERT_CMP(a, !=, b)
#define ASSERT_LT(a, b) TEST_ASSERT_CMP(a, <, b)
#define ASSERT_LE(a, b) TEST_ASSERT_CMP(a, <=, b)
#define ASSERT_GT(a, b) TEST_ASSERT_CMP(a, >, b)
#define ASSERT_GE(a, b) TEST_ASSERT_CMP(a, >=, b)

#define ASSERT_STREQ(a, b)                                                                                             \
    do {                                                                                                               \
        const char *_a = (a), *_b = (b);                                                                               \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                                                         \
            TEST_FAIL("expected %s equal to %s, got \"%s\" and \"%s\"", #a, #b, _a ? _a : "(null)",                    \
                      _b ? _b : "(null)");                                                                             \
    } while (0)

#define ASSERT_STRCONTAINS(haystack, needle)                                                                           \
    do {                                                                                                               \
        const char *_h = (haystack), *_n = (needle);                                                                   \
        if (!strstr(_h, _n))                                                                                           \
            TEST_FAIL("expected %s to contain \"%s\", got \"%s\"", #haystack, _n, _h);                                 \
    } while (0)

/* a[0..alen) and b[0..blen) hold the same bytes (printed as text, up to 200 bytes each). */
#define ASSERT_MEMEQ(a, alen, b, blen)                                                                                 \
    do {                                                                                                               \
        const char *_a = (const char *)(a), *_b = (const char *)(b);                                                   \
        size_t _al = (alen), _bl = (blen);                                                                             \
        if (_al != _bl || memcmp(_a, _b, _al) != 0)                                                                    \
            TEST_FAIL("expected %s equal to %s, got \"%.*s\" (%zu bytes) and \"%.*s\" (%zu bytes)", #a, #b,            \
                      (int)(_al < 200 ? _al : 200), _a, _al, (int)(_bl < 200 ? _bl : 200), _b, _bl);                   \
    } while (0)

#define ASSERT_PTR_EQ(a, b)                                                                                            \
    do {                                                                                                               \
        const void *_a = (a), *_b = (b);                                                                               \
        if (_a != _b)                                                                                                  \
            TEST_FAIL("expected %s == %s, got %p and %p", #a, #b, _a, _b);                                             \
    } while (0)

#define ASSERT_NULL(p)                                                                                                 \
    do {                                                                                                               \
        const void *_p = (p);                                                                                          \
        if (_p)                                                                                                        \
            TEST_FAIL("expected %s to be NULL, got %p", #p, _p);                                                       \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                                                             \
    do {                                                                                                               \
        if (!(p))                                                                                                      \
            TEST_FAIL("expected %s not to be NULL", #p);                                                               \
    } while (0)

/* A deterministic generator, so a failure can be replayed. */
static inline uint64_t test_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}
