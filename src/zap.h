/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's ZAP handler (ZeroMQ RFC 27): ZeroMQ asks it, for every CURVE handshake
 * on the context's sockets, whether to admit the peer; it admits exactly the public keys
 * in the allow-list directory (keys.h), read anew at each handshake. Rejections are handed
 * to a callback (the caller logs them). Runs in the caller's sd-event loop; the
 * handshake waits for the answer, the loop does not.
 *
 * A handshake is checked once; a worker admitted stays connected whatever happens to its
 * key file. So the directory is also watched: checked every ZAP_WATCH_USEC (its inode,
 * modification and change times, with one stat), and on_change is called when it may have
 * changed (entries added, removed or renamed, or the directory replaced or gone), for the
 * caller to turn away the connected workers whose keys are no longer in it.
 */

#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

typedef struct Zap Zap;
typedef struct ZapCallbacks {
    /* address: the peer's IP address as ZeroMQ gives it; key: its public key (Z85) or NULL. */
    void (*on_reject)(const char *address, const char *key, const char *reason, void *userdata);
    void (*on_change)(const char *allow_dir, void *userdata);
    void *userdata;
} ZapCallbacks;

#define ZAP_WATCH_USEC (1 * USEC_PER_SEC)

/* Binds the handler in ctx; it must exist before the sockets it guards are bound. */
int zap_new(sd_event *e, void *ctx, const char *allow_dir, const ZapCallbacks *cb, Zap **ret);
Zap *zap_free(Zap *z);
DEFINE_FREEP(Zap, zap_free)
