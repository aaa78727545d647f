/* SPDX-License-Identifier: MIT */
/* NumList: doubling growth, bounded by l->max. */

#include "numlist.h"

#include <errno.h>
#include <stdlib.h>

int numlist_push(NumList *l, int64_t x) {
    if (l->n >= l->max)
        return -E2BIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *v;

        if (cap > l->max)
            cap = l->max;
        v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

void numlist_done(NumList *l) {
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
