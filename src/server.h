/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The HTTP server around libh2o: HTTP/1.1 (keep-alive, pipelining) and HTTP/2
 * (prior knowledge), on listening sockets handed in (from systemd or
 * server_listen()). Every request goes to one handler; it answers with
 * server_send() / server_send_error() now or later, exactly once.
 */

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "macro.h"

typedef struct Server Server;
typedef void (*server_handler_fn)(h2o_req_t *req, void *userdata);

int server_new(h2o_evloop_t *loop, const Config *c, const int *fds, size_t n_fds, server_handler_fn handler,
               void *userdata, Server **ret);
Server *server_free(Server *s);
DEFINE_FREEP(Server, server_free)

/* Stops accepting (the listening sockets stay with whoever passed them) and closes idle connections. */
void server_stop_accepting(Server *s);

/* True when no client connection is open. */
bool server_idle(Server *s);

/* Creates a listening TCP socket for "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080"). */
int server_listen(const char *address, int *ret_fd);

/*
 * For a request that will be answered in a later pass of the loop: keeps its HTTP/1
 * connection polled meanwhile, so that waiting costs no epoll_ctl (see server.c).
 */
void server_hold_connection(h2o_req_t *req);

/* Answers with a JSON body (copied). extra_header/value may be NULL. */
void server_send(h2o_req_t *req, int status, const char *body, size_t len, const char *extra_header,
                 const char *extra_value);

/* Answers {"success":false,"error":message} (message escaped as JSON). */
void server_send_error(h2o_req_t *req, int status, const char *message, const char *extra_header,
                       const char *extra_value);
