/* SPDX-License-Identifier: MIT */
/* libh2o 2.2.5's private state, read and hooked here only (see h2o-private.h). */

#include "h2o-private.h"

#include <h2o/http2.h>
#include <h2o/http2_internal.h>
#include <string.h>

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "h2o-private.c was written against libh2o 2.2: check every function here against the new version"
#endif

typedef ssize_t (*read_expect_fn)(h2o_http2_conn_t *conn, const uint8_t *src, size_t len, const char **err_desc);

/* h2o_socket_t._cb.read: h2o_socket_read_start() sets it, h2o_socket_read_stop() clears it. */
h2o_socket_cb h2o_private_read_cb(h2o_socket_t *sock) {
    return sock->_cb.read;
}

/* sock->data is the connection (h2o_conn_t first); only HTTP/2's callbacks can push (create_conn()). */
bool h2o_private_is_http2(h2o_socket_t *sock) {
    const h2o_conn_t *conn = sock->data;

    return conn && conn->callbacks && conn->callbacks->push_path;
}

/*
 * h2o_http2_conn_t._read_expect is the reader parse_input() calls with the unread input,
 * once per frame; it returns the bytes it consumed, H2O_HTTP2_ERROR_INCOMPLETE, or an
 * error that makes parse_input() send GOAWAY and close. h2o swaps readers as the
 * connection moves on (preface, frames, CONTINUATION), so the hook re-installs itself
 * in front of whichever it chose.
 */
static ssize_t hooked_read_expect(h2o_http2_conn_t *conn, const uint8_t *src, size_t len, const char **err_desc) {
    H2oFrameHook *hook = conn->sock->on_close.data;
    read_expect_fn original = (read_expect_fn)hook->original;
    ssize_t r;

    /* The client preface ("PRI * HTTP/2.0\r\n...") is not a frame; h2o's reader checks it. */
    if (len >= H2O_HTTP2_FRAME_HEADER_SIZE && memcmp(src, "PRI", 3) != 0) {
        size_t frame_len = H2O_HTTP2_FRAME_HEADER_SIZE + ((size_t)src[0] << 16 | (size_t)src[1] << 8 | src[2]);

        if (frame_len <= len && hook->check(hook->userdata, src, frame_len, err_desc) < 0)
            return H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM;
    }
    r = original(conn, src, len, err_desc);
    if (conn->_read_expect != hooked_read_expect) {
        hook->original = (void (*)(void))conn->_read_expect;
        conn->_read_expect = hooked_read_expect;
    }
    return r;
}

void h2o_private_hook_http2_frames(h2o_socket_t *sock, H2oFrameHook *hook) {
    h2o_http2_conn_t *conn = sock->data;

    if (conn->_read_expect == hooked_read_expect)
        return;
    hook->original = (void (*)(void))conn->_read_expect;
    conn->_read_expect = hooked_read_expect;
}

/*
 * lib/http1.c parses each request from the start of sock->input and consumes its bytes
 * only once the answer has been sent (on_send_complete()), so while a request is handled
 * its head is the first bytes of the buffer, after any empty lines picohttpparser skipped.
 */
size_t h2o_private_http1_head(h2o_socket_t *sock, const char **ret_head) {
    const char *p = sock->input->bytes, *end = p + sock->input->size, *nl;

    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    for (const char *q = p; q < end && (nl = memchr(q, '\n', (size_t)(end - q))); q = nl + 1) {
        if (nl + 1 < end && nl[1] == '\n') {
            *ret_head = p;
            return (size_t)(nl + 2 - p);
        }
        if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n') {
            *ret_head = p;
            return (size_t)(nl + 3 - p);
        }
    }
    return 0;
}
