/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What both daemons do to their ZeroMQ sockets before binding or connecting them
 * (docs/protocol.md, "Transport"): heartbeats, so that a peer whose host vanished is
 * dropped within TRANSPORT_HEARTBEAT_TIMEOUT_MS instead of TCP's minutes; a handshake
 * budget, so that a connection that never completes the ZeroMQ handshake (a port scan,
 * a peer that only holds connections open) costs a descriptor and a session for
 * TRANSPORT_HANDSHAKE_IVL_MS (2 s), not ZeroMQ's default 30 s; and CURVE, when a secret key is
 * configured: the front end as server, the worker as client pinning the front ends'
 * public key.
 */

#include <stdbool.h>

#include "config.h"
#include "keys.h"

#define TRANSPORT_HEARTBEAT_IVL_MS 1000
#define TRANSPORT_HEARTBEAT_TIMEOUT_MS 3000
/* A CURVE handshake is four messages and one ZAP answer: milliseconds, even across a WAN. */
#define TRANSPORT_HANDSHAKE_IVL_MS 2000

typedef struct TransportKeys {
    bool curve; /* false: no secret key configured, plain ZMTP */
    char secret[KEY_Z85_LEN + 1], public_[KEY_Z85_LEN + 1], server[KEY_Z85_LEN + 1];
} TransportKeys;

/*
 * Reads the keys c names (the worker's also the server's public key). On failure
 * *ret_path names the file that failed.
 */
int transport_load_keys(const Config *c, bool worker, TransportKeys *ret, const char **ret_path);
/*
 * What --check can see of the transport short of binding and connecting: the key files c
 * names are readable and well-formed, and for a front end with CURVE the allow-list directory
 * reads. 0 if so; 1 if so but for a relative secret key, which only the unit's credentials
 * directory holds ($CREDENTIALS_DIRECTORY unset: not checked, *err says so); or a negative
 * errno with *err saying what failed.
 */
int transport_check(const Config *c, bool worker, char *err, size_t errlen);
/* Wipes the secret key from memory. */
void transport_keys_done(TransportKeys *k);

int transport_set_int(void *sock, int option, int value);

/* Heartbeats, and CURVE as server (front end) or client (worker) when k->curve. */
int transport_setup(void *sock, const TransportKeys *k, bool server);
