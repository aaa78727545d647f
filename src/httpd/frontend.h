/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's request logic: routing, parsing, and answering either in
 * process (local mode) or by fanning the job out to the workers and keeping
 * the request pending until both replies are in (workers mode). A reaper on
 * an sd-event timer answers requests that waited too long with 504
 * {"success": false}; past max-pending, requests get 503 at once.
 *
 * frontend_shutdown() stops accepting, lets pending requests be answered and
 * then makes the loop exit with 0.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "macro.h"
#include "server.h"

typedef struct Frontend Frontend;

/* listeners: the public HTTP and HTTPS sockets and any metrics ones (served GET /metrics).
 * With tls-certificate set, its certificate is loaded (a failure is logged and returned). */
int frontend_new(Loop *loop, const Config *c, const ServerListener *listeners, size_t n_listeners, Frontend **ret);
Frontend *frontend_free(Frontend *f);
DEFINE_FREEP(Frontend, frontend_free)

void frontend_shutdown(Frontend *f);

/* The live settings of its configuration changed (a reload): limits, timeouts, the allow-list
 * and the HTTPS certificate read again (one refused is logged, and the one before stays). */
void frontend_reconfigure(Frontend *f);

/* True when no client connection is open. */
bool frontend_idle(Frontend *f);

/* Room for any frontend_status() line. */
#define FRONTEND_STATUS_MAX 512

/* One line for STATUS=: the pending count, connections, and the counters of stats.h. */
void frontend_status(Frontend *f, char *buf, size_t size);
