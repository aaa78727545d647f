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

    /* The one with the most credit goes first; a stalled one (no credit left) gets nothing. */
    b = open_("b", 11, &replaced);
    a = peers_find(&t, "a", 1);
    peers_grant(b, 4, 64);
    for (int i = 0; i < 2; i++) {
        p = peers_pick(&t);
        ASSERT_TRUE(p == peers_find(&t, "b", 1));
        peers_sent(&t, p);
    }
    /* Equal credit: the one that waited longest. */
    ASSERT_TRUE(peers_find(&t, "a", 1)->credit == 2 && peers_find(&t, "b", 1)->credit == 2);
    p = peers_pick(&t);
    ASSERT_TRUE(p == peers_find(&t, "a", 1));
    peers_sent(&t, p);
    p = peers_pick(&t);
    ASSERT_TRUE(p == peers_find(&t, "b", 1));
    peers_sent(&t, p);
    for (int i = 0; i < 2; i++)
        peers_sent(&t, peers_pick(&t));
    ASSERT_TRUE(peers_pick(&t) == NULL);

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
