/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The HTTP edge: HTTP/1.1 (keep-alive, pipelining) and HTTP/2 (prior knowledge)
 * on listening sockets handed in (from systemd or server_listen()), served by
 * libh2o (HTTP/1.1 by http1.c on h2o's request API), which nothing outside
 * server*.c and h2o-private.c sees. HTTPS listeners (ServerListener.tls) take a
 * TLS handshake first (tls.h), then HTTP/2 or HTTP/1.1 as ALPN chose, under the same
 * budget: a handshake counts as a connection from its accept, and one not done
 * within idle-timeout is cut. Every request
 * for "/" goes to one handler as a ServerRequest; other paths get 404 here.
 *
 * The budget. Every byte a client sends costs memory, CPU or time, so each
 * connection is held to limits enforced before the bytes are taken:
 *   - at most max-connections at once; at the cap, or when descriptors run out
 *     (EMFILE/ENFILE), the listeners leave the loop until a connection closes;
 *   - HTTP/1.1: while a request waits (server_hold()), at most HOLD_INPUT_MAX
 *     bytes are read ahead; after end of stream (a half-close) the requests
 *     already sent are answered, then the connection closes; after a reset the
 *     waiting one is the last, so queued pipelined requests are dropped;
 *     Content-Length with Transfer-Encoding, differing Content-Lengths and bare LF
 *     line endings get 400 and a close (RFC 9112);
 *   - HTTP/2: a decoded header list over SERVER_HEADER_LIST_MAX, request-body
 *     bytes in flight over max-body-size, or a run of SERVER_EMPTY_FRAMES_MAX
 *     frames without progress (of any type but non-empty DATA, HEADERS and
 *     CONTINUATION; those that came with the preface too) closes the connection;
 *   - a connection that completes no request for idle-timeout while it has
 *     nothing waiting (answers that do not drain, HTTP/2 kept open by PINGs or a
 *     zero window) is closed;
 *   - bodies over max-body-size get 413 the same way with Content-Length and
 *     chunked encoding, and every error body is JSON, h2o's own included.
 *   - memory, for all connections together: the bytes held for requests not answered
 *     yet (HTTP/1.1 input buffers and read-ahead, HTTP/2 bodies and header lists of
 *     unfinished streams, held requests with the caller's jobs) stay within
 *     max-held-bytes. A request that would go past it is not held (server_hold() says
 *     so, the caller answers 503); input that goes past it closes the connection holding
 *     the most bytes of an unfinished request, whichever it is. With max-connections at
 *     CONFIG_CONN_BYTES each, the sum fits the unit's memory (config.h).
 * Each enforcement is reported through ServerEvents (the caller logs and counts).
 *
 * Lifetime of a ServerRequest (the rule h2o states for h2o_send_inline): it is
 * valid from the handler call until it is answered with server_send() or
 * server_send_error(), exactly once, now or in a later pass of the loop. Once
 * answered it may be freed at any moment: touch nothing of it (nor memory from
 * server_request_alloc()) afterwards. A request never answered is freed when
 * its client goes away; the dispose callback of server_hold() says so.
 */

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "macro.h"
#include "tls.h"

/* Read ahead on an HTTP/1.1 connection while its request waits. */
#define SERVER_HOLD_INPUT_MAX (64 * 1024)
/* Connections of the metrics listeners at once, apart from max-connections: a scraper or two. */
#define SERVER_METRICS_CONNS_MAX 8
/* HTTP/2 streams of a connection whose request has not ended (a POST's body still coming):
 * one more closes the connection, and each has idle-timeout from its head to end. */
#define SERVER_STREAMS_UNFINISHED_MAX 8
/* Decoded HTTP/2 header list of one request: name + value + 32 per field (RFC 7541); HTTP/1 heads: H2O_MAX_REQLEN. */
#define SERVER_HEADER_LIST_MAX 8192
/* Frames without progress (empty DATA/HEADERS/CONTINUATION, and every other type) without a complete request between them. */
#define SERVER_EMPTY_FRAMES_MAX 100
/* What a held request costs beside its body and the caller's bytes (measured: 4.5 KiB on HTTP/2). */
#define SERVER_REQUEST_BYTES 8192

typedef struct Server Server;
typedef struct ServerRequest ServerRequest;

typedef enum ServerMethod {
    SERVER_GET,
    SERVER_HEAD,
    SERVER_POST,
    SERVER_OTHER,
} ServerMethod;

/* What the handler gets to know of a request. Pointers live as long as the request. */
typedef struct ServerRequestInfo {
    ServerMethod method;
    const char *query; /* after '?', not decoded; NULL when there is none */
    size_t query_len;
    const char *body; /* POST body, complete; "" when empty */
    size_t body_len;
    const char *content_type; /* the Content-Type header, not NUL-terminated; NULL when there is none */
    size_t content_type_len;
    uint64_t id; /* the request's, unique and growing: the access log's too (ServerAnswer) */
} ServerRequestInfo;

/* An answer as it leaves, for the access log: every answer once (ServerCallbacks.on_answer). */
typedef struct ServerAnswer {
    uint64_t id; /* the request's (ServerRequestInfo.id); a new one for an answer to no request: never 0 */
    int status;
    bool http2;
    const char *method, *target, *user_agent; /* as sent, not NUL-terminated; "" when unknown */
    size_t method_len, target_len, user_agent_len;
    uint64_t bytes;        /* of the body; UINT64_MAX when not known as it starts */
    int64_t duration_usec; /* from the complete request to the answer; -1 when not known */
    const void *conn;      /* for server_answer_peer() */
} ServerAnswer;

/* The client's address of an answer, "ADDR:PORT" ("[ADDR]:PORT" for IPv6), or "-", into buf. */
void server_answer_peer(const ServerAnswer *a, char *buf, size_t size);

typedef enum ServerEvent {
    SERVER_EVENT_PAUSED_AT_CAP, /* max-connections reached: accepting paused */
    SERVER_EVENT_PAUSED_NO_FDS, /* accept failed with EMFILE/ENFILE: accepting paused */
    SERVER_EVENT_RESUMED,       /* accepting again */
    SERVER_EVENT_CLOSED_IDLE,   /* no request completed for idle-timeout with nothing waiting */
    SERVER_EVENT_CLOSED_BUDGET, /* HTTP/2 header list, body bytes or empty frames over budget */
    SERVER_EVENT_BAD_FRAMING,   /* HTTP/1.1 message framing refused (400) */
    SERVER_EVENT_CLOSED_MEMORY, /* max-held-bytes reached: the connection holding the most of an unfinished request */
    SERVER_EVENT_TLS_FAILED,    /* a TLS handshake refused or broken off */
    _SERVER_EVENT_MAX,
} ServerEvent;

typedef void (*server_handler_fn)(ServerRequest *req, const ServerRequestInfo *info, void *userdata);
/* A scrape (GET or HEAD /metrics on a metrics listener): answer with server_send_text(). */
typedef void (*server_metrics_fn)(ServerRequest *req, void *userdata);
/* detail: a short constant text saying why; connections: open connections now. */
typedef void (*server_event_fn)(ServerEvent ev, const char *detail, size_t connections, void *userdata);

typedef struct ServerCallbacks {
    server_handler_fn on_request;
    server_metrics_fn on_metrics; /* may be NULL: no metrics listeners then */
    server_event_fn on_event;     /* may be NULL */
    /* Every response sent, once, with its status: the handler's, the edge's own (HTTP/1 heads
     * it cannot take included) and h2o's error pages; not scrapes. May be NULL. */
    void (*on_answer)(const ServerAnswer *a, void *userdata);
    void *userdata;
} ServerCallbacks;

/* A listening socket: the public HTTP port, or a metrics one (keep those on loopback). */
typedef struct ServerListener {
    int fd;
    bool metrics;
    bool tls; /* HTTPS: TLS first (server_set_tls()), then HTTP/2 or HTTP/1.1 as ALPN says */
} ServerListener;

/* What the server counts, for metrics. Scrapes are not counted. */
#define SERVER_STATUS_MAX 600
#define SERVER_DURATION_BUCKETS 16
enum { SERVER_PROTO_HTTP1, SERVER_PROTO_HTTP2, _SERVER_PROTO_MAX };
typedef struct ServerStats {
    uint64_t responses[_SERVER_PROTO_MAX][SERVER_STATUS_MAX]; /* by protocol and status */
    /* Requests handed to the handler, by time from complete request to answer (server_send). */
    uint64_t duration_counts[SERVER_DURATION_BUCKETS + 1];
    uint64_t duration_sum_usec;
    uint64_t events[_SERVER_EVENT_MAX];
    uint64_t tls_handshakes[2]; /* done: [0] a new session, [1] one resumed (a ticket) */
} ServerStats;
/* The histogram's upper bounds: 50 us to 2.5 s, then +Inf. */
extern const uint64_t server_duration_bounds_usec[SERVER_DURATION_BUCKETS];

int server_new(h2o_evloop_t *loop, const Config *c, const ServerListener *listeners, size_t n_listeners,
               const ServerCallbacks *cb, Server **ret);
const ServerStats *server_stats(Server *s);
Server *server_free(Server *s);
DEFINE_FREEP(Server, server_free)

/*
 * Applies the limits of c that can change while connections are open: max-body-size,
 * idle-timeout, max-connections (a lower cap pauses accepting until enough have closed).
 * Open connections keep what they have; what they send from now on meets the new limits.
 */
void server_set_limits(Server *s, const Config *c);

/* The HTTPS listeners' TLS context from now on: takes t, and drops the one before (connections
 * opened under it keep it to their end). A server with TLS listeners needs one before its
 * loop runs. */
void server_set_tls(Server *s, Tls *t);
/* The TLS context in force, or NULL. */
Tls *server_tls(Server *s);

/* Stops accepting (the listening sockets stay with whoever passed them); later answers close their connection. */
void server_stop_accepting(Server *s);

/* True when no client connection is open. */
bool server_idle(Server *s);

/* Open client connections. */
size_t server_connections(Server *s);

/* Creates a listening TCP socket for "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080"). */
int server_listen(const char *address, int *ret_fd);

/*
 * For a request that will be answered in a later pass of the loop, holding `bytes` of the
 * caller's for it (its jobs) until then. HTTP/1.1: the connection stays polled (no
 * epoll_ctl pair per request) and reads at most SERVER_HOLD_INPUT_MAX bytes ahead; end of
 * stream makes the answer the last one. Returns `size` zeroed bytes of the caller's that live
 * as long as the request, in the same allocation as the hold; `dispose` (may be NULL) runs on
 * them when the request is freed: after its answer left, or when its client went away. NULL
 * with *ret_error -ENOBUFS when the memory budget (max-held-bytes) has no room for it,
 * -ENOMEM: then it is not held, and the caller answers it now.
 */
void *server_hold(ServerRequest *req, uint64_t bytes, size_t size, void (*dispose)(void *data), int *ret_error);

/* Bytes held now for requests not answered yet, complete or not (the memory budget). */
uint64_t server_held_bytes(Server *s);

/* Memory that lives exactly as long as the request, zeroed. NULL when out of memory. */
void *server_request_alloc(ServerRequest *req, size_t size);

/* Answers with a JSON body (copied). extra_header/value may be NULL. */
void server_send(ServerRequest *req, int status, const char *body, size_t len, const char *extra_header,
                 const char *extra_value);

/* Answers with a body of another type (copied): metrics. Not counted. */
void server_send_text(ServerRequest *req, int status, const char *content_type, const char *body, size_t len);

/* Answers {"success":false,"error":message} (message escaped as JSON). */
void server_send_error(ServerRequest *req, int status, const char *message, const char *extra_header,
                       const char *extra_value);
