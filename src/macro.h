/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers shared by every module: automatic cleanup of locals
 * (__attribute__((cleanup))), array sizes, printf format checks. Destructors used
 * with _cleanup_ accept NULL (or -1 for fds) and are no-ops on it.
 */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Returns the pointer and sets *p to NULL: for handing ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _taken = (p);                                                                \
        (p) = NULL;                                                                                \
        _taken;                                                                                    \
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

/* Defines fooo_freep(Foo **p) calling foo_free(*p), for _cleanup_(foo_freep). */
#define DEFINE_FREEP(type, func)                                                                   \
    static inline void func##p(type **p) {                                                         \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }
