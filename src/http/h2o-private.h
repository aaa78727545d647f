/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What sqdiff relies on of libh2o 2.2.5 beyond its documented API, in one
 * place, so that a new libh2o is checked here and nowhere else:
 *   - the HTTP/2 connection's frame reader, hooked to meet the budget;
 *   - a TLS socket's state (the OpenSSL connection, the ciphertext read), so that
 *     HTTP/1.1 over TLS reads within its budget as it does in cleartext;
 *   - picohttpparser, which libh2o carries and exports (phr_*) but whose header
 *     Debian's libh2o-dev does not ship: declared here as picohttpparser's
 *     header of h2o 2.2.5 (deps/picohttpparser) declares them.
 */

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Called with each complete HTTP/2 frame (header and payload, len bytes) before
 * h2o handles it; a negative return closes the connection with GOAWAY
 * (ENHANCE_YOUR_CALM) and *ret_why as its debug data.
 */
typedef int (*h2o_private_frame_fn)(void *userdata, const uint8_t *frame, size_t len, const char **ret_why);
/*
 * Called when h2o has decoded a request's header block (HEADERS and its CONTINUATIONs, ended
 * with END_HEADERS), with the stream's request, complete or waiting for its body: a negative
 * return closes the connection as above, before the decoded list is kept.
 */
typedef int (*h2o_private_headers_fn)(void *userdata, h2o_req_t *req, const char **ret_why);

typedef struct H2oFrameHook {
    h2o_private_frame_fn check;
    h2o_private_headers_fn headers;
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
 * TLS connections after the handshake, read by the caller rather than by h2o (the socket in
 * h2o_socket_dont_read()): decrypts at most len bytes into dst from what h2o's TLS layer
 * holds. Unless *drained, reads more ciphertext from the socket when OpenSSL needs it, about len
 * bytes at a time (a record is kept until it is whole: 16 KiB at most), and sets *drained when
 * the socket gave less than asked: the caller's next calls then spare the read that would
 * say EAGAIN. Returns the bytes (> 0); 0 at the end of the stream (close_notify, or TCP's
 * end); -EAGAIN when no whole record is there yet; -EPROTO for a record OpenSSL refuses or a
 * renegotiation; another -errno of read().
 */
ssize_t h2o_private_tls_read(h2o_socket_t *sock, void *dst, size_t len, bool *drained);
/* Whether TLS holds bytes read from the socket and not decrypted and taken yet. */
bool h2o_private_tls_pending(h2o_socket_t *sock);
/* Whether sock's TLS state is what this file takes it to be: its context is ctx. */
bool h2o_private_tls_check(h2o_socket_t *sock, SSL_CTX *ctx);

/* picohttpparser (h2o 2.2.5's deps/picohttpparser/picohttpparser.h). */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Returns the length of the request head, -1 if malformed, -2 if incomplete. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);
