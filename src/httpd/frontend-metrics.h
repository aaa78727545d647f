/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's /metrics page: what frontend.c, server.c and fanout.c count,
 * and the process_* figures Prometheus's client libraries export, named by
 * Prometheus's conventions (sqdiff_ prefix, base units, _total counters).
 * The counters are the ones STATUS= shows (stats.h, server.h); this module only
 * writes them. The workers' figures are peers-metrics.h's.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout.h"
#include "metrics.h"
#include "server.h"
#include "stats.h"

typedef struct FrontendMetricsInput {
    const char *mode;
    const Stats *stats; /* the STATUS= counters */
    size_t pending, connections;
    uint64_t max_connections, held_bytes, max_held_bytes; /* the budgets (server.h) */
    const ServerStats *server;
    const FanoutStats *fanout;          /* NULL in local mode */
    const Peers *peers[_WIRE_KIND_MAX]; /* the workers, with fanout */
    double start_time_seconds;          /* wall clock */
    uint64_t max_fds;
} FrontendMetricsInput;

/* Writes the page into m (see metrics.h for errors). */
void frontend_metrics_write(const FrontendMetricsInput *in, MetricsText *m);
