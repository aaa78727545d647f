/* SPDX-License-Identifier: MIT */
/* Pending table: chained hash buckets plus an age-ordered doubly linked list. */

#include "pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pending_table_init(PendingTable *t, size_t max) {
    size_t n = 16;

    while (n < max && n < (SIZE_MAX >> 2))
        n <<= 1;
    *t = (PendingTable){ .max = max, .mask = n - 1 };
    t->buckets = calloc(n, sizeof(*t->buckets));
    return t->buckets ? 0 : -ENOMEM;
}

void pending_table_done(PendingTable *t) {
    free(t->buckets);
    t->buckets = NULL;
}

PendingEntry *pending_find(const PendingTable *t, uint64_t id) {
    for (PendingEntry *e = t->buckets[id & t->mask]; e; e = e->hash_next)
        if (e->id == id)
            return e;
    return NULL;
}

int pending_add(PendingTable *t, PendingEntry *e) {
    PendingEntry **b = &t->buckets[e->id & t->mask];

    if (t->count >= t->max)
        return -ENOSPC;
    if (pending_find(t, e->id))
        return -EEXIST;

    e->hash_next = *b;
    *b = e;
    e->next = NULL;
    e->prev = t->newest;
    if (t->newest)
        t->newest->next = e;
    else
        t->oldest = e;
    t->newest = e;
    e->linked = true;
    t->count++;
    return 0;
}

void pending_remove(PendingTable *t, PendingEntry *e) {
    if (!e->linked)
        return;

    for (PendingEntry **p = &t->buckets[e->id & t->mask]; *p; p = &(*p)->hash_next)
        if (*p == e) {
            *p = e->hash_next;
            break;
        }
    if (e->prev)
        e->prev->next = e->next;
    else
        t->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->newest = e->prev;
    e->prev = e->next = e->hash_next = NULL;
    e->linked = false;
    t->count--;
}

int pending_set_result(PendingEntry *e, WireKind kind, const char *value, size_t len) {
    if (e->have & (1u << kind))
        return -EALREADY;
    if (len >= SQMATH_DECIMAL_MAX)
        return -EINVAL;
    memcpy(e->value[kind], value, len);
    e->value[kind][len] = '\0';
    e->len[kind] = (uint8_t)len;
    e->have |= (uint8_t)(1u << kind);
    return e->have == (1u << _WIRE_KIND_MAX) - 1;
}
