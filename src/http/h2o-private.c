/* SPDX-License-Identifier: MIT */
/* libh2o 2.2.5's private state, read and hooked here only (see h2o-private.h). */

#include "h2o-private.h"

#include <errno.h>
#include <h2o/cache.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>

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

/*
 * lib/common/socket.c's struct st_h2o_socket_ssl_t of libh2o 2.2.5 as Debian builds it
 * (OpenSSL, no picotls), as far as the ciphertext read; h2o_private_tls_check() tells
 * whether a socket's state reads back as it should.
 */
struct st_h2o_socket_ssl_t {
    SSL_CTX *ssl_ctx;
    SSL *ossl;
    int *did_write_in_read; /* set around SSL_read(): h2o's BIO refuses to write then */
    size_t record_overhead;
    struct {
        h2o_socket_cb cb;
        union {
            struct {
                struct {
                    int state;
                    SSL_SESSION *session_data;
                } async_resumption;
            } server;
            struct {
                char *server_name;
                h2o_cache_t *session_cache;
                h2o_iovec_t session_cache_key;
                h2o_cache_hashcode_t session_cache_key_hash;
            } client;
        };
    } handshake;
    struct {
        h2o_buffer_t *encrypted; /* h2o's BIO reads OpenSSL's input from here */
    } input;
};

/* A record's header and tag, and then some: ciphertext read per plaintext byte asked for.
 * A record longer than that is read in more passes, its bytes kept until it is whole. */
#define TLS_READ_SLACK 512

bool h2o_private_tls_check(h2o_socket_t *sock, SSL_CTX *ctx) {
    return sock->ssl && sock->ssl->ssl_ctx == ctx && sock->ssl->ossl && SSL_get_SSL_CTX(sock->ssl->ossl) == ctx &&
           sock->ssl->handshake.cb == NULL && sock->ssl->input.encrypted;
}

bool h2o_private_tls_pending(h2o_socket_t *sock) {
    return sock->ssl && (sock->ssl->input.encrypted->size > 0 || SSL_pending(sock->ssl->ossl) > 0);
}

ssize_t h2o_private_tls_read(h2o_socket_t *sock, void *dst, size_t len, bool *drained) {
    struct st_h2o_socket_ssl_t *ssl = sock->ssl;

    for (;;) {
        h2o_iovec_t buf;
        ssize_t got;

        /* OpenSSL is asked only when it has bytes to work on: with none it would only say
         * WANT_READ, and that costs as much as a record (error queue, state checks). */
        if (ssl->input.encrypted->size > 0 || SSL_has_pending(ssl->ossl)) {
            int did_write = 0, n, e;

            ERR_clear_error();
            ssl->did_write_in_read = &did_write;
            n = SSL_read(ssl->ossl, dst, len > INT_MAX ? INT_MAX : (int)len);
            ssl->did_write_in_read = NULL;
            if (did_write)
                return -EPROTO; /* renegotiation (refused), or a key update asked of us */
            if (n > 0)
                return n;
            e = SSL_get_error(ssl->ossl, n);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e != SSL_ERROR_WANT_READ)
                return -EPROTO;
        }
        if (*drained)
            return -EAGAIN;
        buf = h2o_buffer_reserve(&ssl->input.encrypted, len + TLS_READ_SLACK);
        if (!buf.base)
            return -ENOMEM;
        got = read(h2o_socket_get_fd(sock), buf.base, len + TLS_READ_SLACK);
        if (got == 0)
            return 0;
        if (got < 0) {
            *drained = true;
            return errno == EINTR ? -EAGAIN : -errno;
        }
        *drained = (size_t)got < len + TLS_READ_SLACK; /* spares the read that would say EAGAIN */
        ssl->input.encrypted->size += (size_t)got;
    }
}
