/* SPDX-License-Identifier: MIT */
/* What a connection, of either protocol, tells the server: its events and its answers (conn.h). */

#include "conn.h"

#include <inttypes.h>
#include <stdio.h>

void server_report(Server *s, ServerEvent ev, const char *detail) {
    s->stats.events[ev]++;
    if (s->cb.on_event)
        s->cb.on_event(ev, detail, s->n_conns, s->cb.userdata);
}

void server_too_large_message(uint64_t max_body, char buf[static SERVER_TOO_LARGE_MAX]) {
    snprintf(buf, SERVER_TOO_LARGE_MAX, "request body too large: at most %" PRIu64 " bytes are accepted", max_body);
}

void server_count_response(Server *s, bool http2, int status) {
    if (s->scraping)
        return;
    if (status >= 0 && status < SERVER_STATUS_MAX)
        s->stats.responses[http2 ? SERVER_PROTO_HTTP2 : SERVER_PROTO_HTTP1][status]++;
    if (s->cb.on_answer)
        s->cb.on_answer(status, s->cb.userdata);
}
