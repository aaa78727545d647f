/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's ZAP handler (ZeroMQ RFC 27): ZeroMQ asks it, for every CURVE handshake
 * on the context's sockets, whether to admit the peer; it admits exactly the public keys
 * of the allow-list directory (keys.h). Rejections are handed to a callback (the caller
 * logs them). Runs in the caller's sd-event loop; the handshake waits for the answer, the
 * loop does not.
 *
 * The allow-list is held in memory, one copy for every question: the handshakes, and
 * zap_admits() for the caller's connected workers. It is read again only when the directory
 * may have changed (its inode, modification or change time differ, one stat), looked at
 * before each handshake and every ZAP_WATCH_USEC. After each new reading on_change is
 * called, for the caller to turn away the connected workers zap_admits() no longer admits.
 * A directory gone or unreadable admits nobody.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

typedef struct Zap Zap;
typedef struct ZapCallbacks {
    /* address: the peer's IP address as ZeroMQ gives it; key: its public key (Z85) or NULL. */
    void (*on_reject)(const char *address, const char *key, const char *reason, void *userdata);
    void (*on_change)(void *userdata);
    void *userdata;
} ZapCallbacks;

#define ZAP_WATCH_USEC (1 * USEC_PER_SEC)

/* Binds the handler in ctx; it must exist before the sockets it guards are bound. */
int zap_new(sd_event *e, void *ctx, const char *allow_dir, const ZapCallbacks *cb, Zap **ret);
Zap *zap_free(Zap *z);
/* Reads the allow-list again now, and tells on_change (a reload: a key file rewritten in place counts). */
void zap_reread(Zap *z);
/* Whether key (Z85; NULL never) is in the allow-list as last read. */
bool zap_admits(const Zap *z, const char *key);
DEFINE_FREEP(Zap, zap_free)
