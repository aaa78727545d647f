/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the ZeroMQ modules (fanout.c, worker.c) would otherwise write out each
 * time: setting an int option, and the fd that signals a socket's events.
 * Errors are negative errno, as everywhere.
 */

#include <zmq.h>

#include "macro.h"

static inline int zmqutil_set_int(void *sock, int option, int value) {
    return RET_NERRNO(zmq_setsockopt(sock, option, &value, sizeof(value)));
}

/* ZMQ_FD: edge-like, it only says that the socket's state may have changed (see fanout.c). */
static inline int zmqutil_get_fd(void *sock, int *ret_fd) {
    size_t len = sizeof(*ret_fd);
    int fd;

    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0)
        return negative_errno();
    *ret_fd = fd;
    return 0;
}
