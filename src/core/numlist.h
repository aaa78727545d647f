/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Where a request's numbers go: a growable array of int64 numbers with a hard
 * cap on its length, so that a request can never make us hold more than the
 * configured limit. Pure.
 * The first NUMLIST_INLINE numbers live inside the struct (no allocation for
 * the common short request), so a NumList must not be copied once used.
 * A summing list (NUMLIST_INIT_SUMMING) keeps nothing: it counts the numbers
 * against the cap and adds them to its SqAcc, which is all local mode needs
 * (a million numbers then cost no 8 MB array).
 */

#include <stddef.h>
#include <stdint.h>

#include "sqmath.h"

#define NUMLIST_INLINE 32

typedef struct NumList {
    int64_t *v;
    size_t n, cap, max;
    SqAcc *acc; /* set: a summing list */
    int64_t inline_v[NUMLIST_INLINE];
} NumList;

#define NUMLIST_INIT(limit)                                                                                            \
    { .max = (limit) }
#define NUMLIST_INIT_SUMMING(limit, sqacc)                                                                             \
    { .max = (limit), .acc = (sqacc) }

/* Grows the storage, then appends x: the slow path of numlist_push(). */
int numlist_grow_push(NumList *l, int64_t x);

/* Appends x (or adds it up); -E2BIG past the cap, -ENOMEM when memory runs out. */
static inline int numlist_push(NumList *l, int64_t x) {
    if (l->acc && l->n < l->max) {
        sqacc_add(l->acc, x);
        l->n++;
        return 0;
    }
    if (l->n < l->cap) {
        l->v[l->n++] = x;
        return 0;
    }
    return numlist_grow_push(l, x);
}

/* Frees the storage; the list stays usable (empty, same cap). */
void numlist_done(NumList *l);
