/* SPDX-License-Identifier: MIT */
/* What a connection, of either protocol, tells the server: its events and its answers (conn.h). */

#include "conn.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

uint64_t conn_buffer_bytes(const h2o_buffer_t *b) {
    return b && b->bytes ? b->capacity : 0;
}

void conn_hold_incomplete(Conn *c, uint64_t bytes) {
    Server *s = c->server;

    s->held = s->held - c->incomplete + bytes;
    c->incomplete = bytes;
    server_check_budget(s);
}

void server_check_budget(Server *s) {
    if (s->held > s->max_held && !h2o_timeout_is_linked(&s->budget_entry))
        h2o_timeout_link(s->loop, &s->budget_timeout, &s->budget_entry);
}

void server_report(Server *s, ServerEvent ev, const char *detail) {
    s->stats.events[ev]++;
    if (s->cb.on_event)
        s->cb.on_event(ev, detail, s->n_conns, s->cb.userdata);
}

void server_too_large_message(uint64_t max_body, char buf[static SERVER_TOO_LARGE_MAX]) {
    snprintf(buf, SERVER_TOO_LARGE_MAX, "request body too large: at most %" PRIu64 " bytes are accepted", max_body);
}

void server_count_response(Server *s, const ServerAnswer *a) {
    if (s->scraping)
        return;
    if (a->status >= 0 && a->status < SERVER_STATUS_MAX)
        s->stats.responses[a->http2 ? SERVER_PROTO_HTTP2 : SERVER_PROTO_HTTP1][a->status]++;
    if (s->cb.on_answer)
        s->cb.on_answer(a, s->cb.userdata);
}

size_t server_header_list_size(const h2o_req_t *req) {
    size_t n = req->input.method.len + req->input.path.len + req->input.authority.len + 3 * 32;

    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 32;
    return n;
}

uint64_t server_next_id(Server *s) {
    return ++s->next_id;
}

void server_answer_peer(const ServerAnswer *a, char *buf, size_t size) {
    const Conn *c = a->conn;
    struct sockaddr_storage sa = { 0 };
    char host[INET6_ADDRSTRLEN];
    socklen_t len = c ? h2o_socket_getpeername(c->sock, (struct sockaddr *)&sa) : 0;
    const void *addr = sa.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&sa)->sin6_addr
                                                : (const void *)&((struct sockaddr_in *)&sa)->sin_addr;
    unsigned port = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&sa)->sin_port);

    if (len == 0 || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6) ||
        !inet_ntop(sa.ss_family, addr, host, sizeof(host))) {
        snprintf(buf, size, "-");
        return;
    }
    snprintf(buf, size, sa.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}
