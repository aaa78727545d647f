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
    /* A header block just ended: h2o decoded it into its stream's request. */
    if (r > 0 && (size_t)r >= H2O_HTTP2_FRAME_HEADER_SIZE && hook->headers && memcmp(src, "PRI", 3) != 0 &&
        (src[3] == H2O_HTTP2_FRAME_TYPE_HEADERS || src[3] == H2O_HTTP2_FRAME_TYPE_CONTINUATION) &&
        (src[4] & H2O_HTTP2_FRAME_FLAG_END_HEADERS)) {
        uint32_t id = ((uint32_t)src[5] << 24 | (uint32_t)src[6] << 16 | (uint32_t)src[7] << 8 | src[8]) & 0x7fffffff;
        h2o_http2_stream_t *stream = h2o_http2_conn_get_stream(conn, id);

        if (stream && hook->headers(hook->userdata, &stream->req, err_desc) < 0)
            return H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM;
    }
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
