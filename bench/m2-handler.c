/* SPDX-License-Identifier: MIT */
/*
 * A Mongrel2 handler answering sqdiff's question, for make bench's "Mongrel2 + C handler" row:
 * the other way to put ZeroMQ between an HTTP server and the code that computes. Not part of
 * sqdiff, and no sqdiff code: it reads Mongrel2's request messages (PULL) and writes its
 * replies (PUB), as Mongrel2's handler protocol says.
 *
 *     m2-handler SEND_SPEC RECV_SPEC     (the Handler's send_spec and recv_spec)
 *
 * A request message is "UUID ID PATH LEN:HEADERS,LEN:BODY," with the headers as JSON (their
 * "QUERY" the query string); the reply is "UUID LEN:ID, " and the whole HTTP response. It
 * answers GET /?n=A&n=B... with {"sum":...,"square":...,"diff":...}, exact for lists whose sums
 * fit 128 bits (the bench's do); anything else gets 400. Messages of the server's own (path "@*",
 * such as the notice that a connection closed) get no reply: an answer to a closed connection
 * makes Mongrel2 send that notice again, and the two would trade them for ever. SIGTERM or
 * SIGINT ends it with status 0, as the bench stops every server.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define REPLY_MAX 512

static volatile sig_atomic_t stopping;

static void on_stop(int sig) {
    stopping = 1;
}

_Noreturn static void die(const char *what) {
    fprintf(stderr, "m2-handler: %s: %s\n", what, zmq_strerror(errno));
    exit(EXIT_FAILURE);
}

/* A signed 128-bit value in decimal. */
static void format_i128(__int128 v, char *buf) {
    char tmp[48];
    size_t n = 0;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;

    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        *buf++ = '-';
    while (n)
        *buf++ = tmp[--n];
    *buf = '\0';
}

/* The answer to the query q (len bytes): false if it is not n=INT&n=INT... within 128 bits. */
static bool answer(const char *q, size_t len, char *body, size_t size) {
    __int128 sum = 0, squares = 0, square;
    const char *p = q, *end = q + len;
    char a[48], b[48], c[48];

    while (p < end) {
        char *after;
        long long v;

        if (end - p < 3 || memcmp(p, "n=", 2) != 0)
            return false;
        errno = 0;
        v = strtoll(p + 2, &after, 10);
        if (errno || after == p + 2 || after > end || (after < end && *after != '&'))
            return false;
        if (__builtin_add_overflow(sum, (__int128)v, &sum) ||
            __builtin_add_overflow(squares, (__int128)v * v, &squares))
            return false;
        p = after + (after < end);
    }
    if (sum > ((__int128)1 << 62) || sum < -((__int128)1 << 62))
        return false;
    square = sum * sum;
    format_i128(squares, a);
    format_i128(square, b);
    format_i128(square - squares, c);
    return (size_t)snprintf(body, size, "{\"sum\":%s,\"square\":%s,\"diff\":%s}", a, b, c) < size;
}

/* The netstring at *p ("LEN:DATA,"), within end: its data, *p moved past it. */
static const char *netstring(const char **p, const char *end, size_t *ret_len) {
    char *colon;
    unsigned long n = strtoul(*p, &colon, 10);
    const char *data = colon + 1;

    if (colon >= end || *colon != ':' || n > (size_t)(end - data) - 1)
        return NULL;
    *ret_len = n;
    *p = data + n + 1;
    return data;
}

int main(int argc, char **argv) {
    void *ctx = zmq_ctx_new(), *in = NULL, *out = NULL;
    static char msg[1 << 16], reply[REPLY_MAX + 256];

    /* no SA_RESTART: a blocked zmq_recv() returns EINTR, and the loop ends */
    struct sigaction sa = { .sa_handler = on_stop };

    if (argc != 3) {
        fprintf(stderr, "usage: m2-handler SEND_SPEC RECV_SPEC\n");
        return EXIT_FAILURE;
    }
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        die("sigaction");
    if (!ctx || !(in = zmq_socket(ctx, ZMQ_PULL)) || !(out = zmq_socket(ctx, ZMQ_PUB)))
        die("socket");
    if (zmq_connect(in, argv[1]) < 0 || zmq_connect(out, argv[2]) < 0)
        die("connect");
    while (!stopping) {
        int n = zmq_recv(in, msg, sizeof(msg) - 1, 0);
        const char *uuid = msg, *id, *headers, *query, *p, *end;
        size_t uuid_len, id_len, headers_len, query_len;
        char body[REPLY_MAX];
        bool ok;
        int len;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("recv");
        }
        if ((size_t)n >= sizeof(msg))
            continue; /* truncated: not a request of the bench */
        msg[n] = '\0';
        end = msg + n;
        id = memchr(msg, ' ', (size_t)n);
        if (!id)
            continue;
        uuid_len = (size_t)(id - uuid);
        id++;
        p = memchr(id, ' ', (size_t)(end - id));
        if (!p)
            continue;
        id_len = (size_t)(p - id);
        if (id_len == 0 || p + 1 >= end || p[1] == '@')
            continue; /* a path of "@*": JSON from the server, such as a closed connection's notice */
        p = memchr(p + 1, ' ', (size_t)(end - p - 1)); /* past the path */
        if (!p || !(p++, headers = netstring(&p, end, &headers_len)))
            continue;
        query = memmem(headers, headers_len, "\"QUERY\":\"", 9);
        query_len = 0;
        if (query) {
            query += 9;
            while (query + query_len < headers + headers_len && query[query_len] != '"')
                query_len++;
        }
        ok = query && answer(query, query_len, body, sizeof(body));
        if (!ok)
            snprintf(body, sizeof(body), "{\"success\":false,\"error\":\"not a list of n=INT\"}");
        len = snprintf(reply, sizeof(reply),
                       "%.*s %zu:%.*s, HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       (int)uuid_len, uuid, id_len, (int)id_len, id, ok ? "200 OK" : "400 Bad Request", strlen(body),
                       body);
        if (len > 0 && (size_t)len < sizeof(reply) && zmq_send(out, reply, (size_t)len, 0) < 0 && errno != EINTR)
            die("send");
    }
    (void)zmq_setsockopt(out, ZMQ_LINGER, &(int){ 0 }, sizeof(int)); /* replies to no one: dropped */
    zmq_close(in);
    zmq_close(out);
    zmq_ctx_term(ctx);
    return 0;
}
