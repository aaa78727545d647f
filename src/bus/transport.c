/* SPDX-License-Identifier: MIT */
/*
 * Heartbeats are set on every socket: on ipc:// they cost a few bytes a second and
 * never fire (a local peer's end closes the socket), on tcp:// they are how a cut link
 * is noticed. ZMQ_HEARTBEAT_TTL tells the peer to give up on us as fast.
 */

#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "macro.h"

int transport_set_int(void *sock, int option, int value) {
    return RET_NERRNO(zmq_setsockopt(sock, option, &value, sizeof(value)));
}

int transport_load_keys(const Config *c, bool worker, TransportKeys *ret, const char **ret_path) {
    TransportKeys k = { 0 };
    int r;

    if (c->curve_secret_key) {
        r = keys_load_secret(c->curve_secret_key, k.secret, k.public_);
        if (r < 0) {
            *ret_path = c->curve_secret_key;
            return r;
        }
        if (worker) {
            if (!c->curve_server_public_key) {
                *ret_path = "curve-server-public-key";
                transport_keys_done(&k);
                return -ENOKEY;
            }
            r = keys_load_public(c->curve_server_public_key, k.server);
            if (r < 0) {
                *ret_path = c->curve_server_public_key;
                transport_keys_done(&k);
                return r;
            }
        }
        k.curve = true;
    }
    *ret = k;
    transport_keys_done(&k);
    return 0;
}

int transport_check(const Config *c, bool worker, char *err, size_t errlen) {
    const char *creds = getenv("CREDENTIALS_DIRECTORY"), *path = NULL;
    TransportKeys k;
    KeyList allowed = { 0 };
    int r, note = 0;

    r = transport_load_keys(c, worker, &k, &path);
    if (r == -ENOKEY && path == c->curve_secret_key && (!creds || !creds[0])) {
        snprintf(err, errlen,
                 "note: curve-secret-key %s is read from the unit's credentials ($CREDENTIALS_DIRECTORY, "
                 "LoadCredential=), which are not here: not checked",
                 path);
        note = 1;
    } else if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, r == -EBADMSG ? "not a key file (40 characters of Z85)" : strerror(-r));
        return r;
    } else
        transport_keys_done(&k);
    if (!worker && c->curve_secret_key) {
        r = keys_read_allow_list(c->curve_allowed_keys, &allowed);
        if (r < 0) {
            snprintf(err, errlen, "curve-allowed-keys: %s: %s", c->curve_allowed_keys, strerror(-r));
            return r;
        }
        keys_list_done(&allowed);
    }
    return note;
}

void transport_keys_done(TransportKeys *k) {
    explicit_bzero(k->secret, sizeof(k->secret));
}

int transport_setup(void *sock, const TransportKeys *k, bool server) {
    int r;

    if ((r = transport_set_int(sock, ZMQ_HEARTBEAT_IVL, TRANSPORT_HEARTBEAT_IVL_MS)) < 0 ||
        (r = transport_set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, TRANSPORT_HEARTBEAT_TIMEOUT_MS)) < 0 ||
        (r = transport_set_int(sock, ZMQ_HEARTBEAT_TTL, TRANSPORT_HEARTBEAT_TIMEOUT_MS)) < 0 ||
        (r = transport_set_int(sock, ZMQ_HANDSHAKE_IVL, TRANSPORT_HANDSHAKE_IVL_MS)) < 0)
        return r;
    if (!k->curve)
        return 0;
    if (server) {
        if ((r = transport_set_int(sock, ZMQ_CURVE_SERVER, 1)) < 0)
            return r;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret, KEY_Z85_LEN + 1) < 0 ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "sqdiff", 6) < 0)
            return -errno;
        return 0;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->server, KEY_Z85_LEN + 1) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->public_, KEY_Z85_LEN + 1) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret, KEY_Z85_LEN + 1) < 0)
        return -errno;
    return 0;
}
