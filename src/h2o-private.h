/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What sqdiff relies on of libh2o 2.2.5 beyond its documented API, in one
 * place, so that a new libh2o is checked here and nowhere else. Each function
 * names the private state it touches; all of it was read in h2o 2.2.5's
 * lib/http1.c and lib/http2/connection.c (Debian 12's libh2o-evloop0.13).
 */

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The read callback h2o set on sock (NULL when it does not read). */
h2o_socket_cb h2o_private_read_cb(h2o_socket_t *sock);

/* True once h2o serves the socket as HTTP/2 (prior knowledge or h2c upgrade). */
bool h2o_private_is_http2(h2o_socket_t *sock);

/*
 * Called with each complete HTTP/2 frame (header and payload, len bytes) before
 * h2o handles it; a negative return closes the connection with GOAWAY
 * (ENHANCE_YOUR_CALM) and *ret_why as its debug data.
 */
typedef int (*h2o_private_frame_fn)(void *userdata, const uint8_t *frame, size_t len, const char **ret_why);

typedef struct H2oFrameHook {
    h2o_private_frame_fn check;
    void *userdata;
    void (*original)(void); /* h2o's own frame reader of the moment */
} H2oFrameHook;

/*
 * Puts hook in front of h2o's frame reader of the HTTP/2 connection on sock.
 * Contract: sock->on_close.data points at the hook (it is the first member of
 * the caller's connection state) for as long as the socket lives.
 */
void h2o_private_hook_http2_frames(h2o_socket_t *sock, H2oFrameHook *hook);

/*
 * The raw head (request line and header fields, up to and including the empty
 * line) of the HTTP/1.x request being handled on sock; 0 if it cannot be found.
 */
size_t h2o_private_http1_head(h2o_socket_t *sock, const char **ret_head);
