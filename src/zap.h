/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's ZAP handler (ZeroMQ RFC 27): ZeroMQ asks it, for every CURVE handshake
 * on the context's sockets, whether to admit the peer; it admits exactly the public keys
 * in the allow-list directory (keys.h), read anew at each handshake. Rejections are handed
 * to a callback (the caller logs them). Runs in the caller's sd-event loop; the
 * handshake waits for the answer, the loop does not.
 */

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Zap Zap;
/* address: the peer's IP address as ZeroMQ gives it; key: its public key (Z85) or NULL. */
typedef void (*zap_reject_fn)(const char *address, const char *key, const char *reason, void *userdata);

/* Binds the handler in ctx; it must exist before the sockets it guards are bound. */
int zap_new(sd_event *e, void *ctx, const char *allow_dir, zap_reject_fn on_reject, void *userdata, Zap **ret);
Zap *zap_free(Zap *z);
DEFINE_FREEP(Zap, zap_free)
