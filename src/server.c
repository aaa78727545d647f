/* SPDX-License-Identifier: MIT */
/* libh2o embedding: one host, one path ("/"), one handler. */

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
    uint64_t max_body;
} JsonErrorFilter;

struct Server {
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t **listeners;
    size_t n_listeners;
    server_handler_fn handler;
    void *userdata;
    bool context_ready;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    Server *s = ((ServerHandler *)self)->server;

    s->handler(req, s->userdata);
    return 0;
}

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
        snprintf(s->text, sizeof(s->text), "request body too large: at most %" PRIu64 " bytes are accepted",
                 s->max_body);

    o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(s->text));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    out = h2o_strdup(&req->pool, text, strlen(text));
    json_object_put(o);
    req->res.content_length = out.len;
    h2o_ostream_send_next(self, req, &out, 1, state);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
    ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);

    if (req->res.status >= 400 && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) &&
        !(ct >= 0 && h2o_memis(req->res.headers.entries[ct].value.base, req->res.headers.entries[ct].value.len,
                               H2O_STRLIT("application/json")))) {
        JsonErrorStream *s = (JsonErrorStream *)h2o_add_ostream(req, sizeof(*s), slot);

        s->super.do_send = json_error_send;
        s->len = 0;
        s->max_body = ((JsonErrorFilter *)self)->max_body;
        if (ct >= 0)
            req->res.headers.entries[ct].value = h2o_iovec_init(H2O_STRLIT("application/json"));
        else
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
        slot = &s->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

static void add_json_error_filter(h2o_pathconf_t *path, uint64_t max_body) {
    JsonErrorFilter *f = (JsonErrorFilter *)h2o_create_filter(path, sizeof(*f));

    f->super.on_setup_ostream = json_error_setup;
    f->max_body = max_body;
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    Server *s = listener->data;
    h2o_socket_t *sock;

    if (err)
        return;
    sock = h2o_evloop_socket_accept(listener);
    if (sock)
        h2o_accept(&s->accept_ctx, sock);
}

/*
 * h2o's HTTP/1 stops reading a connection while its request is handled, and h2o 2.2's
 * evloop then takes the socket out of epoll (EPOLL_CTL_DEL), to put it back (EPOLL_CTL_ADD)
 * once the answer is sent and reading resumes. For an answer within the same pass the two
 * cancel out; for one that waits for the workers they are two syscalls per request, a sixth
 * of the front end's CPU at 50 connections (perf). So while such a request waits, the
 * socket keeps reading into its input buffer, where h2o looks first when it resumes
 * reading (a pipelined request waits there). Bounded: once more than HOLD_INPUT_MAX bytes
 * are buffered (one read takes what the kernel holds, so a little more), or at end of
 * stream or an error, reading stops, which is what h2o would have done all along.
 */
#define HOLD_INPUT_MAX (64 * 1024)

static void hold_on_read(h2o_socket_t *sock, const char *err) {
    if (err || sock->input->size > HOLD_INPUT_MAX)
        h2o_socket_read_stop(sock);
}

void server_hold_connection(h2o_req_t *req) {
    h2o_socket_t *sock;

    /* Only HTTP/1: an HTTP/2 connection carries other streams and keeps reading anyway. */
    if (req->version >= 0x200 || !req->conn->callbacks->get_socket)
        return;
    sock = req->conn->callbacks->get_socket(req->conn);
    if (sock && !h2o_socket_is_reading(sock))
        h2o_socket_read_start(sock, hold_on_read);
}

int server_new(h2o_evloop_t *loop, const Config *c, const int *fds, size_t n_fds, server_handler_fn handler,
               void *userdata, Server **ret) {
    _cleanup_(server_freep) Server *s = calloc(1, sizeof(*s));
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    ServerHandler *h;
    uint64_t idle_ms = c->idle_timeout_usec / 1000;

    if (!s)
        return -ENOMEM;
    s->handler = handler;
    s->userdata = userdata;

    h2o_config_init(&s->globalconf);
    /* No Server: header: it tells an attacker what runs, and costs an sprintf per response. */
    s->globalconf.server_name = h2o_iovec_init("", 0);
    s->globalconf.max_request_entity_size = c->max_body_size;
    s->globalconf.http1.req_timeout = idle_ms;
    s->globalconf.http2.idle_timeout = idle_ms;
    host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    h = (ServerHandler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;
    add_json_error_filter(path, c->max_body_size);
    add_json_error_filter(&host->fallback_path, c->max_body_size);

    h2o_context_init(&s->ctx, loop, &s->globalconf);
    s->context_ready = true;
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->globalconf.hosts;

    s->listeners = calloc(n_fds, sizeof(*s->listeners));
    if (!s->listeners && n_fds > 0)
        return -ENOMEM;
    for (size_t i = 0; i < n_fds; i++) {
        int flags = fcntl(fds[i], F_GETFL);
        if (flags < 0 || fcntl(fds[i], F_SETFL, flags | O_NONBLOCK) < 0)
            return -errno;
        s->listeners[i] = h2o_evloop_socket_create(loop, fds[i], H2O_SOCKET_FLAG_DONT_READ);
        s->listeners[i]->data = s;
        h2o_socket_read_start(s->listeners[i], on_accept);
        s->n_listeners++;
    }

    *ret = TAKE_PTR(s);
    return 0;
}

void server_stop_accepting(Server *s) {
    for (size_t i = 0; i < s->n_listeners; i++)
        h2o_socket_close(s->listeners[i]);
    s->n_listeners = 0;
    h2o_context_request_shutdown(&s->ctx);
}

bool server_idle(Server *s) {
    return h2o_linklist_is_empty(&s->ctx.http1._conns) && h2o_linklist_is_empty(&s->ctx.http2._conns);
}

Server *server_free(Server *s) {
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n_listeners; i++)
        h2o_socket_close(s->listeners[i]);
    s->n_listeners = 0;
    /* h2o 2.2 cannot dispose a context that still has connections: then the process,
     * which is exiting, keeps it. */
    if (s->context_ready && !server_idle(s))
        return NULL;
    free(s->listeners);
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
        return -errno;
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

void server_send(h2o_req_t *req, int status, const char *body, size_t len, const char *extra_header,
                 const char *extra_value) {
    static const char *const reasons[] = {
        [200] = "OK", [400] = "Bad Request", [404] = "Not Found", [405] = "Method Not Allowed",
        [413] = "Payload Too Large", [500] = "Internal Server Error", [502] = "Bad Gateway",
        [503] = "Service Unavailable", [504] = "Gateway Timeout",
    };

    req->res.status = status;
    req->res.reason = status >= 0 && (size_t)status < ELEMENTSOF(reasons) && reasons[status] ? reasons[status] : "";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (extra_header)
        h2o_add_header_by_str(&req->pool, &req->res.headers, extra_header, strlen(extra_header), 1, NULL,
                              extra_value, strlen(extra_value));
    h2o_send_inline(req, body, len);
}

void server_send_error(h2o_req_t *req, int status, const char *message, const char *extra_header,
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
