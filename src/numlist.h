/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A growable array of int64 numbers with a hard cap on its length, so that a
 * request can never make us hold more than the configured limit. Pure.
 * The first NUMLIST_INLINE numbers live inside the struct (no allocation for
 * the common short request), so a NumList must not be copied once used.
 */

#include <stddef.h>
#include <stdint.h>

#define NUMLIST_INLINE 32

typedef struct NumList {
    int64_t *v;
    size_t n, cap, max;
    int64_t inline_v[NUMLIST_INLINE];
} NumList;

#define NUMLIST_INIT(limit) { .max = (limit) }

/* Grows the storage, then appends x: the slow path of numlist_push(). */
int numlist_grow_push(NumList *l, int64_t x);

/* Appends x; -E2BIG past the cap, -ENOMEM when memory runs out. */
static inline int numlist_push(NumList *l, int64_t x) {
    if (l->n < l->cap) {
        l->v[l->n++] = x;
        return 0;
    }
    return numlist_grow_push(l, x);
}

/* Frees the storage; the list stays usable (empty, same cap). */
void numlist_done(NumList *l);
