/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 connections, sqdiff's own, on libh2o's request API (h2o_init_request,
 * h2o_process_request, an ostream of ours at the end of h2o's filters). h2o's
 * own HTTP/1 reads without bound while a request waits, answers what it cannot
 * parse with a text/plain 400 written past every filter, and accepts ambiguous
 * framing; owning the connection puts each of those under the budget:
 *
 *   - every read is ours (h2o_socket_dont_read): at most what the current
 *     request needs plus SERVER_HOLD_INPUT_MAX ahead is ever taken, and while h2o
 *     has the request the socket stays polled (no epoll_ctl pair per request)
 *     with what arrives kept in c->h1.ahead until the answer has left;
 *   - heads are parsed by picohttpparser (as h2o does) and framing is checked
 *     per RFC 9112 (bare LF, Content-Length with Transfer-Encoding, differing
 *     Content-Lengths); every error answer is JSON, and closes the connection;
 *   - end of stream (a half-close) while a request waits: the requests already
 *     sent are answered in turn, then the connection closes; a reset makes the
 *     waiting one the last, and what a departed client queued is never started.
 *
 * A request's life: HTTP1_HEAD → (HTTP1_CONTINUE) → HTTP1_BODY → HTTP1_HANDLING
 * → answer written (on_written) → next request from what is buffered. A head
 * that starts with the HTTP/2 preface hands the connection to h2o's HTTP/2.
 */

#include "http1.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http2.h"

#define HEADERS_MAX 100
/* Free room asked of h2o's input buffer before a read, as h2o's own reader asks. */
#define READ_MIN 4096
/* The most a TLS record carries (RFC 8446, 5.1): an answer up to this is written as one record. */
#define TLS_RECORD_PAYLOAD_MAX 16384

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void on_readable(h2o_socket_t *sock, const char *err);
static void handle_input(Conn *c);

static Conn *conn_of_h1(h2o_conn_t *conn) {
    return H2O_STRUCT_FROM_MEMBER(Conn, h1.super, conn);
}

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa) {
    return h2o_socket_getsockname(conn_of_h1(conn)->sock, sa);
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa) {
    return h2o_socket_getpeername(conn_of_h1(conn)->sock, sa);
}

static h2o_socket_t *get_socket(h2o_conn_t *conn) {
    return conn_of_h1(conn)->sock;
}

static const h2o_conn_callbacks_t callbacks = {
    .get_sockname = get_sockname,
    .get_peername = get_peername,
    .get_socket = get_socket,
};

/* --- the connection's life ----------------------------------------------------------------- */

/* The memory budget (server.h): what the connection holds for a request not complete yet.
 * While h2o has the request, the input buffer is the held request's (server_hold) and only
 * the read-ahead is not. */
static void charge(Conn *c) {
    uint64_t ahead = c->h1.ahead ? SERVER_HOLD_INPUT_MAX : 0;

    conn_hold_incomplete(c, c->h1.state == HTTP1_HANDLING ? ahead : conn_buffer_bytes(c->sock->input) + ahead);
}

static void close_now(Conn *c) {
    if (h2o_timeout_is_linked(&c->h1.timeout))
        h2o_timeout_unlink(&c->h1.timeout);
    if (h2o_timeout_is_linked(&c->h1.kick))
        h2o_timeout_unlink(&c->h1.kick);
    h2o_dispose_request(&c->h1.req);
    free(c->h1.ahead);
    c->h1.ahead = NULL;
    h2o_socket_close(c->sock); /* frees c (server.c: on_conn_close) */
}

static void on_timeout(h2o_timeout_entry_t *entry) {
    close_now(H2O_STRUCT_FROM_MEMBER(Conn, h1.timeout, entry));
}

/* Ready for the next request: h2o's request reset, the idle-timeout clock running. */
static void start_request(Conn *c) {
    h2o_init_request(&c->h1.req, &c->h1.super, NULL);
    c->h1.req._ostr_top = &c->h1.ostream;
    c->h1.state = HTTP1_HEAD;
    c->h1.head_len = c->h1.req_size = c->h1.decoded = 0;
    c->h1.header_sent = false;
    h2o_timeout_link(c->server->loop, &c->server->ctx.http1.req_timeout, &c->h1.timeout);
}

static void on_error_written(h2o_socket_t *sock, const char *err) {
    close_now(sock->data);
}

/* Answers status with {"success":false,"error":message} and closes: the request could not be read. */
static void fail(Conn *c, int status, const char *reason, const char *message) {
    char body[200];
    int blen = snprintf(body, sizeof(body), "{\"success\":false,\"error\":\"%s\"}", message);
    int len = snprintf(c->h1.error, sizeof(c->h1.error),
                       "HTTP/1.1 %d %s\r\nConnection: close\r\ncontent-type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s",
                       status, reason, blen, body);
    h2o_iovec_t buf = h2o_iovec_init(c->h1.error, (size_t)len < sizeof(c->h1.error) ? (size_t)len : 0);

    if (h2o_timeout_is_linked(&c->h1.timeout))
        h2o_timeout_unlink(&c->h1.timeout);
    server_count_response(c->server, &(ServerAnswer){ .id = server_next_id(c->server),
                                                      .status = status,
                                                      .method = "",
                                                      .target = "",
                                                      .user_agent = "",
                                                      .bytes = (uint64_t)(blen > 0 ? blen : 0),
                                                      .duration_usec = -1,
                                                      .conn = c });
    c->h1.state = HTTP1_CLOSING;
    h2o_socket_read_stop(c->sock);
    h2o_socket_write(c->sock, &buf, 1, on_error_written);
}

static void fail_too_large(Conn *c) {
    char msg[SERVER_TOO_LARGE_MAX];

    server_too_large_message(c->server->max_body, msg);
    fail(c, 413, "Payload Too Large", msg);
}

static void fail_framing(Conn *c, const char *message) {
    server_report(c->server, SERVER_EVENT_BAD_FRAMING, message);
    fail(c, 400, "Bad Request", message);
}

/* --- reading, within the budget --------------------------------------------------------------- */

static bool peer_finished(int fd) {
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE_WAIT;
}

/* How much sock->input may hold now: the current request, when its size is known, plus the read-ahead. */
static size_t input_cap(const Conn *c) {
    switch (c->h1.state) {
    case HTTP1_BODY:
        if (c->h1.content_length != SIZE_MAX)
            return c->h1.head_len + c->h1.content_length + SERVER_HOLD_INPUT_MAX;
        return c->h1.head_len + c->h1.decoded + 2 * SERVER_HOLD_INPUT_MAX; /* decoded as it comes */
    default:
        return H2O_MAX_REQLEN + SERVER_HOLD_INPUT_MAX;
    }
}

/* Reads what the socket has, up to room bytes, into dst. 0; READ_END at end of stream (the
 * client sent all it will: a half-close, or a close); -errno when the client is gone (a reset). */
#define READ_END 1
static int read_into(Conn *c, char *dst, size_t room, size_t *ret_n) {
    ssize_t n = 0;
    size_t got = 0;
    bool drained = false;

    if (!c->tls) {
        n = read(h2o_socket_get_fd(c->sock), dst, room);
        got = n > 0 ? (size_t)n : 0;
        n = n < 0 ? -errno : n;
    } else
        /* Fills the room: a short read then means the socket has no whole record more. The
         * end of the stream or an error after some bytes is told by the next read. */
        while (got < room && (n = h2o_private_tls_read(c->sock, dst + got, room - got, &drained)) > 0)
            got += (size_t)n;
    *ret_n = got;
    if (got > 0 || n == -EAGAIN || n == -EINTR)
        return 0;
    return n == 0 ? READ_END : (int)n;
}

/* TLS may hold whole records read from the socket already, which no poll would report:
 * they are taken in the loop's next pass. */
static void on_kick(h2o_timeout_entry_t *entry) {
    Conn *c = H2O_STRUCT_FROM_MEMBER(Conn, h1.kick, entry);

    if (h2o_socket_is_reading(c->sock))
        on_readable(c->sock, NULL);
}

/* Polls the socket for the next bytes (on_readable). */
static void resume_reading(Conn *c) {
    if (!h2o_socket_is_reading(c->sock))
        h2o_socket_read_start(c->sock, on_readable);
    if (c->tls && h2o_private_tls_pending(c->sock) && !h2o_timeout_is_linked(&c->h1.kick))
        h2o_timeout_link(c->server->loop, &c->server->ctx.zero_timeout, &c->h1.kick);
}

/* Whether requests wait behind the one h2o has: read ahead, or buffered past it. */
static bool queued(const Conn *c) {
    return c->h1.ahead_len > 0 || c->sock->input->size > c->h1.req_size;
}

/* While h2o has the request: read ahead into c->h1.ahead, learning of end of stream. */
static void read_ahead(Conn *c) {
    size_t have = c->sock->input->size - c->h1.req_size + c->h1.ahead_len, n;
    int r;

    if (have >= SERVER_HOLD_INPUT_MAX || (!c->h1.ahead && !(c->h1.ahead = malloc(SERVER_HOLD_INPUT_MAX)))) {
        /* A pipelining client with its budget full: its end of stream, if sent, waits behind
         * the bytes not read yet (TCP tells whether it came: CLOSE_WAIT), and so do the
         * requests it sent before it, which are answered in turn. */
        c->h1.peer_done = peer_finished(h2o_socket_get_fd(c->sock));
        h2o_socket_read_stop(c->sock);
        return;
    }
    r = read_into(c, c->h1.ahead + c->h1.ahead_len, SERVER_HOLD_INPUT_MAX - have, &n);
    if (r != 0) {
        /* Done sending (a half-close): the requests it sent are answered, then the connection
         * closes; this one is the last if none is queued. Gone (a reset): this answer is the
         * last, and the queued ones never run. */
        c->h1.peer_done = true;
        if (r < 0 || !queued(c))
            c->h1.req.http1_is_persistent = 0;
        h2o_socket_read_stop(c->sock);
        return;
    }
    c->h1.ahead_len += n;
    charge(c);
}

static void on_readable(h2o_socket_t *sock, const char *err) {
    Conn *c = sock->data;
    size_t cap, total = 0;
    int r;

    if (c->h1.state == HTTP1_HANDLING) {
        read_ahead(c);
        return;
    }
    if (c->h1.state == HTTP1_CONTINUE || c->h1.state == HTTP1_CLOSING) {
        h2o_socket_read_stop(sock);
        return;
    }
    while ((cap = input_cap(c)) > c->sock->input->size) {
        size_t want = cap - c->sock->input->size, n;
        /* h2o's buffers double as they fill; asking for little keeps a small request's buffer
         * small (it is freed once consumed), and a read takes all the room there is. */
        h2o_iovec_t buf = h2o_buffer_reserve(&c->sock->input, want < READ_MIN ? want : READ_MIN);

        if (!buf.base) {
            close_now(c);
            return;
        }
        r = read_into(c, buf.base, buf.len < want ? buf.len : want, &n);
        if (r != 0) {
            if (r < 0 || total == 0) {
                close_now(c); /* gone, or the end of stream with no request to complete */
                return;
            }
            c->h1.peer_done = true; /* what came before the end of stream is answered first */
            h2o_socket_read_stop(sock);
            break;
        }
        c->sock->input->size += n;
        total += n;
        if (n < want && n < buf.len)
            break; /* the socket had no more: spare the read that would say EAGAIN */
    }
    if (cap <= c->sock->input->size && total == 0) {
        h2o_socket_read_stop(sock); /* over budget: the request decides (handle_input) */
        return;
    }
    if (total > 0) {
        charge(c);
        handle_input(c);
    }
}

/* --- parsing ------------------------------------------------------------------------------------ */

static bool has_bare_lf(const char *head, size_t len) {
    for (const char *p = head, *end = head + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        if (p == head || p[-1] != '\r')
            return true;
    return false;
}

/*
 * A target in absolute form ("http://host/?n=1", RFC 9112 section 3.2.2, which a server
 * must accept) names the authority itself: the rest is the path, "/" when empty.
 */
static void take_absolute_form(h2o_req_t *req) {
    h2o_iovec_t t = req->input.path;
    size_t skip = t.len >= 7 && h2o_lcstris(t.base, 7, H2O_STRLIT("http://"))    ? 7
                  : t.len >= 8 && h2o_lcstris(t.base, 8, H2O_STRLIT("https://")) ? 8
                                                                                 : 0;
    size_t end = skip;

    if (skip == 0)
        return;
    while (end < t.len && t.base[end] != '/' && t.base[end] != '?')
        end++;
    req->input.authority = h2o_iovec_init(t.base + skip, end - skip);
    if (end < t.len && t.base[end] == '/')
        req->input.path = h2o_iovec_init(t.base + end, t.len - end);
    else
        req->input.path =
            h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("/")), h2o_iovec_init(t.base + end, t.len - end));
}

/* Fills c->h1.req from the parsed head; NULL, or why the request cannot be taken (400). */
static const char *setup_request(Conn *c, const char *method, size_t method_len, const char *path, size_t path_len,
                                 int minor, struct phr_header *headers, size_t n_headers, h2o_iovec_t *ret_expect) {
    h2o_req_t *req = &c->h1.req;
    h2o_iovec_t connection = { NULL, 0 };
    bool te = false, cl = false;
    unsigned hosts = 0;

    *ret_expect = h2o_iovec_init(NULL, 0);
    if (has_bare_lf(c->sock->input->bytes, c->h1.head_len))
        return "bare LF line ending: lines end with CRLF";
    c->h1.content_length = 0;
    for (size_t i = 0; i < n_headers; i++) {
        struct phr_header *h = &headers[i];
        const h2o_token_t *token;

        if (!h->name) /* picohttpparser's mark of a line that starts with a space: obs-fold */
            return "obs-fold: a header field continued on the next line";
        h2o_strtolower((char *)h->name, h->name_len);
        token = h2o_lookup_token(h->name, h->name_len);
        if (token == H2O_TOKEN_CONTENT_LENGTH) {
            size_t v = h2o_strtosize(h->value, h->value_len);

            if (v == SIZE_MAX)
                return "malformed Content-Length";
            if (cl && v != c->h1.content_length)
                return "differing Content-Length headers";
            cl = true;
            c->h1.content_length = v;
        } else if (token == H2O_TOKEN_TRANSFER_ENCODING) {
            if (te || !h2o_lcstris(h->value, h->value_len, H2O_STRLIT("chunked")))
                return "unsupported Transfer-Encoding: only chunked is";
            te = true;
        } else if (token == H2O_TOKEN_HOST) {
            if (++hosts > 1)
                return "more than one Host header";
            req->input.authority = h2o_iovec_init(h->value, h->value_len);
        } else if (token == H2O_TOKEN_EXPECT)
            *ret_expect = h2o_iovec_init(h->value, h->value_len);
        else {
            if (token)
                h2o_add_header(&req->pool, &req->headers, token, NULL, h->value, h->value_len);
            else
                h2o_add_header_by_str(&req->pool, &req->headers, h->name, h->name_len, 0, NULL, h->value, h->value_len);
            if (token == H2O_TOKEN_CONNECTION)
                connection = h2o_iovec_init(h->value, h->value_len);
        }
    }
    if (te && cl)
        return "Content-Length together with Transfer-Encoding";
    if (minor != 0 && hosts == 0)
        return "no Host header: HTTP/1.1 requires one";
    if (te)
        c->h1.content_length = SIZE_MAX;

    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    req->input.method = h2o_iovec_init(method, method_len);
    req->input.path = h2o_iovec_init(path, path_len);
    take_absolute_form(req);
    req->version = 0x100 | (minor != 0);
    if (connection.base && h2o_contains_token(connection.base, connection.len, H2O_STRLIT("close"), ','))
        req->http1_is_persistent = 0;
    else
        req->http1_is_persistent = minor != 0 || (connection.base && h2o_contains_token(connection.base, connection.len,
                                                                                        H2O_STRLIT("keep-alive"), ','));
    if (c->server->ctx.shutdown_requested)
        req->http1_is_persistent = 0;
    req->timestamps.request_begin_at = *h2o_get_timestamp(&c->server->ctx, NULL, NULL);

    /* A body makes the buffer grow: what points into the head moves to the request's memory. */
    if (te || cl) {
        req->input.method = h2o_strdup(&req->pool, method, method_len);
        req->input.path = h2o_strdup(&req->pool, path, path_len);
        if (req->input.authority.base)
            req->input.authority = h2o_strdup(&req->pool, req->input.authority.base, req->input.authority.len);
        for (size_t i = 0; i < req->headers.size; i++) {
            h2o_header_t *h = &req->headers.entries[i];

            if (!h2o_iovec_is_token(h->name)) {
                h2o_iovec_t *name = h2o_mem_alloc_pool(&req->pool, sizeof(*name));

                *name = h2o_strdup(&req->pool, h->name->base, h->name->len);
                h->name = name;
            }
            h->value = h2o_strdup(&req->pool, h->value.base, h->value.len);
        }
    }
    return NULL;
}

static void process(Conn *c) {
    h2o_req_t *req = &c->h1.req;

    if (h2o_timeout_is_linked(&c->h1.timeout))
        h2o_timeout_unlink(&c->h1.timeout);
    c->h1.state = HTTP1_HANDLING;
    charge(c);
    /* Reading goes on (into the read-ahead) while h2o has the request; the socket stays polled. */
    if (!c->h1.peer_done)
        resume_reading(c);
    if (c->sock->input->size - c->h1.req_size >= SERVER_HOLD_INPUT_MAX)
        read_ahead(c); /* the budget is full already: learn of end of stream from TCP */
    h2o_process_request(req);
}

static void on_continue_written(h2o_socket_t *sock, const char *err) {
    Conn *c = sock->data;

    if (err) {
        close_now(c);
        return;
    }
    c->h1.state = HTTP1_BODY;
    resume_reading(c);
    handle_input(c);
}

/* Reads the body that has arrived; true when it is complete (c->h1.req.entity set). */
static bool take_body(Conn *c) {
    h2o_buffer_t *in = c->sock->input;

    if (c->h1.content_length != SIZE_MAX) {
        if (in->size < c->h1.head_len + c->h1.content_length)
            return false;
        c->h1.req_size = c->h1.head_len + c->h1.content_length;
        c->h1.req.entity = h2o_iovec_init(in->bytes + c->h1.head_len, c->h1.content_length);
        return true;
    }
    for (;;) {
        size_t start = c->h1.head_len + c->h1.decoded, len = in->size - start;
        ssize_t r;

        if (len == 0)
            return false;
        r = chunked_decode(&c->h1.chunked, in->bytes + start, &len);
        if (r == CHUNKED_ERROR) {
            fail_framing(c, c->h1.chunked.error);
            return false;
        }
        c->h1.decoded += len;
        in->size = start + len + (r >= 0 ? (size_t)r : 0);
        if (c->h1.decoded > c->server->max_body) {
            fail_too_large(c);
            return false;
        }
        if (r == CHUNKED_MORE)
            return false;
        c->h1.req_size = c->h1.head_len + c->h1.decoded;
        c->h1.req.entity = h2o_iovec_init(in->bytes + c->h1.head_len, c->h1.decoded);
        return true;
    }
}

static void handle_input(Conn *c) {
    h2o_buffer_t *in = c->sock->input;
    struct phr_header headers[HEADERS_MAX];
    size_t n_headers = HEADERS_MAX, method_len, path_len, len;
    const char *method, *path, *why;
    h2o_iovec_t expect;
    int minor, r;

    if (c->h1.state == HTTP1_BODY) {
        if (take_body(c))
            process(c);
        return;
    }
    if (c->h1.state != HTTP1_HEAD || in->size == 0)
        return;

    len = in->size < sizeof(preface) - 1 ? in->size : sizeof(preface) - 1;
    if (memcmp(in->bytes, preface, len) == 0) {
        if (len == sizeof(preface) - 1) {
            if (h2o_timeout_is_linked(&c->h1.timeout))
                h2o_timeout_unlink(&c->h1.timeout);
            h2o_dispose_request(&c->h1.req);
            if (h2o_timeout_is_linked(&c->h1.kick))
                h2o_timeout_unlink(&c->h1.kick);
            if (!http2_take_over(c))
                h2o_socket_close(c->sock); /* its request disposed of already; frees c */
        }
        return;
    }
    len = in->size < H2O_MAX_REQLEN ? in->size : H2O_MAX_REQLEN;
    r = phr_parse_request(in->bytes, len, &method, &method_len, &path, &path_len, &minor, headers, &n_headers, 0);
    if (r == -2) {
        if (len == H2O_MAX_REQLEN)
            fail(c, 400, "Bad Request", "request head too long");
        return;
    }
    if (r < 0) {
        /* Empty lines between requests are tolerated (RFC 9112, section 2.2); junk is not. */
        fail(c, 400, "Bad Request", "malformed request");
        return;
    }
    c->h1.head_len = c->h1.req_size = (size_t)r;
    why = setup_request(c, method, method_len, path, path_len, minor, headers, n_headers, &expect);
    if (why) {
        fail_framing(c, why);
        return;
    }
    if (c->h1.content_length == 0 && !expect.base) {
        process(c);
        return;
    }
    if (c->h1.content_length != SIZE_MAX && c->h1.content_length > c->server->max_body) {
        fail_too_large(c);
        return;
    }
    c->h1.chunked = CHUNKED_DECODER_INIT;
    c->h1.req.timestamps.request_body_begin_at = c->h1.req.timestamps.request_begin_at;
    if (expect.base) {
        static h2o_iovec_t cont = { H2O_STRLIT("HTTP/1.1 100 Continue\r\n\r\n") };

        if (!h2o_lcstris(expect.base, expect.len, H2O_STRLIT("100-continue"))) {
            fail(c, 417, "Expectation Failed", "unknown expectation");
            return;
        }
        if (in->size == c->h1.head_len) { /* nothing of the body sent yet: the client waits for us */
            c->h1.state = HTTP1_CONTINUE;
            h2o_socket_read_stop(c->sock);
            h2o_socket_write(c->sock, &cont, 1, on_continue_written);
            return;
        }
    }
    c->h1.state = HTTP1_BODY;
    if (take_body(c))
        process(c);
}

/* --- answers ------------------------------------------------------------------------------------ */

/* The answer has left: the next request, from what is buffered and what was read ahead. */
static void on_written(h2o_socket_t *sock, const char *err) {
    Conn *c = sock->data;

    if (err || !c->h1.req.http1_is_persistent || c->closing) {
        close_now(c);
        return;
    }
    h2o_dispose_request(&c->h1.req);
    h2o_buffer_consume(&c->sock->input, c->h1.req_size);
    if (c->h1.ahead_len > 0) {
        h2o_iovec_t buf = h2o_buffer_reserve(&c->sock->input, c->h1.ahead_len);

        if (!buf.base) {
            close_now(c);
            return;
        }
        memcpy(buf.base, c->h1.ahead, c->h1.ahead_len);
        c->sock->input->size += c->h1.ahead_len;
        c->h1.ahead_len = 0;
    }
    free(c->h1.ahead);
    c->h1.ahead = NULL;
    start_request(c);
    charge(c);
    resume_reading(c);
    handle_input(c);
}

static void on_part_written(h2o_socket_t *sock, const char *err) {
    Conn *c = sock->data;

    if (err) {
        close_now(c);
        return;
    }
    h2o_proceed_response(&c->h1.req);
}

static size_t head_size(const h2o_req_t *req) {
    size_t n = sizeof("HTTP/1.1 999 \r\nDate: \r\nConnection: keep-alive\r\nContent-Length: \r\n\r\n") +
               strlen(req->res.reason) + H2O_TIMESTR_RFC1123_LEN + sizeof(H2O_UINT64_LONGEST_STR);

    for (size_t i = 0; i < req->res.headers.size; i++)
        n += req->res.headers.entries[i].name->len + req->res.headers.entries[i].value.len + 4;
    return n;
}

static char *put(char *p, const char *s, size_t len) {
    memcpy(p, s, len);
    return p + len;
}

static char *put_uint(char *p, uint64_t v) {
    char digits[20];
    size_t n = 0;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

/* The status line and headers, without printf: this runs once per answer. */
static size_t write_head(char *buf, h2o_req_t *req) {
    h2o_timestamp_t ts;
    int status = req->res.status;
    char *p = buf;

    h2o_get_timestamp(req->conn->ctx, &req->pool, &ts);
    p = put(p, H2O_STRLIT("HTTP/1.1 "));
    *p++ = (char)('0' + status / 100 % 10);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put(p, req->res.reason, strlen(req->res.reason));
    p = put(p, H2O_STRLIT("\r\nDate: "));
    p = put(p, ts.str->rfc1123, H2O_TIMESTR_RFC1123_LEN);
    if (req->http1_is_persistent)
        p = put(p, H2O_STRLIT("\r\nConnection: keep-alive\r\n"));
    else
        p = put(p, H2O_STRLIT("\r\nConnection: close\r\n"));
    if (req->res.content_length != SIZE_MAX) {
        p = put(p, H2O_STRLIT("Content-Length: "));
        p = put_uint(p, req->res.content_length);
        p = put(p, H2O_STRLIT("\r\n"));
    }
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_header_t *h = &req->res.headers.entries[i];

        p = put(p, h->orig_name ? h->orig_name : h->name->base, h->name->len);
        p = put(p, H2O_STRLIT(": "));
        p = put(p, h->value.base, h->value.len);
        p = put(p, H2O_STRLIT("\r\n"));
    }
    p = put(p, H2O_STRLIT("\r\n"));
    return (size_t)(p - buf);
}

/*
 * Over TLS, h2o writes each buffer as a record of its own (SSL_write per buffer), so the head
 * and a small body would cost two records, two encryptions: joined into one buffer, an answer
 * that fits a record goes out as one, as nginx sends it. Larger writes keep their buffers
 * (h2o cuts them into records anyway). Returns the buffers left in vecs.
 */
static size_t one_record(h2o_req_t *req, h2o_iovec_t *vecs, size_t n) {
    size_t total = 0;
    char *joined, *p;

    for (size_t i = 0; i < n; i++)
        total += vecs[i].len;
    if (n < 2 || total > TLS_RECORD_PAYLOAD_MAX)
        return n;
    joined = h2o_mem_alloc_pool(&req->pool, total);
    p = joined;
    for (size_t i = 0; i < n; i++)
        p = put(p, vecs[i].base, vecs[i].len);
    vecs[0] = h2o_iovec_init(joined, total);
    return 1;
}

/* The end of h2o's filter chain: the bytes go out on the socket. */
static void do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state) {
    Conn *c = H2O_STRUCT_FROM_MEMBER(Conn, h1.ostream, self);
    h2o_iovec_t small[8],
        *vecs = bufcnt < ELEMENTSOF(small) ? small : h2o_mem_alloc_pool(&req->pool, (bufcnt + 1) * sizeof(*vecs));
    size_t n = 0;

    if (state == H2O_SEND_STATE_ERROR || req->res.content_length == SIZE_MAX)
        req->http1_is_persistent = 0; /* the end of the body is the end of the connection */
    if (!c->h1.header_sent) {
        char *head = h2o_mem_alloc_pool(&req->pool, head_size(req));

        vecs[n++] = h2o_iovec_init(head, write_head(head, req));
        c->h1.header_sent = true;
    }
    for (size_t i = 0; i < bufcnt; i++) {
        req->bytes_sent += bufs[i].len;
        vecs[n++] = bufs[i];
    }
    if (c->sock->ssl)
        n = one_record(req, vecs, n);
    h2o_socket_write(c->sock, vecs, n, h2o_send_state_is_in_progress(state) ? on_part_written : on_written);
}

/* --- entry points ------------------------------------------------------------------------------- */

void http1_close(Conn *c) {
    close_now(c);
}

void http1_accept(Conn *c) {
    c->h1.super.ctx = &c->server->ctx;
    c->h1.super.hosts = c->server->globalconf.hosts;
    c->h1.super.connected_at = *h2o_get_timestamp(&c->server->ctx, NULL, NULL);
    c->h1.super.callbacks = &callbacks;
    c->h1.ostream.do_send = do_send;
    c->h1.timeout.cb = on_timeout;
    c->h1.kick.cb = on_kick;
    c->sock->data = c;
    h2o_socket_dont_read(c->sock, 1); /* every read is ours, within the budget */
    start_request(c);
    resume_reading(c);
    if (c->sock->input->size > 0) { /* TLS: a request that came with the handshake's last flight */
        charge(c);
        handle_input(c);
    }
}
