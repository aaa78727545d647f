/* SPDX-License-Identifier: MIT */
/* The front end's table of workers: registration, credit, and who the next message goes to. */
#include <errno.h>

#include "peers.h"
#include "test-helpers.h"

static Peers t;

static Peer *open_(const char *id, int fd, uint64_t *replaced) {
    Peer *p = NULL;

    ASSERT_TRUE(peers_open(&t, id, strlen(id), fd, &p, replaced) == 0);
    return p;
}

int main(void) {
    uint64_t replaced, serial_a;
    Peer *a, *b, *p;

    peers_init(&t);
    /* A new peer has no credit: nothing goes to it until it grants some. */
    a = open_("a", 10, &replaced);
    ASSERT_TRUE(replaced == 0 && a->credit == 0);
    ASSERT_TRUE(peers_pick(&t) == NULL);
    peers_grant(a, 2, 64);
    ASSERT_TRUE(peers_pick(&t) == a);

    /* Turns, whatever the credit: the one that waited longest goes first (a has had one
     * message, b none), so b's larger grant buys it no more turns while a has credit; a
     * stalled one (no credit left) gets nothing. */
    b = open_("b", 11, &replaced);
    a = peers_find(&t, "a", 1);
    peers_grant(b, 4, 64);
    ASSERT_EQ(peers_with_credit(&t), 2);
    peers_sent(&t, a); /* a: 1 left */
    b = peers_find(&t, "b", 1);
    ASSERT_TRUE(peers_pick(&t) == b);
    peers_sent(&t, b); /* b: 3 left, and it is a's turn */
    /* Another than b: a, while it has credit; another than a: b. */
    ASSERT_TRUE(peers_pick_other(&t, b->serial) == a);
    ASSERT_TRUE(peers_pick_other(&t, a->serial) == b);
    ASSERT_TRUE(peers_pick(&t) == a);
    peers_sent(&t, a);
    /* a has no credit left: b takes the rest, then nobody; nobody other than b. */
    ASSERT_TRUE(peers_pick_other(&t, b->serial) == NULL);
    ASSERT_EQ(peers_find(&t, "a", 1)->credit, 0);
    ASSERT_EQ(peers_with_credit(&t), 1);
    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(peers_pick(&t) == b);
        peers_sent(&t, b);
    }
    ASSERT_TRUE(peers_pick(&t) == NULL);
    ASSERT_EQ(peers_with_credit(&t), 0);

    /* Credit is held to the cap, without overflow. */
    a = peers_find(&t, "a", 1);
    peers_grant(a, UINT64_MAX, 64);
    ASSERT_TRUE(a->credit == 64);
    peers_grant(a, 5, 64);
    ASSERT_TRUE(a->credit == 64);

    /* A descriptor reused by a new peer: the old holder is gone, its serial reported. */
    serial_a = a->serial;
    p = open_("c", 10, &replaced);
    ASSERT_TRUE(replaced == serial_a);
    ASSERT_TRUE(peers_find(&t, "a", 1) == NULL && peers_find_fd(&t, 10) == p && t.n == 2);
    /* The same id anew: its old registration is reported, its credit starts over. */
    b = peers_find(&t, "b", 1);
    peers_grant(b, 3, 64);
    serial_a = b->serial;
    b = open_("b", 12, &replaced);
    ASSERT_TRUE(replaced == serial_a && b->credit == 0 && b->fd == 12);

    /* Bad ids and a full table. */
    ASSERT_TRUE(peers_open(&t, "", 0, 1, &p, &replaced) == -EINVAL);
    peers_init(&t);
    for (int i = 0; i < PEERS_MAX; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        open_(id, 100 + i, &replaced);
    }
    ASSERT_TRUE(peers_open(&t, "x", 1, 1, &p, &replaced) == -ENOSPC);
    p = peers_find(&t, "7", 1);
    peers_remove(&t, p);
    ASSERT_TRUE(peers_find(&t, "7", 1) == NULL && t.n == PEERS_MAX - 1 && peers_find(&t, "127", 3) != NULL);
    return 0;
}
