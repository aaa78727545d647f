/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The workers connected to one of the front end's ROUTER sockets, and the credit each
 * has granted (docs/protocol.md, "Credit"): how many more job messages it asked for.
 * Pure: the caller does the I/O and tells this table what happened.
 *
 * A peer is known by its ZeroMQ routing id, and by the descriptor of its connection,
 * the only thing ZeroMQ's disconnect events name. Descriptor numbers are reused: a
 * peer registered on a descriptor replaces whoever held it before, so the caller must
 * apply the disconnect events it has before it registers a peer (fanout.c says why
 * that order is enough).
 *
 * Dispatch is credit-based and takes turns: peers_pick() chooses among the peers with
 * credit the one that waited longest. A busy or stalled worker therefore gets at most its
 * credit in messages, and one that grants more than the others gets no more turns than
 * they do while they have credit (fanout.c also splits a queue among them).
 *
 * A worker's grants may report its counters (docs/protocol.md, "Counters"): the table keeps
 * the first report of a registration and the latest, and refuses one that goes backwards.
 */

#include "wire.h" /* WireCounters */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEERS_MAX 128
#define PEER_KEY_MAX 41 /* a CURVE public key in Z85 (40 characters; bus/keys.h) and its NUL */
#define PEER_ID_MAX 255
#define PEER_ADDRESS_MAX 64

typedef struct Peer {
    uint8_t id[PEER_ID_MAX];
    size_t id_len;
    int fd;
    uint32_t credit;
    /* Counters reported since it registered: the first report (its count starts there), the latest. */
    bool reported;
    WireCounters first, last;
    uint64_t serial;      /* unique to this registration: outlives the slot */
    uint64_t last_sent;   /* tick of the last message sent to it */
    uint64_t messages;    /* job messages sent to it */
    bool granted;         /* it has granted credit since it registered */
    uint64_t opened_usec; /* when it registered: the caller's clock, for the caller */
    /* With CURVE, the public key it was admitted with (Z85) and its IP address; else "". */
    char key[PEER_KEY_MAX];
    char address[PEER_ADDRESS_MAX];
} Peer;

typedef struct Peers {
    Peer peer[PEERS_MAX];
    size_t n;
    uint64_t next_serial, tick;
} Peers;

void peers_init(Peers *t);

Peer *peers_find(Peers *t, const void *id, size_t id_len);
/* The peer on descriptor fd, or NULL. */
Peer *peers_find_fd(Peers *t, int fd);

/*
 * Registers a peer with no credit, or resets the one of that id (key and address emptied,
 * for the caller to fill). Whoever else held fd is
 * removed first (its serial in *ret_replaced, else 0). -ENOSPC when the table is full,
 * -EINVAL for an id that is empty or too long.
 */
int peers_open(Peers *t, const void *id, size_t id_len, int fd, Peer **ret, uint64_t *ret_replaced);

/* Forgets p; pointers into the table are invalid afterwards. */
void peers_remove(Peers *t, Peer *p);

/* Adds n to p's credit, held to at most cap. */
void peers_grant(Peer *p, uint64_t n, uint32_t cap);

/* The peer the next message goes to, or NULL when none has credit. */
Peer *peers_pick(Peers *t);

/* As peers_pick(), but never the peer of that serial: a second worker for a job (hedging). */
Peer *peers_pick_other(Peers *t, uint64_t serial);

/* How many peers have credit. */
size_t peers_with_credit(const Peers *t);

/* A message went to p: one credit less. */
void peers_sent(Peers *t, Peer *p);

/*
 * p's grant reported counters c: 0, or -ERANGE (nothing taken) when one of them is below
 * p's last report. The first report of a registration is where its counting starts.
 */
int peers_report(Peer *p, const WireCounters *c);

/* What p reported it did since its first report: zero before one. */
WireCounters peers_counted(const Peer *p);
