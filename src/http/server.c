/* SPDX-License-Identifier: MIT */
/*
 * libh2o embedding: one host, one path ("/"), one handler, and the connection
 * budget (server.h). Every accepted socket gets a Conn, found again through
 * sock->on_close.data, which h2o leaves to its user and calls on close; that
 * is how connections are counted, swept and hooked. HTTP/1.1 is served by
 * http1.c, HTTP/2 by h2o with http2.c's frame budget in front of its frames.
 */

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o/http2.h>

#include "conn.h"
#include "http1.h"
#include "http2.h"

/* The name under which a request's id is kept in its h2o env. */
#define ENV_REQUEST_ID "sqdiff-request-id"
/* Sweeps for connections without progress run this often, within [min, max]. */
#define SWEEP_MIN_MS 100
#define SWEEP_MAX_MS 1000
/* After EMFILE/ENFILE, accepting is retried at the next sweep or when a connection closes. */

typedef struct HoldMark {
    h2o_linklist_t link;
    h2o_req_t *req;
    Conn *conn;                  /* outlives its requests (on_hold_dispose) */
    uint64_t bytes;              /* of the memory budget, while held */
    void (*dispose)(void *data); /* the caller's, for its data */
    max_align_t data[];          /* the caller's (server_hold()): one allocation for both */
} HoldMark;

typedef struct ServerHandler {
    h2o_handler_t super;
    Server *server;
} ServerHandler;

/* Rewrites error responses that h2o itself generates (413 for a body over the limit,
 * 400 for broken chunked encoding, ...) as JSON, so every error a client sees is JSON. */
typedef struct JsonErrorStream {
    h2o_ostream_t super;
    char text[200];
    size_t len;
    uint64_t max_body;
} JsonErrorStream;

typedef struct JsonErrorFilter {
    h2o_filter_t super;
    Server *server; /* every response passes here once: ServerCallbacks.on_answer */
} JsonErrorFilter;

const uint64_t server_duration_bounds_usec[SERVER_DURATION_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2000000, 2500000,
};

/* The Conn of a request's connection. */
static Conn *conn_of(h2o_req_t *req) {
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;

    return sock ? sock->on_close.data : NULL;
}

/* Ends a connection from outside h2o: h2o sees the error on its next read or write and closes it. */
static void conn_abort(Conn *c, ServerEvent ev, const char *why) {
    if (c->closing)
        return;
    c->closing = true;
    (void)shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
    server_report(c->server, ev, why);
}

/* --- accepting, within max-connections ---------------------------------------------------- */

static void on_accept(h2o_socket_t *listener, const char *err);

/* The public listeners (metrics false) or the metrics ones: each kind pauses on its own cap,
 * so a public port at max-connections still lets the metrics be scraped. */
static void set_listening(Server *s, bool metrics, bool on) {
    bool *paused = metrics ? &s->metrics_paused : &s->paused;

    if (s->stopped || *paused == !on)
        return;
    *paused = !on;
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listener_kinds[i].metrics != metrics)
            continue;
        if (on)
            h2o_socket_read_start(s->listeners[i], on_accept);
        else
            h2o_socket_read_stop(s->listeners[i]);
    }
}

static void set_accepting(Server *s, bool on) {
    set_listening(s, false, on);
}

static size_t public_conns(const Server *s) {
    return s->n_conns - s->n_metrics;
}

static void on_conn_close(void *data) {
    Conn *c = data;
    Server *s = c->server;
    bool metrics = c->metrics;

    h2o_linklist_unlink(&c->link);
    s->held -= c->incomplete + c->complete;
    SSL_CTX_free(c->tls_ctx);
    free(c);
    s->n_conns--;
    if (metrics) {
        s->n_metrics--;
        if (s->metrics_paused && !s->stopped)
            set_listening(s, true, true);
    } else if (s->paused && !s->stopped && public_conns(s) < s->max_conns) {
        set_accepting(s, true);
        server_report(s, SERVER_EVENT_RESUMED, "a connection closed");
    }
}

/* What listener is: the ServerListener it was made from (fd aside). */
static ServerListener listener_kind(Server *s, h2o_socket_t *listener) {
    for (size_t i = 0; i < s->n_listeners; i++)
        if (s->listeners[i] == listener)
            return s->listener_kinds[i];
    return (ServerListener){ .fd = -1 };
}

/* A TLS handshake over: the connection goes on as ALPN chose, or closes. */
static void on_handshake(h2o_socket_t *sock, const char *err) {
    Conn *c = sock->on_close.data;
    h2o_iovec_t proto;
    char why[160];

    c->handshaking = false;
    if (!err && !h2o_private_tls_check(sock, c->tls_ctx))
        err = "TLS state not as libh2o 2.2.5 keeps it";
    if (err) {
        snprintf(why, sizeof(why), "TLS handshake failed: %s", err);
        if (!c->closing) /* not cut by the sweep, which said why */
            server_report(c->server, SERVER_EVENT_TLS_FAILED, why);
        h2o_socket_close(sock); /* frees c (on_conn_close) */
        return;
    }
    c->last_request_ms = h2o_now(c->server->loop);
    c->server->stats.tls_handshakes[h2o_socket_get_ssl_session_reused(sock) == 1]++;
    proto = h2o_socket_ssl_get_selected_protocol(sock);
    if (h2o_memis(proto.base, proto.len, H2O_STRLIT("h2")))
        http2_accept_tls(c);
    else
        http1_accept(c);
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    Server *s = listener->data;
    h2o_socket_t *sock;
    Conn *c;

    ServerListener kind = listener_kind(s, listener);
    bool metrics = kind.metrics, tls = kind.tls;

    if (err)
        return;
    if (metrics && s->n_metrics >= SERVER_METRICS_CONNS_MAX) {
        set_listening(s, true, false);
        return;
    }
    if (tls && !s->tls) { /* server_set_tls() says: never, once the loop runs */
        h2o_socket_read_stop(listener);
        return;
    }
    if (!metrics && public_conns(s) >= s->max_conns) {
        set_accepting(s, false);
        server_report(s, SERVER_EVENT_PAUSED_AT_CAP, "max-connections reached");
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        set_listening(s, true, false); /* retried by the sweep */
        set_accepting(s, false);
        server_report(s, SERVER_EVENT_PAUSED_NO_FDS, "out of memory");
        return;
    }
    sock = h2o_evloop_socket_accept(listener);
    if (!sock) {
        int e = errno;
        free(c);
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            /* h2o would keep the listener polled and fail in a tight loop: step back instead. */
            set_listening(s, true, false);
            set_accepting(s, false);
            server_report(s, SERVER_EVENT_PAUSED_NO_FDS,
                          e == EMFILE   ? "EMFILE"
                          : e == ENFILE ? "ENFILE"
                                        : "out of memory");
        }
        return;
    }
    c->server = s;
    c->sock = sock;
    c->metrics = metrics;
    h2o_linklist_init_anchor(&c->holds);
    c->last_request_ms = h2o_now(s->loop);
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = c;
    h2o_linklist_insert(&s->conns, &c->link);
    s->n_conns++;
    s->n_metrics += metrics;
    if (tls) {
        c->tls = c->handshaking = true;
        c->tls_ctx = tls_ssl_ctx(s->tls);
        SSL_CTX_up_ref(c->tls_ctx);
        h2o_socket_ssl_handshake(sock, c->tls_ctx, NULL, on_handshake);
    } else
        http1_accept(c);
    if (metrics && s->n_metrics >= SERVER_METRICS_CONNS_MAX)
        set_listening(s, true, false);
    else if (!metrics && public_conns(s) >= s->max_conns) {
        set_accepting(s, false);
        server_report(s, SERVER_EVENT_PAUSED_AT_CAP, "max-connections reached");
    }
}

/* --- the sweep: connections that make no progress --------------------------------------------- */

static void on_sweep(h2o_timeout_entry_t *entry) {
    Server *s = H2O_STRUCT_FROM_MEMBER(Server, sweep_entry, entry);
    uint64_t now = h2o_now(s->loop);
    h2o_linklist_t *node, *next;

    for (node = s->conns.next; node != &s->conns; node = next) {
        Conn *c = H2O_STRUCT_FROM_MEMBER(Conn, link, node);

        next = node->next;
        if (c->closing)
            continue;
        for (size_t i = 0; i < c->n_unfinished; i++)
            if (now - c->unfinished[i].since_ms >= s->idle_ms) {
                conn_abort(c, SERVER_EVENT_CLOSED_IDLE, "a request stream unfinished for idle-timeout");
                break;
            }
        if (c->closing || !h2o_linklist_is_empty(&c->holds) || now - c->last_request_ms < s->idle_ms)
            continue;
        /* Idle HTTP/1 readers are h2o's (its request timeout); stuck writers and HTTP/2 are ours. */
        if (c->handshaking)
            conn_abort(c, SERVER_EVENT_CLOSED_IDLE, "TLS handshake not done within idle-timeout");
        else if (c->http2 || h2o_socket_is_writing(c->sock))
            conn_abort(c, SERVER_EVENT_CLOSED_IDLE,
                       c->http2 ? "no request completed for idle-timeout" : "answers not drained for idle-timeout");
    }
    if (s->paused && public_conns(s) < s->max_conns)
        set_accepting(s, true);
    if (s->metrics_paused && s->n_metrics < SERVER_METRICS_CONNS_MAX)
        set_listening(s, true, true);
    h2o_timeout_link(s->loop, &s->sweep_timeout, &s->sweep_entry);
}

/* --- the memory budget: max-held-bytes for all connections ------------------------------------ */

/* Past max-held-bytes: the connections holding the most bytes of unfinished requests are
 * closed, one at a time, until what the others hold fits. Complete requests are not why:
 * they were admitted within the budget (server_hold). */
static void on_budget(h2o_timeout_entry_t *entry) {
    static const char why[] = "the most bytes of an unfinished request at max-held-bytes";
    Server *s = H2O_STRUCT_FROM_MEMBER(Server, budget_entry, entry);

    for (;;) {
        uint64_t doomed = 0; /* HTTP/2 connections closing: h2o frees them in a moment */
        Conn *most = NULL;
        h2o_linklist_t *node;

        for (node = s->conns.next; node != &s->conns; node = node->next) {
            Conn *c = H2O_STRUCT_FROM_MEMBER(Conn, link, node);

            if (c->closing)
                doomed += c->incomplete + c->complete;
            else if (c->incomplete > 0 && (!most || c->incomplete > most->incomplete))
                most = c;
        }
        if (s->held - doomed <= s->max_held || !most)
            return;
        if (most->http2)
            conn_abort(most, SERVER_EVENT_CLOSED_MEMORY, why);
        else {
            server_report(s, SERVER_EVENT_CLOSED_MEMORY, why);
            http1_close(most); /* now: what it held leaves s->held */
        }
    }
}

/* --- requests ------------------------------------------------------------------------------------ */

static ServerMethod method_of(const h2o_req_t *req) {
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return SERVER_GET;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return SERVER_POST;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return SERVER_HEAD;
    return SERVER_OTHER;
}

static struct timeval monotonic_timeval(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (struct timeval){ .tv_sec = ts.tv_sec, .tv_usec = ts.tv_nsec / 1000 };
}

/* The time from the complete request (on_req) to now, or -1 when it is not known. */
static int64_t duration_usec(const h2o_req_t *req) {
    struct timeval now = monotonic_timeval(), begin = req->timestamps.request_begin_at;
    int64_t usec = (int64_t)(now.tv_sec - begin.tv_sec) * 1000000 + (now.tv_usec - begin.tv_usec);

    return begin.tv_sec == 0 || usec < 0 ? -1 : usec;
}

/* The time from complete request to answer, into the histogram. */
static void observe_duration(Server *s, const h2o_req_t *req) {
    int64_t usec = duration_usec(req);
    size_t i = 0;

    if (usec < 0)
        return;
    while (i < SERVER_DURATION_BUCKETS && (uint64_t)usec > server_duration_bounds_usec[i])
        i++;
    s->stats.duration_counts[i]++;
    s->stats.duration_sum_usec += (uint64_t)usec;
}

/* A metrics listener serves GET (and HEAD) /metrics and nothing else. */
static void serve_metrics(Server *s, ServerRequest *r) {
    h2o_req_t *req = (h2o_req_t *)r;
    static const char not_found[] = "{\"success\":false,\"error\":\"not found: only /metrics is here\"}";

    if (s->cb.on_metrics && h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/metrics")) &&
        (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
         h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))))
        s->cb.on_metrics(r, s->cb.userdata);
    else
        server_send_text(r, 404, "application/json", not_found, sizeof(not_found) - 1);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    Server *s = ((ServerHandler *)self)->server;
    ServerRequest *r = (ServerRequest *)req;
    Conn *c = conn_of(req);
    ServerRequestInfo info;
    uint64_t *id;
    ssize_t ct;

    /* request_begin_at holds when the request was complete, on CLOCK_MONOTONIC, for the
     * duration histogram (h2o reads it only for access logs, which sqdiff has none of). */
    req->timestamps.request_begin_at = monotonic_timeval();
    if (c && c->metrics) {
        serve_metrics(s, r);
        return 0;
    }
    /* The request's id, for the front end and the access log, kept where h2o keeps a
     * request's variables for its handlers. */
    id = h2o_mem_alloc_pool(&req->pool, sizeof(*id));
    *id = server_next_id(s);
    h2o_vector_reserve(&req->pool, &req->env, req->env.size + 2);
    req->env.entries[req->env.size++] = h2o_iovec_init(H2O_STRLIT(ENV_REQUEST_ID));
    req->env.entries[req->env.size++] = h2o_iovec_init(id, sizeof(*id));
    if (c) {
        c->last_request_ms = h2o_now(s->loop);
        c->empty_frames = 0;
        if (c->http2) {
            c->body_bytes -= req->entity.len < c->body_bytes ? req->entity.len : c->body_bytes;
            http2_charge(c);
        }
    }
    if (req->version >= 0x200 && server_header_list_size(req) > SERVER_HEADER_LIST_MAX) {
        if (c)
            conn_abort(c, SERVER_EVENT_CLOSED_BUDGET, "header list over its budget");
        server_send_error(r, 431, "request header fields too large", NULL, NULL);
        return 0;
    }

    if (req->entity.base && req->entity.len > s->max_body) {
        char msg[SERVER_TOO_LARGE_MAX];

        server_too_large_message(s->max_body, msg);
        server_send_error(r, 413, msg, NULL, NULL);
        return 0;
    }

    info = (ServerRequestInfo){
        .method = method_of(req),
        .query = req->query_at == SIZE_MAX ? NULL : req->path.base + req->query_at + 1,
        .query_len = req->query_at == SIZE_MAX ? 0 : req->path.len - req->query_at - 1,
        .body = req->entity.base ? req->entity.base : "",
        .body_len = req->entity.len,
        .id = *id,
    };
    ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct >= 0) {
        info.content_type = req->headers.entries[ct].value.base;
        info.content_type_len = req->headers.entries[ct].value.len;
    }
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/"))) {
        server_send_error(r, 404, "not found: the only resource is /", NULL, NULL);
        return 0;
    }
    s->cb.on_request(r, &info, s->cb.userdata);
    return 0;
}

/* --- holding a request ------------------------------------------------------------------------ */

static void hold_unlink(Server *s, HoldMark *m) {
    h2o_linklist_unlink(&m->link);
    s->n_holds--;
    m->conn->complete -= m->bytes;
    s->held -= m->bytes;
    s->held_complete -= m->bytes;
}

/* The request is freed: answered, or (still linked) unanswered, the client gone. (Before the
 * socket closes, so its Conn still exists.) */
static void on_hold_dispose(void *p) {
    HoldMark *m = p;

    if (m->dispose)
        m->dispose(m->data);
    if (h2o_linklist_is_linked(&m->link))
        hold_unlink(H2O_STRUCT_FROM_MEMBER(Server, ctx, m->req->conn->ctx), m);
}

/* A held request counts as waiting (the sweep leaves its connection alone) until it is
 * answered, and holds its bytes of the memory budget: the caller's, the request's own and its
 * body's (HTTP/1.1: the connection's input buffer; HTTP/2: h2o's body buffer, which doubles).
 * Only complete requests can keep it out: the bytes of unfinished ones make room for it, their
 * connections closed by on_budget, so a client sending much cannot make others' requests fail. */
void *server_hold(ServerRequest *r, uint64_t bytes, size_t size, void (*dispose)(void *data), int *ret_error) {
    h2o_req_t *req = (h2o_req_t *)r;
    Server *s = H2O_STRUCT_FROM_MEMBER(Server, ctx, req->conn->ctx);
    Conn *c = conn_of(req);
    HoldMark *m;

    if (c) {
        bytes += SERVER_REQUEST_BYTES + (c->http2 ? 2 * (uint64_t)req->entity.len : conn_buffer_bytes(c->sock->input));
        if (s->held_complete + bytes > s->max_held) {
            *ret_error = -ENOBUFS;
            return NULL;
        }
    }
    if (size > SIZE_MAX - sizeof(*m) || !(m = h2o_mem_alloc_shared(&req->pool, sizeof(*m) + size, on_hold_dispose))) {
        *ret_error = -ENOMEM;
        return NULL;
    }
    memset(m, 0, sizeof(*m) + size);
    m->dispose = dispose;
    if (c) {
        m->req = req;
        m->conn = c;
        m->bytes = bytes;
        h2o_linklist_insert(&c->holds, &m->link);
        s->n_holds++;
        c->complete += bytes;
        s->held += bytes;
        s->held_complete += bytes;
        server_check_budget(s);
    }
    return m->data;
}

uint64_t server_held_bytes(Server *s) {
    return s->held;
}

/* A held request is being answered: from now on an answer that does not drain is the client's doing. */
static void release_hold(h2o_req_t *req) {
    Server *s = H2O_STRUCT_FROM_MEMBER(Server, ctx, req->conn->ctx);
    h2o_linklist_t *node;
    Conn *c;

    if (s->n_holds == 0 || !(c = conn_of(req)))
        return;
    for (node = c->holds.next; node != &c->holds; node = node->next) {
        HoldMark *m = H2O_STRUCT_FROM_MEMBER(HoldMark, link, node);

        if (m->req == req) {
            hold_unlink(s, m);
            return;
        }
    }
}

void *server_request_alloc(ServerRequest *r, size_t size) {
    h2o_req_t *req = (h2o_req_t *)r;
    void *p = h2o_mem_alloc_pool(&req->pool, size);

    if (p)
        memset(p, 0, size);
    return p;
}

/* --- answers -------------------------------------------------------------------------------------- */

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state) {
    JsonErrorStream *s = (JsonErrorStream *)self;
    json_object *o;
    const char *text;
    h2o_iovec_t out;

    for (size_t i = 0; i < bufcnt; i++) {
        size_t n = bufs[i].len < sizeof(s->text) - 1 - s->len ? bufs[i].len : sizeof(s->text) - 1 - s->len;
        memcpy(s->text + s->len, bufs[i].base, n);
        s->len += n;
    }
    if (state == H2O_SEND_STATE_IN_PROGRESS) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    s->text[s->len] = '\0';
    if (req->res.status == 413)
        server_too_large_message(s->max_body, s->text);

    o = json_object_new_object();
    if (!o) {
        static const char fallback[] = "{\"success\":false,\"error\":\"out of memory\"}";

        out = h2o_iovec_init(fallback, sizeof(fallback) - 1);
    } else {
        json_object_object_add(o, "success", json_object_new_boolean(0));
        json_object_object_add(o, "error", json_object_new_string(s->text));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        out = h2o_strdup(&req->pool, text, strlen(text));
        json_object_put(o);
    }
    req->res.content_length = out.len;
    h2o_ostream_send_next(self, req, &out, 1, state);
}

/* The id on_req gave req (kept in its env), or a new one for a request h2o answered itself. */
static uint64_t request_id(Server *s, h2o_req_t *req) {
    for (size_t i = 0; i + 1 < req->env.size; i += 2)
        if (h2o_memis(req->env.entries[i].base, req->env.entries[i].len, H2O_STRLIT(ENV_REQUEST_ID)) &&
            req->env.entries[i + 1].len == sizeof(uint64_t)) {
            uint64_t id;

            memcpy(&id, req->env.entries[i + 1].base, sizeof(id));
            return id;
        }
    return server_next_id(s);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
    ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    ssize_t ua = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
    Server *server = ((JsonErrorFilter *)self)->server;

    server_count_response(server,
                          &(ServerAnswer){
                              .id = server->scraping ? 0 : request_id(server, req),
                              .status = req->res.status,
                              .http2 = req->version >= 0x200,
                              .method = req->method.base ? req->method.base : "",
                              .method_len = req->method.len,
                              .target = req->path.base ? req->path.base : "",
                              .target_len = req->path.len,
                              .user_agent = ua >= 0 ? req->headers.entries[ua].value.base : "",
                              .user_agent_len = ua >= 0 ? req->headers.entries[ua].value.len : 0,
                              .bytes = req->res.content_length == SIZE_MAX ? UINT64_MAX : req->res.content_length,
                              .duration_usec = duration_usec(req),
                              .conn = conn_of(req),
                          });

    if (req->res.status >= 400 && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) &&
        !(ct >= 0 && h2o_memis(req->res.headers.entries[ct].value.base, req->res.headers.entries[ct].value.len,
                               H2O_STRLIT("application/json")))) {
        JsonErrorStream *s = (JsonErrorStream *)h2o_add_ostream(req, sizeof(*s), slot);

        s->super.do_send = json_error_send;
        s->len = 0;
        s->max_body = server->max_body;
        if (ct >= 0)
            req->res.headers.entries[ct].value = h2o_iovec_init(H2O_STRLIT("application/json"));
        else
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
        slot = &s->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

static void add_json_error_filter(h2o_pathconf_t *path, Server *s) {
    JsonErrorFilter *f = (JsonErrorFilter *)h2o_create_filter(path, sizeof(*f));

    f->super.on_setup_ostream = json_error_setup;
    f->server = s;
}

void server_send(ServerRequest *r, int status, const char *body, size_t len, const char *extra_header,
                 const char *extra_value) {
    static const char *const reasons[] = {
        [200] = "OK",
        [400] = "Bad Request",
        [404] = "Not Found",
        [405] = "Method Not Allowed",
        [413] = "Payload Too Large",
        [431] = "Request Header Fields Too Large",
        [500] = "Internal Server Error",
        [502] = "Bad Gateway",
        [503] = "Service Unavailable",
        [504] = "Gateway Timeout",
    };
    h2o_req_t *req = (h2o_req_t *)r;
    Server *s = H2O_STRUCT_FROM_MEMBER(Server, ctx, req->conn->ctx);

    release_hold(req);
    observe_duration(s, req);
    req->res.status = status;
    req->res.reason = status >= 0 && (size_t)status < ELEMENTSOF(reasons) && reasons[status] ? reasons[status] : "";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (extra_header)
        h2o_add_header_by_str(&req->pool, &req->res.headers, extra_header, strlen(extra_header), 1, NULL, extra_value,
                              strlen(extra_value));
    h2o_send_inline(req, body, len);
}

void server_send_text(ServerRequest *r, int status, const char *content_type, const char *body, size_t len) {
    h2o_req_t *req = (h2o_req_t *)r;
    Server *s = H2O_STRUCT_FROM_MEMBER(Server, ctx, req->conn->ctx);

    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : "Not Found";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    s->scraping = true; /* the answer passes the counting filter now: not a request to count */
    h2o_send_inline(req, body, len);
    s->scraping = false;
}

void server_send_error(ServerRequest *req, int status, const char *message, const char *extra_header,
                       const char *extra_value) {
    json_object *o = json_object_new_object();
    const char *text;

    if (!o) {
        static const char fallback[] = "{\"success\":false,\"error\":\"out of memory\"}";
        server_send(req, 500, fallback, sizeof(fallback) - 1, NULL, NULL);
        return;
    }
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(message));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    server_send(req, status, text, strlen(text), extra_header, extra_value);
    json_object_put(o);
}

/* --- set-up and tear-down ----------------------------------------------------------------------- */

int server_new(h2o_evloop_t *loop, const Config *c, const ServerListener *ls, size_t n_fds, const ServerCallbacks *cb,
               Server **ret) {
    _cleanup_(server_freep) Server *s = calloc(1, sizeof(*s));
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    ServerHandler *h;
    uint64_t sweep_ms;

    if (!s)
        return -ENOMEM;
    s->cb = *cb;
    s->loop = loop;
    {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts); /* ids start past every earlier run's: late replies match none */
        s->next_id = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
    }
    s->max_body = c->max_body_size;
    s->idle_ms = c->idle_timeout_usec / 1000;
    s->max_conns = c->max_connections;
    s->max_held = c->max_held_bytes;
    h2o_linklist_init_anchor(&s->conns);

    h2o_config_init(&s->globalconf);
    /* No Server: header: it tells an attacker what runs, and costs an sprintf per response. */
    s->globalconf.server_name = h2o_iovec_init("", 0);
    /* HTTP/2 only (HTTP/1 bodies are http1.c's): one byte more than the limit, so that
     * on_req() answers a body of max-body-size + 1 with the same JSON 413 as HTTP/1 does. */
    s->globalconf.max_request_entity_size = c->max_body_size + 1;
    s->globalconf.http1.req_timeout = s->idle_ms;
    s->globalconf.http2.idle_timeout = s->idle_ms;
    host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    h = (ServerHandler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;
    add_json_error_filter(path, s);
    add_json_error_filter(&host->fallback_path, s);

    h2o_context_init(&s->ctx, loop, &s->globalconf);
    s->context_ready = true;
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->globalconf.hosts;

    sweep_ms = s->idle_ms / 4;
    sweep_ms = sweep_ms < SWEEP_MIN_MS ? SWEEP_MIN_MS : sweep_ms > SWEEP_MAX_MS ? SWEEP_MAX_MS : sweep_ms;
    h2o_timeout_init(loop, &s->sweep_timeout, sweep_ms);
    s->sweep_entry.cb = on_sweep;
    s->sweeping = true;
    h2o_timeout_link(loop, &s->sweep_timeout, &s->sweep_entry);
    h2o_timeout_init(loop, &s->budget_timeout, 0);
    s->budget_entry.cb = on_budget;

    s->listeners = calloc(n_fds, sizeof(*s->listeners));
    s->listener_kinds = calloc(n_fds, sizeof(*s->listener_kinds));
    if ((!s->listeners || !s->listener_kinds) && n_fds > 0)
        return -ENOMEM;
    for (size_t i = 0; i < n_fds; i++) {
        int flags = fcntl(ls[i].fd, F_GETFL);
        if (flags < 0 || fcntl(ls[i].fd, F_SETFL, flags | O_NONBLOCK) < 0)
            return negative_errno();
        s->listener_kinds[i] = ls[i];
        s->listeners[i] = h2o_evloop_socket_create(loop, ls[i].fd, H2O_SOCKET_FLAG_DONT_READ);
        s->listeners[i]->data = s;
        h2o_socket_read_start(s->listeners[i], on_accept);
        s->n_listeners++;
    }

    *ret = TAKE_PTR(s);
    return 0;
}

void server_set_limits(Server *s, const Config *c) {
    s->max_body = c->max_body_size;
    s->globalconf.max_request_entity_size = c->max_body_size + 1;
    s->idle_ms = c->idle_timeout_usec / 1000;
    /* h2o's own timers of idle connections: every entry's expiry is computed from this value */
    s->ctx.http1.req_timeout.timeout = s->idle_ms;
    s->ctx.http2.idle_timeout.timeout = s->idle_ms;
    s->max_conns = c->max_connections;
    s->max_held = c->max_held_bytes;
    server_check_budget(s);
    if (!s->paused && public_conns(s) >= s->max_conns) {
        set_accepting(s, false);
        server_report(s, SERVER_EVENT_PAUSED_AT_CAP, "max-connections reached");
    } else if (s->paused && public_conns(s) < s->max_conns)
        set_accepting(s, true);
}

void server_set_tls(Server *s, Tls *t) {
    tls_free(s->tls);
    s->tls = t;
}

Tls *server_tls(Server *s) {
    return s->tls;
}

void server_stop_accepting(Server *s) {
    for (size_t i = 0; i < s->n_listeners; i++)
        h2o_socket_close(s->listeners[i]);
    s->n_listeners = 0;
    s->stopped = true;
    /* From now on every answer says Connection: close. An idle connection is not closed
     * here: its client may have sent a request we have not read yet, which deserves an
     * answer; the front end's stop waits a moment for such late ones (frontend.c). */
    h2o_context_request_shutdown(&s->ctx);
}

bool server_idle(Server *s) {
    return s->n_conns == 0;
}

size_t server_connections(Server *s) {
    return s->n_conns;
}

const ServerStats *server_stats(Server *s) {
    return &s->stats;
}

Server *server_free(Server *s) {
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n_listeners; i++)
        h2o_socket_close(s->listeners[i]);
    s->n_listeners = 0;
    s->stopped = true;
    if (s->sweeping) {
        h2o_timeout_unlink(&s->sweep_entry);
        h2o_timeout_dispose(s->loop, &s->sweep_timeout);
        if (h2o_timeout_is_linked(&s->budget_entry))
            h2o_timeout_unlink(&s->budget_entry);
        h2o_timeout_dispose(s->loop, &s->budget_timeout);
        s->sweeping = false;
    }
    /* h2o 2.2 cannot dispose a context that still has connections: then the process,
     * which is exiting, keeps it. */
    if (s->context_ready && !server_idle(s))
        return NULL;
    free(s->listeners);
    free(s->listener_kinds);
    tls_free(s->tls);
    if (s->context_ready) {
        if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&s->ctx);
    }
    h2o_config_dispose(&s->globalconf);
    free(s);
    return NULL;
}

int server_listen(const char *address, int *ret_fd) {
    struct sockaddr_storage ss = { 0 };
    const char *colon = strrchr(address, ':');
    char host[128];
    size_t hlen;
    char *end;
    long port;
    int fd, one = 1, family;

    if (!colon)
        return -EINVAL;
    port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 1 || port > 65535)
        return -EINVAL;
    hlen = (size_t)(colon - address);
    if (hlen >= sizeof(host))
        return -EINVAL;
    memcpy(host, address, hlen);
    host[hlen] = '\0';

    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -EINVAL;
        a->sin6_family = family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (hlen == 0)
            a->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -EINVAL;
        a->sin_family = family = AF_INET;
        a->sin_port = htons((uint16_t)port);
    }

    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return negative_errno();
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        bind(fd, (struct sockaddr *)&ss,
             family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}
