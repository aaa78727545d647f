/* SPDX-License-Identifier: MIT */
/*
 * A small array, searched linearly: a kind has a handful of workers, and the
 * search runs once per message, against a trip through ZeroMQ.
 */

#include "peers.h"

#include <errno.h>
#include <string.h>

void peers_init(Peers *t) {
    t->n = 0;
    t->next_serial = 1;
    t->tick = 0;
}

Peer *peers_find(Peers *t, const void *id, size_t id_len) {
    for (size_t i = 0; i < t->n; i++)
        if (t->peer[i].id_len == id_len && memcmp(t->peer[i].id, id, id_len) == 0)
            return &t->peer[i];
    return NULL;
}

Peer *peers_find_fd(Peers *t, int fd) {
    for (size_t i = 0; i < t->n; i++)
        if (t->peer[i].fd == fd)
            return &t->peer[i];
    return NULL;
}

void peers_remove(Peers *t, Peer *p) {
    *p = t->peer[--t->n];
}

int peers_open(Peers *t, const void *id, size_t id_len, int fd, Peer **ret, uint64_t *ret_replaced) {
    Peer *p = peers_find(t, id, id_len), *other = peers_find_fd(t, fd);

    *ret_replaced = 0;
    if (id_len == 0 || id_len > PEER_ID_MAX)
        return -EINVAL;
    if (other && other != p) {
        *ret_replaced = other->serial;
        peers_remove(t, other);
        p = peers_find(t, id, id_len); /* it may have moved into other's slot */
    }
    if (!p) {
        if (t->n == PEERS_MAX)
            return -ENOSPC;
        p = &t->peer[t->n++];
        memcpy(p->id, id, id_len);
        p->id_len = id_len;
        p->messages = 0;
    } else if (!*ret_replaced)
        *ret_replaced = p->serial; /* the same id anew: what it had out is gone */
    p->reported = false;
    p->granted = false;
    p->fd = fd;
    p->credit = 0;
    p->serial = t->next_serial++;
    p->last_sent = 0;
    p->key[0] = p->address[0] = '\0';
    *ret = p;
    return 0;
}

void peers_grant(Peer *p, uint64_t n, uint32_t cap) {
    p->credit = n >= cap || p->credit >= cap - n ? cap : p->credit + (uint32_t)n;
    p->granted |= n > 0;
}

Peer *peers_pick_other(Peers *t, uint64_t serial) {
    Peer *best = NULL;

    for (size_t i = 0; i < t->n; i++) {
        Peer *p = &t->peer[i];

        if (p->credit > 0 && p->serial != serial && (!best || p->last_sent < best->last_sent))
            best = p;
    }
    return best;
}

Peer *peers_pick(Peers *t) {
    return peers_pick_other(t, 0); /* serials start at 1 */
}

size_t peers_with_credit(const Peers *t) {
    size_t n = 0;

    for (size_t i = 0; i < t->n; i++)
        n += t->peer[i].credit > 0;
    return n;
}

void peers_sent(Peers *t, Peer *p) {
    p->credit--;
    p->last_sent = ++t->tick;
    p->messages++;
}

int peers_report(Peer *p, const WireCounters *c) {
    if (!p->reported) {
        p->reported = true;
        p->first = *c;
    } else if (c->done < p->last.done || c->rejected < p->last.rejected || c->unsent < p->last.unsent)
        return -ERANGE;
    p->last = *c;
    return 0;
}

WireCounters peers_counted(const Peer *p) {
    if (!p->reported)
        return (WireCounters){ 0 };
    /* last >= first: a report below the one before is refused */
    return (WireCounters){ .done = p->last.done - p->first.done,
                           .rejected = p->last.rejected - p->first.rejected,
                           .unsent = p->last.unsent - p->first.unsent };
}
