/* SPDX-License-Identifier: MIT */
/* NumList: doubling growth, bounded by l->max. */

#include "numlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int numlist_grow_push(NumList *l, int64_t x) {
    if (l->n >= l->max)
        return -E2BIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : NUMLIST_INLINE;
        int64_t *v;

        if (cap > l->max)
            cap = l->max;
        if (l->cap == 0)
            v = l->inline_v;
        else if (l->v == l->inline_v) {
            v = malloc(cap * sizeof(*v));
            if (v)
                memcpy(v, l->inline_v, l->n * sizeof(*v));
        } else
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
    if (l->v != l->inline_v)
        free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
