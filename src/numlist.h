/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A growable array of int64 numbers with a hard cap on its length, so that a
 * request can never make us hold more than the configured limit. Pure.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct NumList {
    int64_t *v;
    size_t n, cap, max;
} NumList;

#define NUMLIST_INIT(limit) ((NumList){ .max = (limit) })

/* Appends x; -E2BIG past the cap, -ENOMEM when memory runs out. */
int numlist_push(NumList *l, int64_t x);

/* Frees the storage; the list stays usable (empty, same cap). */
void numlist_done(NumList *l);
