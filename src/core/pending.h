/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The table of requests waiting for their workers' replies. Pure: no I/O.
 *
 * Entries are intrusive: the caller owns their memory (the front end keeps
 * them in each HTTP request's memory pool) and must remove an entry before
 * freeing it. Lookup by id is O(1) (ids are sequential, so id & mask spreads
 * them evenly); entries also sit on a list in the order they were added, which
 * is the order in which they time out, so the reaper only looks at the head.
 * The table holds at most `max` entries: pending_add() refuses more.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqmath.h"
#include "wire.h"

typedef struct PendingEntry {
    uint64_t id;
    uint64_t added_usec; /* CLOCK_MONOTONIC */
    struct PendingEntry *hash_next;
    struct PendingEntry *prev, *next;
    bool linked;
    uint8_t have; /* bit (1 << WireKind) set once that result arrived */
    uint8_t len[_WIRE_KIND_MAX];
    char value[_WIRE_KIND_MAX][SQMATH_DECIMAL_MAX];
    void *userdata;
} PendingEntry;

typedef struct PendingTable {
    PendingEntry **buckets;
    size_t mask;
    size_t count, max;
    PendingEntry *oldest, *newest;
} PendingTable;

int pending_table_init(PendingTable *t, size_t max);
void pending_table_done(PendingTable *t);

/* Links e (with e->id and e->added_usec set) as the newest entry; -ENOSPC when full, -EEXIST on a duplicate id. */
int pending_add(PendingTable *t, PendingEntry *e);
PendingEntry *pending_find(const PendingTable *t, uint64_t id);
/* Unlinks e; a no-op if it is not linked. */
void pending_remove(PendingTable *t, PendingEntry *e);

static inline PendingEntry *pending_oldest(const PendingTable *t) {
    return t->oldest;
}

/*
 * Stores one partial result, a validated decimal of len bytes. Returns 1 when
 * that completes the entry (both kinds are in), 0 when the other kind is still
 * to come, -EALREADY when this kind was already stored, -EINVAL when len does
 * not fit (SQMATH_DECIMAL_MAX or more). On a negative return e is unchanged.
 */
int pending_set_result(PendingEntry *e, WireKind kind, const char *value, size_t len);
