/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the files of the HTTP edge share: a connection (Conn) and the server (Server), and
 * what a connection tells the server (conn.c). server.c accepts and answers, http1.c
 * serves HTTP/1.1, http2.c hands HTTP/2 to h2o; each uses this, none uses the one above
 * it (server.c → http1.c → http2.c → conn.c). Not for other modules: they see server.h.
 */

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunked.h"
#include "h2o-private.h"
#include "server.h"
#include "tls.h"

typedef enum Http1State {
    HTTP1_HEAD,     /* reading a request head (or idle between requests) */
    HTTP1_BODY,     /* reading its body */
    HTTP1_CONTINUE, /* writing "100 Continue" before the body */
    HTTP1_HANDLING, /* h2o has the request; reads go to the read-ahead */
    HTTP1_CLOSING,  /* writing a last error, then closing */
} Http1State;

/* One client connection. */
typedef struct Conn {
    H2oFrameHook hook; /* first: sock->on_close.data points at both (h2o-private.h) */
    Server *server;
    h2o_socket_t *sock;
    h2o_linklist_t link;  /* Server.conns */
    h2o_linklist_t holds; /* HoldMarks of requests held and not answered yet */
    uint64_t last_request_ms;
    /* The memory budget (server.h): bytes held for requests not complete yet, by the
     * protocol's reckoning (conn_hold_incomplete), and for complete ones not answered yet
     * (the HoldMarks'). Both are part of Server.held. */
    uint64_t incomplete, complete;
    uint64_t body_bytes; /* HTTP/2: DATA payload not yet part of a complete request */
    unsigned empty_frames;
    /* HTTP/2: the header block being read (HEADERS + CONTINUATION payload bytes), and the
     * streams whose request has not ended (no END_STREAM yet), since when. */
    size_t header_block;
    size_t n_unfinished;
    struct {
        uint32_t id;
        uint64_t since_ms;
    } unfinished[SERVER_STREAMS_UNFINISHED_MAX];
    bool http2, closing, metrics;
    bool tls, handshaking; /* an HTTPS connection; its TLS handshake not done yet */
    SSL_CTX *tls_ctx;      /* the context it was accepted under: a reference of its own */

    /* HTTP/1.1 (http1.c); unused once the connection is HTTP/2. */
    struct {
        h2o_conn_t super;
        h2o_ostream_t ostream;
        h2o_timeout_entry_t timeout;
        h2o_timeout_entry_t kick; /* TLS: records already read, taken in the loop's next pass */
        Http1State state;
        size_t head_len, req_size; /* of the current request, at the start of sock->input */
        size_t content_length;     /* SIZE_MAX: chunked */
        size_t decoded;            /* chunked: body bytes decoded so far */
        ChunkedDecoder chunked;
        char *ahead; /* read ahead while HANDLING */
        size_t ahead_len;
        bool header_sent, peer_done;
        char error[320]; /* the last answer of HTTP1_CLOSING */
        h2o_req_t req;   /* last: large */
    } h1;
} Conn;

struct Server {
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t **listeners;
    ServerListener *listener_kinds; /* what each of listeners is: metrics, HTTPS */
    Tls *tls;                       /* the HTTPS listeners' context: NULL without any */
    size_t n_listeners;
    ServerCallbacks cb;
    ServerStats stats;
    uint64_t max_body, idle_ms;
    uint64_t held, max_held; /* the memory budget: every Conn's incomplete + complete */
    uint64_t held_complete;  /* of held, the complete requests' (admitted by server_hold) */
    size_t max_conns, n_conns, n_holds;
    size_t n_metrics; /* of n_conns, those of the metrics listeners (SERVER_METRICS_CONNS_MAX) */
    uint64_t next_id; /* of requests: server_next_id() */
    h2o_linklist_t conns;
    h2o_timeout_t sweep_timeout, budget_timeout;
    h2o_timeout_entry_t sweep_entry, budget_entry;
    bool context_ready, sweeping, paused, metrics_paused, stopped, scraping;
};

/* What an h2o buffer holds in memory: its capacity once allocated. */
uint64_t conn_buffer_bytes(const h2o_buffer_t *b);

/*
 * Says what c now holds for requests not complete yet. Past max-held-bytes in all, the
 * server closes the connection holding the most such bytes, in the loop's next pass.
 */
void conn_hold_incomplete(Conn *c, uint64_t bytes);

/* Past max-held-bytes (Server.held grew, or the limit shrank): the budget's enforcement
 * (server.c: on_budget) runs in the loop's next pass. */
void server_check_budget(Server *s);

/* Counts an event of the connection budget and tells ServerCallbacks.on_event. */
void server_report(Server *s, ServerEvent ev, const char *detail);

/* The error text of a 413: one wording wherever the body limit is met. */
#define SERVER_TOO_LARGE_MAX 96
void server_too_large_message(uint64_t max_body, char buf[static SERVER_TOO_LARGE_MAX]);

/* Every answer, once: counted by protocol and status, and told to on_answer. */
void server_count_response(Server *s, const ServerAnswer *a);
/* A decoded header list's size as RFC 7541 counts it (name + value + 32 per field). */
size_t server_header_list_size(const h2o_req_t *req);

/* A new request id: unique and growing, past every earlier run's (they start at the clock). */
uint64_t server_next_id(Server *s);
