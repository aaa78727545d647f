/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 is h2o's; what is ours is the frame budget: every frame h2o reads after the
 * client preface meets check_frame() first (through h2o-private.h's hook), which closes a
 * connection that floods empty frames or holds more request-body bytes than max-body-size.
 */

#include "http2.h"

#include <errno.h>
#include <h2o/http2.h>

#include "h2o-private.h"

/* HTTP/2 frames (RFC 9113, section 4.1 and 6). */
enum {
    PREFACE_SIZE = 24, /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
    FRAME_HEADER_SIZE = 9,
    FRAME_DATA = 0x0,
    FRAME_HEADERS = 0x1,
    FRAME_RST_STREAM = 0x3,
    FRAME_CONTINUATION = 0x9,
    FLAG_END_STREAM = 0x1,
    FLAG_PADDED = 0x8,
};

static uint32_t stream_id(const uint8_t *frame) {
    return ((uint32_t)frame[5] << 24 | (uint32_t)frame[6] << 16 | (uint32_t)frame[7] << 8 | frame[8]) & 0x7fffffff;
}

static bool unfinished_find(const Conn *c, uint32_t id) {
    for (size_t i = 0; i < c->n_unfinished; i++)
        if (c->unfinished[i].id == id)
            return true;
    return false;
}

static void unfinished_remove(Conn *c, uint32_t id) {
    for (size_t i = 0; i < c->n_unfinished; i++)
        if (c->unfinished[i].id == id) {
            c->unfinished[i] = c->unfinished[--c->n_unfinished];
            return;
        }
}

void http2_charge(Conn *c) {
    /* h2o's body buffers double as they fill: up to twice the bytes in them. */
    conn_hold_incomplete(c, 2 * c->body_bytes + c->n_unfinished * SERVER_HEADER_LIST_MAX +
                                conn_buffer_bytes(c->sock->input));
}

static int check_frame(void *userdata, const uint8_t *frame, size_t len, const char **ret_why) {
    Conn *c = userdata;
    size_t payload = len - FRAME_HEADER_SIZE;
    uint8_t type = frame[3], flags = frame[4];

    if (c->closing) {
        *ret_why = "connection over its budget";
        return -1;
    }
    /* No progress: a frame that carries no request bytes (PING, SETTINGS, WINDOW_UPDATE,
     * PRIORITY, RST_STREAM, unknown types, acks of each) or an empty DATA, HEADERS or
     * CONTINUATION. A run of them with no request completing ends the connection. */
    if (((type != FRAME_DATA && type != FRAME_HEADERS && type != FRAME_CONTINUATION) ||
         (payload == 0 && !(type == FRAME_DATA && (flags & FLAG_END_STREAM)))) &&
        ++c->empty_frames > SERVER_EMPTY_FRAMES_MAX) {
        *ret_why = "too many frames without progress";
        goto refuse;
    }
    if (type == FRAME_HEADERS || type == FRAME_CONTINUATION) {
        c->header_block = (type == FRAME_HEADERS ? 0 : c->header_block) + payload;
        if (c->header_block > SERVER_HEADER_LIST_MAX) {
            *ret_why = "header block over 8 KiB";
            goto refuse;
        }
    }
    if (type == FRAME_HEADERS && !(flags & FLAG_END_STREAM) && !unfinished_find(c, stream_id(frame))) {
        if (c->n_unfinished == SERVER_STREAMS_UNFINISHED_MAX) {
            *ret_why = "too many request streams unfinished";
            goto refuse;
        }
        c->unfinished[c->n_unfinished].id = stream_id(frame);
        c->unfinished[c->n_unfinished++].since_ms = h2o_now(c->server->loop);
    } else if (((type == FRAME_DATA || type == FRAME_HEADERS) && (flags & FLAG_END_STREAM)) || type == FRAME_RST_STREAM)
        unfinished_remove(c, stream_id(frame));
    if (type == FRAME_DATA) {
        size_t pad = (flags & FLAG_PADDED) && payload > 0 ? 1 + (size_t)frame[9] : 0;

        c->body_bytes += pad < payload ? payload - pad : 0;
        if (c->body_bytes > c->server->max_body) {
            *ret_why = "request bodies in flight over max-body-size";
            goto refuse;
        }
    }
    if (type == FRAME_DATA || type == FRAME_HEADERS || type == FRAME_RST_STREAM)
        http2_charge(c);
    return 0;
refuse:
    c->closing = true;
    server_report(c->server, SERVER_EVENT_CLOSED_BUDGET, *ret_why);
    return -1;
}

/*
 * The frames that came in the same reads as the preface, which h2o's HTTP/2 parses inside
 * h2o_http2_accept(), before the hook is in: they meet check_frame() here first. A complete
 * frame at a time; a partial one at the end is the hook's, once the rest arrives.
 */
static int check_buffered_frames(Conn *c) {
    const uint8_t *p = (const uint8_t *)c->sock->input->bytes + PREFACE_SIZE;
    size_t left = c->sock->input->size - PREFACE_SIZE;
    const char *why;

    while (left >= FRAME_HEADER_SIZE) {
        size_t len = FRAME_HEADER_SIZE + ((size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]);

        if (len > left)
            break;
        if (check_frame(c, p, len, &why) < 0)
            return -1;
        p += len;
        left -= len;
    }
    return 0;
}

/* A header block decoded: over the budget, the connection ends before the list is kept. */
static int check_headers(void *userdata, h2o_req_t *req, const char **ret_why) {
    Conn *c = userdata;

    if (server_header_list_size(req) <= SERVER_HEADER_LIST_MAX)
        return 0;
    *ret_why = "header list over its budget";
    if (!c->closing) {
        c->closing = true;
        server_report(c->server, SERVER_EVENT_CLOSED_BUDGET, *ret_why);
    }
    return -1;
}

/* h2o takes the connection, with what sock->input holds: the preface, perhaps frames after it. */
static bool accept_buffered(Conn *c) {
    c->http2 = true;
    c->hook.check = check_frame;
    c->hook.headers = check_headers;
    c->hook.userdata = c;
    if (c->sock->input->size > PREFACE_SIZE && check_buffered_frames(c) < 0)
        return false;
    h2o_http2_accept(&c->server->accept_ctx, c->sock, c->h1.super.connected_at);
    /* Every frame from here on meets check_frame() before h2o reads it. */
    h2o_private_hook_http2_frames(c->sock, &c->hook);
    return true;
}

bool http2_take_over(Conn *c) {
    if (c->sock->input->size < PREFACE_SIZE)
        return false;
    h2o_socket_read_stop(c->sock);
    h2o_socket_dont_read(c->sock, 0);
    if (c->tls) /* records read and not decrypted: h2o reads only what comes after them */
        for (bool drained = true;;) {
            h2o_iovec_t buf = h2o_buffer_reserve(&c->sock->input, 4096);
            ssize_t n = buf.base ? h2o_private_tls_read(c->sock, buf.base, buf.len, &drained) : -ENOMEM;

            if (n == -EAGAIN)
                break;
            if (n <= 0)
                return false;
            c->sock->input->size += (size_t)n;
        }
    return accept_buffered(c);
}

void http2_accept_tls(Conn *c) {
    c->h1.super.connected_at = *h2o_get_timestamp(&c->server->ctx, NULL, NULL);
    if (!accept_buffered(c))
        h2o_socket_close(c->sock); /* frees c (server.c: on_conn_close) */
}
