/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers shared by every module: automatic cleanup of locals
 * (__attribute__((cleanup))), array sizes, printf format checks, invariants,
 * errno as a return value. Destructors used with _cleanup_ accept NULL (or -1
 * for fds) and are no-ops on it.
 *
 * Invariants are assert()ed, never stated in a comment: assert() for checks
 * without side effects, assert_se() for an expression that must run even when
 * NDEBUG is defined ("se": side effects), as systemd does.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* A macro's value as a string literal: STRINGIFY(64) is "64", STRINGIFY(LIMIT) LIMIT's value. */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Evaluates expr always; aborts, saying where, when it is false. */
#define assert_se(expr)                                                                                                \
    do {                                                                                                               \
        if (__builtin_expect(!(expr), 0)) {                                                                            \
            fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", __FILE__, __LINE__, __func__, #expr);                 \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/*
 * -errno after a failed call, never 0: a call that failed without setting errno
 * gives -EIO, so a failure is never mistaken for success.
 */
static inline int negative_errno(void) {
    return errno > 0 ? -errno : -EIO;
}

/* For calls that return a negative value and set errno on failure: their result, or -errno. */
#define RET_NERRNO(expr)                                                                                               \
    ({                                                                                                                 \
        __typeof__(expr) _r = (expr);                                                                                  \
        _r < 0 ? negative_errno() : (int)_r;                                                                           \
    })

/* Returns the pointer and sets *p to NULL: for handing ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                                    \
    ({                                                                                                                 \
        __typeof__(p) _taken = (p);                                                                                    \
        (p) = NULL;                                                                                                    \
        _taken;                                                                                                        \
    })

static inline void freep(void *p) {
    free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
    if (*f)
        fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Defines fooo_freep(Foo **p) calling foo_free(*p), for _cleanup_(foo_freep). */
#define DEFINE_FREEP(type, func)                                                                                       \
    static inline void func##p(type **p) {                                                                             \
        if (*p)                                                                                                        \
            func(*p);                                                                                                  \
    }
